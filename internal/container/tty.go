package container

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strconv"

	"golang.org/x/sys/unix"
)

// terminal is the runtime's controlling terminal. The container runs in a
// process group of its own, which holds the terminal's foreground whenever
// the runtime's own group would. Ctrl-C, Ctrl-\ and Ctrl-Z then reach the
// target once, straight from the terminal, and never a second time
// through the runtime, which is not in the foreground group.
type terminal struct {
	fd        int
	ownPgrp   int
	container int  // process group the terminal was passed on to, 0 before
	shared    bool // other commands of a pipeline are in the runtime's group
	saved     *unix.Termios
}

// foregroundTerminal returns the controlling terminal, or nil without
// one. It is found on fd 0, 1 or 2, or else through /dev/tty, which a
// target may open to prompt for a password while its standard streams are
// redirected. The runtime may be in the background now: the shell's "fg"
// gives it the terminal later.
//
// When the runtime shares its process group with other commands of a
// shell pipeline, the terminal stays with that group, because a pager
// reading the terminal after "TARGET-c |" would otherwise be stopped with
// SIGTTIN. The target gets the terminal only once it reads the terminal
// (see resumeInForeground).
func foregroundTerminal() *terminal {
	fd := controllingFD()
	if fd < 0 {
		return nil
	}
	saved, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil
	}
	own := unix.Getpgrp()
	return &terminal{fd: fd, ownPgrp: own, shared: inPipeline(own), saved: saved}
}

// controllingFD returns a descriptor of the controlling terminal, or -1.
func controllingFD() int {
	for fd := 0; fd <= 2; fd++ {
		// TIOCGPGRP fails with ENOTTY on a terminal that is not the
		// caller's controlling terminal.
		if _, err := unix.IoctlGetInt(fd, unix.TIOCGPGRP); err == nil {
			return fd
		}
	}
	// Kept open for the runtime's whole run; close-on-exec keeps it from
	// the init and the target.
	fd, err := unix.Open("/dev/tty", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1
	}
	return fd
}

// foreground passes the terminal on to pgrp, the container's group, when
// the runtime's own group holds it: at start in the foreground, and when
// the shell resumes the job with "fg". A runtime in the background leaves
// the terminal alone.
func (t *terminal) foreground(pgrp int) error {
	t.container = pgrp
	if t.shared || !t.heldBy(t.ownPgrp) {
		return nil
	}
	return t.setForeground(pgrp)
}

// heldBy reports whether pgrp is the terminal's foreground process group.
func (t *terminal) heldBy(pgrp int) bool {
	fg, err := unix.IoctlGetInt(t.fd, unix.TIOCGPGRP)
	return err == nil && fg == pgrp
}

// restore takes the terminal back from the container's group and, when
// the target was killed before it could undo its own changes, puts back
// the saved mode. A terminal that the shell holds (the runtime runs in
// the background) is left alone.
func (t *terminal) restore(restoreMode bool) {
	if !t.heldBy(t.ownPgrp) && (t.container == 0 || !t.heldBy(t.container)) {
		return
	}
	_ = t.setForeground(t.ownPgrp)
	if restoreMode {
		_ = withoutSIGTTOU(func() error { return unix.IoctlSetTermios(t.fd, unix.TCSETSW, t.saved) })
	}
}

// setForeground makes pgrp the terminal's foreground process group.
func (t *terminal) setForeground(pgrp int) error {
	return withoutSIGTTOU(func() error { return unix.IoctlSetPointerInt(t.fd, unix.TIOCSPGRP, pgrp) })
}

// withoutSIGTTOU runs a terminal call with SIGTTOU blocked on the calling
// thread. The runtime's group is not in the foreground while the container
// holds the terminal, and the kernel would stop it with SIGTTOU for such
// a call, or, as the runtime catches SIGTTOU to forward it, restart the
// call forever. Blocking works on this thread alone and leaves the
// signal forwarded when it comes from elsewhere, which os/signal's
// Ignore and Reset would not.
func withoutSIGTTOU(call func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var set, old unix.Sigset_t
	set.Val[(unix.SIGTTOU-1)/64] |= 1 << ((uint(unix.SIGTTOU) - 1) % 64)
	if err := unix.PthreadSigmask(unix.SIG_BLOCK, &set, &old); err != nil {
		return err
	}
	defer unix.PthreadSigmask(unix.SIG_SETMASK, &old, nil)
	return call()
}

// inPipeline reports whether pgrp, the runtime's process group, holds a
// process that is neither the runtime nor one of its ancestors: another
// command of the same shell pipeline. Ancestors in the group, such as
// make or a shell running the artifact from a script, are left out: they
// usually wait for it without reading the terminal.
//
// NOTE: a shell starts the commands of a pipeline one after another, so a
// command started after the runtime has looked is missed.
func inPipeline(pgrp int) bool {
	procs := processTable()
	self := os.Getpid()
	ancestors := map[int]bool{}
	for pid := procs[self].ppid; pid > 0 && !ancestors[pid]; pid = procs[pid].ppid {
		ancestors[pid] = true
	}
	for pid, p := range procs {
		if p.pgrp == pgrp && pid != self && !ancestors[pid] {
			return true
		}
	}
	return false
}

// procEntry is the part of /proc/PID/stat that inPipeline needs.
type procEntry struct{ ppid, pgrp int }

// processTable reads the parent and process group of every process
// visible in /proc. Processes that exit while it reads are left out.
func processTable() map[int]procEntry {
	procs := map[int]procEntry{}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return procs
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// The command name in parentheses may contain spaces and ")".
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		var state byte
		var p procEntry
		if _, err := fmt.Sscanf(string(b[i+1:]), " %c %d %d", &state, &p.ppid, &p.pgrp); err != nil {
			continue
		}
		procs[pid] = p
	}
	return procs
}
