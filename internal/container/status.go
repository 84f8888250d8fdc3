package container

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Exit statuses of the runtime itself. Any other status is the target's.
const (
	StatusRuntimeFailure = 125 // the runtime could not run the target
	StatusNotExecutable  = 126 // the target exists but cannot be executed
	StatusNotFound       = 127 // the target or its interpreter does not exist
)

// Failure is a runtime failure with the exit status it maps to.
type Failure struct {
	Status int
	Err    error
}

func (f *Failure) Error() string { return f.Err.Error() }
func (f *Failure) Unwrap() error { return f.Err }

func failf(status int, format string, args ...any) *Failure {
	return &Failure{Status: status, Err: fmt.Errorf(format, args...)}
}

// execStatus maps an execve error to the shell's conventions.
func execStatus(err error) int {
	switch {
	case errors.Is(err, unix.ENOENT), errors.Is(err, unix.ENOTDIR):
		return StatusNotFound
	default:
		return StatusNotExecutable
	}
}

// kernelSigaction is struct sigaction as the rt_sigaction system call takes
// it on linux/amd64 and linux/arm64.
type kernelSigaction struct {
	handler  uintptr
	flags    uint64
	restorer uintptr
	mask     uint64
}

// dieBySignal makes this process end as if killed by sig, so that the
// caller's wait status shows the target's signal. Core dumps are turned off
// first: the target may have dumped core, but the runtime has nothing worth
// dumping. Returns only if the signal did not end the process.
func dieBySignal(sig syscall.Signal) {
	_ = unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{})

	// Go's own handler would print a goroutine dump for SIGQUIT and exit 2
	// for others, so the disposition is reset with the raw system call.
	act := kernelSigaction{handler: 0} // SIG_DFL
	_, _, _ = unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafe.Pointer(&act)), 0, 8, 0, 0)

	var set unix.Sigset_t
	set.Val[(int(sig)-1)/64] |= 1 << ((uint(sig) - 1) % 64)
	_ = unix.PthreadSigmask(unix.SIG_UNBLOCK, &set, nil)
	_ = unix.Tgkill(os.Getpid(), unix.Gettid(), sig)

	// A signal whose default action is to ignore, or one the kernel has not
	// delivered yet, leaves the process running for a moment.
	time.Sleep(100 * time.Millisecond)
}
