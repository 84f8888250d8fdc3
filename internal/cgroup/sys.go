package cgroup

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// The helpers below retry EINTR and return *os.PathError or *os.SyscallError,
// so callers can test the errno with errors.Is(err, unix.EPERM).

func ignoringEINTR(call func() error) error {
	for {
		err := call()
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

func mkdir(path string) error {
	err := ignoringEINTR(func() error { return unix.Mkdir(path, 0o755) })
	if err != nil {
		return &os.PathError{Op: "mkdir", Path: path, Err: err}
	}
	return nil
}

func rmdir(path string) error {
	err := ignoringEINTR(func() error { return unix.Rmdir(path) })
	if err != nil {
		return &os.PathError{Op: "rmdir", Path: path, Err: err}
	}
	return nil
}

// openPath returns an O_PATH descriptor of the directory at path.
func openPath(path string) (int, error) {
	var fd int
	err := ignoringEINTR(func() error {
		var err error
		fd, err = unix.Open(path, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		return err
	})
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return fd, nil
}

// writeFile writes value to an existing cgroupfs control file in one write(2).
// Unlike os.WriteFile it neither creates nor truncates the file, and the
// kernel's verdict on the value comes back as the write's errno.
func writeFile(path, value string) error {
	var fd int
	err := ignoringEINTR(func() error {
		var err error
		fd, err = unix.Open(path, unix.O_WRONLY|unix.O_CLOEXEC, 0)
		return err
	})
	if err != nil {
		return &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)

	var n int
	err = ignoringEINTR(func() error {
		var err error
		n, err = unix.Write(fd, []byte(value))
		return err
	})
	if err != nil {
		return &os.PathError{Op: "write", Path: path, Err: err}
	}
	if n != len(value) {
		return &os.PathError{Op: "write", Path: path, Err: io.ErrShortWrite}
	}
	return nil
}

// signal sends sig to pid. A process that is already gone is not an error.
func signal(pid int, sig unix.Signal) error {
	err := ignoringEINTR(func() error { return unix.Kill(pid, sig) })
	if err == nil || errors.Is(err, unix.ESRCH) {
		return nil
	}
	return fmt.Errorf("signalling pid %d: %w", pid, os.NewSyscallError("kill", err))
}

// processExists reports whether pid names a process, including a zombie,
// in this process's pid namespace.
func processExists(pid int) bool {
	err := unix.Kill(pid, 0)
	return !errors.Is(err, unix.ESRCH)
}
