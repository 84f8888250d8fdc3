package container

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/parkerpack/parker/internal/artifact"
	"github.com/parkerpack/parker/internal/hostcheck"
	"github.com/parkerpack/parker/internal/payload"
)

// Reduced isolation is how the runtime runs a target where the kernel or
// a security policy refuses every namespace. The payload is unpacked into
// a private directory and the target runs as the runtime's own child.
// The runtime, as child subreaper, takes the init's part. It reports the
// target's stops and end, forwards signals, and kills every descendant
// when the target ends. The target gets the host's /proc, and the host
// files beside the artifact are not visible to it.

// quietEnv silences the notice that isolation is reduced.
const quietEnv = "PARKER_QUIET"

// reducedRun is a target running with reduced isolation.
type reducedRun struct {
	log     *logger
	dir     *runDir
	target  int
	pidfd   int      // the target's pidfd, or -1 where the kernel has none
	control *os.File // read end of the supervisor's control pipe
	events  chan event
	done    chan initExit
}

// startReduced runs the target with reduced isolation, or fails when
// strict forbids it. reason is the refusal of each namespace mode.
func (s *supervisor) startReduced(reason string, strict bool, inCgroup *syscall.SysProcAttr) (<-chan event, <-chan initExit, error) {
	if strict {
		return nil, nil, failf(StatusRuntimeFailure, "namespaces unavailable (%s); not running with reduced isolation because %s=strict", reason, isolationEnv)
	}
	if os.Getenv(quietEnv) != "1" {
		s.log.noticef("namespaces unavailable (%s); running with reduced isolation", reason)
	}

	dir, err := newRunDir(hostcheck.TempDirCandidates(os.Getenv), s.log)
	if err != nil {
		return nil, nil, failf(StatusRuntimeFailure, "%w", err)
	}
	r := &reducedRun{log: s.log, dir: dir}
	events, done, err := r.start(s, inCgroup)
	if err != nil {
		r.dir.remove()
		return nil, nil, err
	}
	return events, done, nil
}

// start unpacks the payload, links the persistent paths and starts the
// target.
func (r *reducedRun) start(s *supervisor, inCgroup *syscall.SysProcAttr) (<-chan event, <-chan initExit, error) {
	if err := unpackInto(s.art, s.exePath, r.dir.path, r.log); err != nil {
		return nil, nil, err
	}
	artifactDir := filepath.Dir(s.exePath)
	if err := linkPersistent(&s.art.Header, artifactDir, r.dir.path); err != nil {
		return nil, nil, err
	}

	// Orphans of the target are reparented to the runtime instead of to
	// the host's init, so that none can escape the final kill.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return nil, nil, failf(StatusRuntimeFailure, "becoming child subreaper: %w", err)
	}

	targetPath := filepath.Join(r.dir.path, filepath.FromSlash(path.Clean(s.art.Header.Target)))
	files, _ := childFiles(s.inherited)
	sys := &syscall.SysProcAttr{
		Setpgid:     true,
		Pdeathsig:   syscall.SIGKILL,
		UseCgroupFD: inCgroup.UseCgroupFD,
		CgroupFD:    inCgroup.CgroupFD,
	}
	if s.term != nil {
		// The child takes the terminal before it executes the target, which
		// would otherwise be stopped by SIGTTIN or SIGTTOU if it used the
		// terminal before the runtime gave it the foreground.
		sys.Foreground = true
		sys.Ctty = s.term.fd
	}
	pid, err := forkExec(targetPath, append([]string{targetPath}, s.args[1:]...), &syscall.ProcAttr{
		Dir:   reducedCwd(artifactDir, r.dir.path),
		Env:   s.env,
		Files: files,
		Sys:   sys,
	})
	if err != nil {
		return nil, nil, failf(execStatus(err), "%s: %v", s.art.Header.Target, err)
	}
	r.target = pid
	s.initPid = pid
	// Only this process reaps the target, and not before the reaper starts
	// below, so the pid still names the target here.
	r.pidfd, err = unix.PidfdOpen(pid, 0)
	if err != nil {
		r.pidfd = -1
	}
	r.log.debugf("target %s started as pid %d with reduced isolation", targetPath, pid)

	if err := s.cg.join(pid); err != nil {
		_ = unix.Kill(pid, unix.SIGKILL)
		r.killDescendants()
		return nil, nil, failf(StatusRuntimeFailure, "%w", err)
	}
	controlR, controlW, err := os.Pipe()
	if err != nil {
		_ = unix.Kill(pid, unix.SIGKILL)
		r.killDescendants()
		return nil, nil, failf(StatusRuntimeFailure, "creating control pipe: %w", err)
	}
	s.control = lineWriter{controlW}
	r.control = controlR

	r.events = make(chan event, 16)
	r.done = make(chan initExit, 1)
	r.events <- event{Kind: eventStarted}
	go r.forwardControl()
	go r.reap()
	return r.events, r.done, nil
}

