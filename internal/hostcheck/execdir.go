package hostcheck

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// TempDirCandidates returns the directories that reduced isolation may
// unpack a payload into, in order of preference: $XDG_RUNTIME_DIR (private
// to the user, usually a tmpfs), $TMPDIR, /dev/shm, /tmp and /var/tmp.
// Unset or relative variables are left out. The artifact's own directory
// is never a candidate, because the runtime does not write there.
func TempDirCandidates(getenv func(string) string) []string {
	var dirs []string
	seen := make(map[string]bool)
	add := func(dir string) {
		if dir == "" || !filepath.IsAbs(dir) {
			return
		}
		dir = filepath.Clean(dir)
		if !seen[dir] {
			seen[dir] = true
			dirs = append(dirs, dir)
		}
	}
	add(getenv("XDG_RUNTIME_DIR"))
	add(getenv("TMPDIR"))
	for _, dir := range []string{"/dev/shm", "/tmp", "/var/tmp"} {
		add(dir)
	}
	return dirs
}

// ExecDirStatus is the result of CheckExecDir for one directory.
type ExecDirStatus struct {
	Path     string
	Exec     bool  // the filesystem is not mounted noexec
	Writable bool  // this process may create entries in Path
	Err      error // the reason Path could not be checked, or nil
}

// Usable reports whether an artifact could unpack and run a payload in
// the directory.
func (s ExecDirStatus) Usable() bool { return s.Err == nil && s.Exec && s.Writable }

func (s ExecDirStatus) String() string {
	switch {
	case s.Err != nil:
		return s.Err.Error()
	case !s.Exec:
		return "mounted noexec"
	case !s.Writable:
		return "exec allowed, not writable"
	}
	return "exec allowed, writable"
}

// CheckExecDir reads the mount flags of the filesystem holding dir and
// whether this process may write to dir.
func CheckExecDir(dir string) ExecDirStatus {
	s := ExecDirStatus{Path: dir}
	info, err := os.Stat(dir)
	if err != nil {
		s.Err = err
		return s
	}
	if !info.IsDir() {
		s.Err = fmt.Errorf("%s is not a directory", dir)
		return s
	}
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		s.Err = &os.PathError{Op: "statfs", Path: dir, Err: err}
		return s
	}
	s.Exec = st.Flags&unix.ST_NOEXEC == 0
	s.Writable = unix.Faccessat(unix.AT_FDCWD, dir, unix.W_OK|unix.X_OK, unix.AT_EACCESS) == nil
	return s
}
