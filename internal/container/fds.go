package container

import (
	"os"
	"sort"
	"strconv"

	"golang.org/x/sys/unix"
)

// inheritedFDs lists the descriptors above stderr that the caller passed
// in (those without close-on-exec: every descriptor Go opens itself has
// it). They are handed to the target at the same numbers, so socket
// activation and "3>file" redirections reach it as they would the bare
// program.
func inheritedFDs() []int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil
	}
	var fds []int
	for _, e := range entries {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd <= 2 {
			continue
		}
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if err != nil || flags&unix.FD_CLOEXEC != 0 {
			continue
		}
		fds = append(fds, fd)
	}
	sort.Ints(fds)
	return fds
}

// isOpen reports whether fd is an open descriptor.
func isOpen(fd int) bool {
	_, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	return err == nil
}

// closedFD marks a descriptor that the child must not have.
const closedFD = ^uintptr(0)

// childFiles builds the descriptor table of a child: 0-2 and the inherited
// descriptors at their own numbers (closed where not open), then extra at
// the next free numbers. It returns the table and the number of extra[0].
func childFiles(inherited []int, extra ...uintptr) ([]uintptr, int) {
	n := 3
	if len(inherited) > 0 {
		n = inherited[len(inherited)-1] + 1
	}
	files := make([]uintptr, n, n+len(extra))
	for fd := range files {
		files[fd] = closedFD
	}
	for fd := 0; fd <= 2; fd++ {
		if isOpen(fd) {
			files[fd] = uintptr(fd)
		}
	}
	for _, fd := range inherited {
		files[fd] = uintptr(fd)
	}
	return append(files, extra...), n
}