// unpackInto streams the artifact's payload into dir.
func unpackInto(art *artifact.Artifact, artifactPath, dir string, log *logger) error {
	h := &art.Header
	rd := payload.NewChunkReader(art.Payload(), h.Chunks, unpackWorkers())
	defer rd.Close()
	stats, err := payload.Unpack(rd, dir, payload.UnpackOptions{
		MaxBytes:   h.FileBytes,
		MaxEntries: h.Entries,
		Log:        log.debugf,
	})
	if err != nil {
		return unpackFailure(artifactPath, err)
	}
	log.debugf("unpacked %d entries, %d bytes into %s", stats.Entries, stats.Bytes, dir)
	return nil
}

// linkPersistent gives each persistent path the host's copy in the
// artifact's directory, seeded from the unpacked one if missing, and
// replaces the unpacked copy with a symbolic link to it: without a mount
// namespace the runtime cannot bind-mount.
func linkPersistent(h *artifact.Header, artifactDir, dir string) error {
	if len(h.Persist) == 0 {
		return nil
	}
	host, err := os.OpenRoot(artifactDir)
	if err != nil {
		return failf(StatusRuntimeFailure, "opening %s for persistent paths: %w", artifactDir, err)
	}
	defer host.Close()
	view, err := os.OpenRoot(dir)
	if err != nil {
		return failf(StatusRuntimeFailure, "opening %s: %w", dir, err)
	}
	defer view.Close()

	for _, rel := range h.Persist {
		if err := validPersistent(rel); err != nil {
			return failf(StatusRuntimeFailure, "%w", err)
		}
		if err := linkPersistentPath(host, view, artifactDir, rel); err != nil {
			return failf(StatusRuntimeFailure, "persistent path %q in %s: %w", rel, artifactDir, err)
		}
	}
	return nil
}

func linkPersistentPath(host, view *os.Root, artifactDir, rel string) error {
	if _, err := seedHostPath(host, view, rel); err != nil {
		return err
	}
	if err := view.RemoveAll(rel); err != nil {
		return err
	}
	if err := view.MkdirAll(path.Dir(rel), 0o755); err != nil {
		return err
	}
	return view.Symlink(filepath.Join(artifactDir, filepath.FromSlash(rel)), rel)
}

// reducedCwd returns the directory the target starts in: the caller's
// directory mapped into dir when it is the artifact's directory or below
// it and that path exists in dir, or "" to keep the caller's.
func reducedCwd(artifactDir, dir string) string {
	cwd, err := unix.Getwd()
	if err != nil {
		return ""
	}
	rel, err := filepath.Rel(artifactDir, cwd)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return ""
	}
	mapped := filepath.Join(dir, rel)
	if info, err := os.Stat(mapped); err != nil || !info.IsDir() {
		return ""
	}
	return mapped
}

// forwardControl delivers the signals the supervisor's loop passes on, as
// the init does in a container.
func (r *reducedRun) forwardControl() {
	in := newLineReader(r.control)
	for {
		var msg controlMessage
		if err := in.receive(&msg); err != nil {
			return
		}
		if msg.Signal <= 0 {
			continue
		}
		// Through the pidfd, a signal that arrives after the target was
		// reaped cannot reach a process that reused its pid.
		if r.pidfd >= 0 {
			_ = unix.PidfdSendSignal(r.pidfd, syscall.Signal(msg.Signal), nil, 0)
		} else {
			_ = unix.Kill(r.target, syscall.Signal(msg.Signal))
		}
	}
}

// reap waits for the target and for orphans reparented to the runtime,
// reports the target's stops, and once the target has ended kills every
// remaining descendant, removes the directory and reports the end.
func (r *reducedRun) reap() {
	ws, err := r.waitTarget()
	r.killDescendants()
	r.dir.remove()
	r.control.Close()
	if err == nil {
		ev := event{Kind: eventExited, Status: ws.ExitStatus()}
		if ws.Signaled() {
			ev = event{Kind: eventExited, Signal: int(ws.Signal())}
		}
		r.events <- ev
	}
	close(r.events)
	r.done <- initExit{status: ws, err: err}
}

func (r *reducedRun) waitTarget() (unix.WaitStatus, error) {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WUNTRACED, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return ws, fmt.Errorf("waiting for the target: %w", err)
		}
		if pid != r.target {
			continue
		}
		if ws.Stopped() {
			r.events <- event{Kind: eventStopped, Signal: int(ws.StopSignal())}
			continue
		}
		return ws, nil
	}
}
