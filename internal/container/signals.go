package container

import (
	"os"
	"os/signal"
	"syscall"
)

// forwardedSignals lists every signal the runtime passes on: all catchable
// signals except SIGCHLD, which is about the runtime's own child, and
// SIGURG, which the Go runtime uses to preempt goroutines.
func forwardedSignals() []os.Signal {
	var sigs []os.Signal
	for sig := syscall.Signal(1); sig <= 64; sig++ {
		switch sig {
		case syscall.SIGKILL, syscall.SIGSTOP, syscall.SIGCHLD, syscall.SIGURG:
			continue
		case 32, 33:
			// Reserved by the C library for its threads; not real signals.
			continue
		}
		// A signal the caller left ignored (nohup, "&" in a script) stays
		// ignored, so the target inherits it as it would from a shell.
		if signal.Ignored(sig) {
			continue
		}
		sigs = append(sigs, sig)
	}
	return sigs
}
