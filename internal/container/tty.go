package container

import (
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

// terminal is the controlling terminal while the runtime's process group
// owns its foreground. The container runs in a process group of its own,
// which the runtime makes the foreground group, so that Ctrl-C, Ctrl-\
// and Ctrl-Z reach the target once, straight from the terminal, and never
// a second time through the runtime.
type terminal struct {
	fd      int
	ownPgrp int
	saved   *unix.Termios
}

// foregroundTerminal returns the terminal on fd 0, 1 or 2 whose foreground
// process group is ours, or nil when the runtime runs in the background or
// without a terminal.
func foregroundTerminal() *terminal {
	own := unix.Getpgrp()
	for fd := 0; fd <= 2; fd++ {
		pgrp, err := unix.IoctlGetInt(fd, unix.TIOCGPGRP)
		if err != nil || pgrp != own {
			continue
		}
		saved, err := unix.IoctlGetTermios(fd, unix.TCGETS)
		if err != nil {
			continue
		}
		return &terminal{fd: fd, ownPgrp: own, saved: saved}
	}
	return nil
}

// foreground makes pgrp the terminal's foreground process group. The
// runtime may itself be in the background by then, so SIGTTOU, which the
// kernel would send it for this call, is ignored around it.
func (t *terminal) foreground(pgrp int) error {
	signal.Ignore(syscall.SIGTTOU)
	defer signal.Reset(syscall.SIGTTOU)
	return unix.IoctlSetPointerInt(t.fd, unix.TIOCSPGRP, pgrp)
}

// isForeground reports whether the runtime's own group owns the terminal,
// as after the shell's "fg".
func (t *terminal) isForeground() bool {
	pgrp, err := unix.IoctlGetInt(t.fd, unix.TIOCGPGRP)
	return err == nil && pgrp == t.ownPgrp
}

// restore gives the terminal back to the runtime's group and, when the
// target was killed before it could undo its own changes, the saved mode.
func (t *terminal) restore(restoreMode bool) {
	_ = t.foreground(t.ownPgrp)
	if restoreMode {
		_ = unix.IoctlSetTermios(t.fd, unix.TCSETSW, t.saved)
	}
}
