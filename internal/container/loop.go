package container

import (
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// result is the target's end status, or the reason the runtime could not run it.
type result struct {
	status int
	signal int
	err    error
}

// loop forwards signals to the target and follows its state until the
// init has exited.
func (s *supervisor) loop(sigs <-chan os.Signal, events <-chan event, done <-chan initExit) result {
	var res *result
	for {
		select {
		case sig := <-sigs:
			s.handleSignal(sig.(syscall.Signal))

		case ev, ok := <-events:
			if !ok {
				// The init has exited or is exiting: a signal passed on
				// now would only fail to write to the control pipe and
				// raise SIGPIPE, itself a forwarded signal.
				events, sigs = nil, nil
				continue
			}
			if r := s.handleEvent(ev); r != nil {
				res = r
			}

		case ex := <-done:
			// The init closed its end of the status pipe when it exited, so
			// the remaining events are all buffered by now.
			if events != nil {
				for ev := range events {
					if r := s.handleEvent(ev); r != nil {
						res = r
					}
				}
			}
			if res != nil {
				return *res
			}
			return initDied(ex)
		}
	}
}

func (s *supervisor) handleEvent(ev event) *result {
	switch ev.Kind {
	case eventStarted:
		s.log.debugf("target started")
	case eventStopped:
		if s.resumeInForeground(syscall.Signal(ev.Signal)) {
			return nil
		}
		s.log.debugf("target stopped by signal %d; stopping too", ev.Signal)
		s.selfStopped = true
		stopSelf(syscall.Signal(ev.Signal))
	case eventExited:
		return &result{status: ev.Status, signal: ev.Signal}
	case eventFailed:
		return &result{err: failf(ev.Status, "%s", ev.Message)}
	}
	return nil
}

// resumeInForeground handles a target stopped for using the terminal from
// the background (SIGTTIN, SIGTTOU) while the runtime's own group holds
// the terminal. That happens after the shell's "fg" on a job that was
// running in the background, which gives the job the terminal without
// sending SIGCONT, and in a pipeline, where the terminal stays with the
// runtime's group until the target first reads it. The runtime
// passes the terminal on now and continues the container, rather than
// stopping a job that is in the foreground.
func (s *supervisor) resumeInForeground(sig syscall.Signal) bool {
	if sig != syscall.SIGTTIN && sig != syscall.SIGTTOU {
		return false
	}
	if s.term == nil || !s.term.heldBy(s.term.ownPgrp) {
		return false
	}
	if err := s.term.setForeground(s.initPid); err != nil {
		s.log.debugf("cannot give the terminal to the container: %v", err)
		return false
	}
	s.log.debugf("target stopped by signal %d in the foreground; continuing it with the terminal", sig)
	_ = unix.Kill(-s.initPid, syscall.SIGCONT)
	return true
}

// initDied reports an init that ended without telling how the target
// ended. A limit enforced by the kernel (the OOM killer, say) can kill the
// init with the target; that is reported like the target's own death.
func initDied(ex initExit) result {
	if ex.err != nil {
		return result{err: failf(StatusRuntimeFailure, "waiting for the container's init: %w", ex.err)}
	}
	if ex.status.Signaled() {
		return result{signal: int(ex.status.Signal())}
	}
	return result{err: failf(StatusRuntimeFailure, "the container's init exited with status %d before the target ended", ex.status.ExitStatus())}
}

// handleSignal passes a signal to the target. SIGCONT first passes the
// terminal on to the container if the shell just gave it to the runtime's
// group ("fg" rather than "bg"). After the runtime stopped itself along
// with the target, SIGCONT resumes the whole container group, because
// other processes there may have stopped too. Otherwise SIGCONT goes to
// the target alone, as any other signal does.
func (s *supervisor) handleSignal(sig syscall.Signal) {
	if sig == syscall.SIGCONT && s.term != nil {
		if err := s.term.foreground(s.initPid); err != nil {
			s.log.debugf("cannot give the terminal to the container: %v", err)
		}
	}
	if sig == syscall.SIGCONT && s.selfStopped {
		s.selfStopped = false
		s.log.debugf("continuing the container")
		_ = unix.Kill(-s.initPid, syscall.SIGCONT)
		return
	}
	s.log.debugf("forwarding signal %d", sig)
	if err := s.control.send(controlMessage{Signal: int(sig)}); err != nil {
		s.log.debugf("forwarding signal %d: %v", sig, err)
	}
}

// stopSelf stops this process with sig's default action, so that a shell
// waiting for it reports the job as stopped, then restores the Go handler once the
// process continues.
func stopSelf(sig syscall.Signal) {
	if sig == syscall.SIGSTOP {
		_ = unix.Tgkill(os.Getpid(), unix.Gettid(), sig)
		return
	}
	var old kernelSigaction
	dfl := kernelSigaction{}
	_, _, errno := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafe.Pointer(&dfl)), uintptr(unsafe.Pointer(&old)), 8, 0, 0)
	if errno != 0 {
		_ = unix.Tgkill(os.Getpid(), unix.Gettid(), syscall.SIGSTOP)
		return
	}
	var set unix.Sigset_t
	set.Val[(int(sig)-1)/64] |= 1 << ((uint(sig) - 1) % 64)
	_ = unix.PthreadSigmask(unix.SIG_UNBLOCK, &set, nil)

	// A thread-directed signal is acted on before this system call returns,
	// so the process is stopped and continued again by the next line.
	_ = unix.Tgkill(os.Getpid(), unix.Gettid(), sig)
	_, _, _ = unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafe.Pointer(&old)), 0, 8, 0, 0)
}
