package container

import (
	"errors"
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/parkerpack/parker/internal/hostcheck"
)

// isolationEnv decides what happens when every namespace mode is refused:
// "strict" makes it a runtime failure, unset or "auto" runs the target
// with reduced isolation.
const isolationEnv = "PARKER_ISOLATION"

// parseIsolation reads isolationEnv and returns whether it is strict.
func parseIsolation(value string) (strict bool, err error) {
	switch value {
	case "", "auto":
		return false, nil
	case "strict":
		return true, nil
	}
	return false, fmt.Errorf("invalid %s=%q: want strict or auto", isolationEnv, value)
}

// attemptName describes a namespace mode in the notice that reports its
// refusal.
func attemptName(mode hostcheck.Isolation) string {
	if mode == hostcheck.IsolationUserNS {
		return "in a user namespace"
	}
	return "as root"
}

// forkExec is syscall.ForkExec, retried without CLONE_INTO_CGROUP when
// clone3, which that flag needs, fails with ENOSYS. Older seccomp profiles
// return ENOSYS for clone3 so that programs fall back to clone, which Go
// does not do by itself. The caller then joins the cgroup through
// cgroup.procs.
func forkExec(path string, argv []string, attr *syscall.ProcAttr) (int, error) {
	pid, err := syscall.ForkExec(path, argv, attr)
	if errors.Is(err, unix.ENOSYS) && attr.Sys != nil && attr.Sys.UseCgroupFD {
		attr.Sys.UseCgroupFD = false
		pid, err = syscall.ForkExec(path, argv, attr)
	}
	return pid, err
}

// dropCapabilities clears the calling thread's inheritable and ambient
// capability sets, which the init was given to mount in its user
// namespace, so that a child forked by this thread gains no capability
// when it executes an ordinary program, and none from a file's
// inheritable capabilities either. Permitted and effective sets stay.
func dropCapabilities() error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("reading capabilities: %w", err)
	}
	data[0].Inheritable, data[1].Inheritable = 0, 0
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("clearing inheritable capabilities: %w", err)
	}
	// The kernel keeps the ambient set within the inheritable one, so it
	// is empty by now. Clearing it again costs one call.
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return fmt.Errorf("clearing ambient capabilities: %w", err)
	}
	return nil
}
