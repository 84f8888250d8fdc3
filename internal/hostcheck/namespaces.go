// Package hostcheck finds out what this host lets an artifact do: create
// namespaces as root or in a user namespace, use cgroups and overlayfs,
// and execute files in its temporary directories. The runtime uses the
// same clone attributes and refusal rules as the probes here, so the
// report of "parker --check-host" matches what an artifact does.
package hostcheck

import (
	"errors"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// Isolation is the way the runtime isolates a target.
type Isolation int

const (
	// IsolationRoot uses new mount and pid namespaces created with the
	// caller's own privileges, which needs CAP_SYS_ADMIN.
	IsolationRoot Isolation = iota + 1
	// IsolationUserNS creates the mount and pid namespaces inside a new
	// user namespace that maps the caller's uid and gid to themselves.
	IsolationUserNS
	// IsolationReduced creates no namespaces: the payload is unpacked into
	// a private directory and the target runs as an ordinary child.
	IsolationReduced
)

func (i Isolation) String() string {
	switch i {
	case IsolationRoot:
		return "namespaces as root"
	case IsolationUserNS:
		return "user namespace"
	case IsolationReduced:
		return "reduced isolation"
	}
	return "unknown isolation"
}

// Attempts returns the namespace modes the runtime tries, in order, for a
// process with effective uid euid. Root without CAP_SYS_ADMIN, as in many
// containers, may still create a user namespace, so root tries both.
func Attempts(euid int) []Isolation {
	if euid == 0 {
		return []Isolation{IsolationRoot, IsolationUserNS}
	}
	return []Isolation{IsolationUserNS}
}

// NamespaceAttr returns the clone attributes that start the container's
// init in mode, IsolationRoot or IsolationUserNS. The mount namespace is
// unshared by the child before it executes anything, and Go then makes
// "/" private there: a policy that lets a user namespace be created but
// denies its capabilities (as AppArmor's
// kernel.apparmor_restrict_unprivileged_userns does) therefore fails the
// fork itself instead of the init's first mount.
//
// NOTE: the AppArmor case follows from how that policy denies
// capabilities; the tests cover seccomp and sysctl refusals, not AppArmor.
func NamespaceAttr(mode Isolation) *syscall.SysProcAttr {
	sys := &syscall.SysProcAttr{
		Cloneflags:   unix.CLONE_NEWPID,
		Unshareflags: unix.CLONE_NEWNS,
	}
	if mode != IsolationUserNS {
		return sys
	}
	uid, gid := os.Getuid(), os.Getgid()
	sys.Cloneflags |= unix.CLONE_NEWUSER
	sys.UidMappings = []syscall.SysProcIDMap{{ContainerID: uid, HostID: uid, Size: 1}}
	sys.GidMappings = []syscall.SysProcIDMap{{ContainerID: gid, HostID: gid, Size: 1}}
	// The init is not root in its user namespace, so it needs these as
	// ambient capabilities: CAP_SYS_ADMIN to mount, and CAP_DAC_OVERRIDE
	// because overlayfs creates its work directory with mode 0 and then
	// enters it with the mounter's credentials.
	sys.AmbientCaps = []uintptr{unix.CAP_SYS_ADMIN, unix.CAP_DAC_OVERRIDE}
	return sys
}

// Refused reports whether err, from starting a child with NamespaceAttr,
// means that the kernel or a security policy refused the namespaces. The
// errors are EPERM (no capability, seccomp, an LSM), EACCES (uid map
// denied), EINVAL (a kernel without user namespaces), ENOSPC
// (max_user_namespaces reached or zero), EUSERS (the nesting limit of
// older kernels) and ENOSYS (a filtered system call).
func Refused(err error) bool {
	for _, errno := range []syscall.Errno{unix.EPERM, unix.EACCES, unix.EINVAL, unix.ENOSPC, unix.EUSERS, unix.ENOSYS} {
		if errors.Is(err, errno) {
			return true
		}
	}
	return false
}

// probePath cannot be executed on any system: /dev/null is not a
// directory, so execve fails with ENOTDIR once every namespace step that
// precedes it has succeeded.
const probePath = "/dev/null/parker-namespace-probe"

// ProbeNamespaces forks a child with NamespaceAttr(mode) whose execve
// fails on purpose. It returns nil when the namespaces were created, and
// otherwise the error of the step that failed.
func ProbeNamespaces(mode Isolation) error {
	_, err := syscall.ForkExec(probePath, []string{probePath}, &syscall.ProcAttr{Sys: NamespaceAttr(mode)})
	if errors.Is(err, unix.ENOTDIR) {
		return nil
	}
	if err == nil {
		return errors.New("hostcheck: namespace probe executed " + probePath)
	}
	return err
}
