package container

import (
	"os"
	"os/signal"
	"syscall"
)

// forwardedSignals lists every signal the runtime passes on: all catchable
// signals but a few. SIGCHLD is about the runtime's own child, and the Go
// runtime uses SIGURG to preempt goroutines. SIGPROF drives the Go
// profiler and never reaches os/signal.
func forwardedSignals() []os.Signal {
	var sigs []os.Signal
	for sig := syscall.Signal(1); sig <= 64; sig++ {
		switch sig {
		case syscall.SIGKILL, syscall.SIGSTOP, syscall.SIGCHLD, syscall.SIGURG, syscall.SIGPROF:
			continue
		case 32, 33, 34:
			// Kept by the C libraries for their threads (glibc 32 and 33,
			// musl 34). The Go runtime hands none of them to os/signal,
			// and 32 and 34 keep their default action: they end the
			// runtime as SIGKILL would.
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
