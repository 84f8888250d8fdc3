package container

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/parkerpack/parker/internal/hostcheck"
)

// runDirPrefix starts the name of every directory that reduced isolation
// unpacks into: parker-run-PID-RANDOM, PID being the runtime's.
const runDirPrefix = "parker-run-"

// runDir is the private directory of one run with reduced isolation. Its
// runtime holds an exclusive flock on it while it runs, so a later run
// that can take the lock may remove the directory.
type runDir struct {
	path string
	lock *os.File
	log  *logger
}

// newRunDir creates a directory of mode 0700 in the first of candidates
// whose filesystem allows executing files and that this user can write
// to, first removing what killed runtimes left there.
func newRunDir(candidates []string, log *logger) (*runDir, error) {
	var reasons []string
	for _, base := range candidates {
		status := hostcheck.CheckExecDir(base)
		if !status.Usable() {
			reasons = append(reasons, base+": "+status.String())
			continue
		}
		sweepRunDirs(base, log)
		d, err := createRunDir(base, log)
		if err != nil {
			reasons = append(reasons, err.Error())
			continue
		}
		return d, nil
	}
	return nil, fmt.Errorf("no directory to unpack into allows executing files (%s); set XDG_RUNTIME_DIR or TMPDIR to a writable directory on a filesystem without noexec", strings.Join(reasons, "; "))
}

func createRunDir(base string, log *logger) (*runDir, error) {
	path, err := os.MkdirTemp(base, runDirPrefix+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		return nil, err
	}
	lock, err := lockDir(path, 0)
	if err != nil {
		_ = os.Remove(path)
		return nil, err
	}
	log.debugf("unpacking into %s", path)
	return &runDir{path: path, lock: lock, log: log}, nil
}

// lockDir opens dir and takes an exclusive flock on it. flags may add
// LOCK_NB.
func lockDir(dir string, flags int) (*os.File, error) {
	f, err := os.OpenFile(dir, os.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|flags)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, &os.PathError{Op: "flock", Path: dir, Err: err}
	}
	return f, nil
}

// remove deletes the directory and everything the target left in it.
func (d *runDir) remove() {
	if d == nil || d.path == "" {
		return
	}
	if err := removeTree(d.path); err != nil {
		d.log.noticef("removing %s: %v", d.path, err)
	}
	d.lock.Close()
	d.path = ""
}

// removeTree is os.RemoveAll that first makes directories writable when a
// plain removal fails, as it does after the target made one read-only.
func removeTree(dir string) error {
	if err := os.RemoveAll(dir); err == nil {
		return nil
	}
	_ = filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err == nil && e.IsDir() {
			_ = os.Chmod(p, 0o700)
		}
		return nil
	})
	return os.RemoveAll(dir)
}

// sweepRunDirs removes directories of earlier runs in base that belong to
// this user and whose runtime is gone: its pid is not running, and no
// process holds the directory's lock. The pid check keeps a directory
// that a live runtime has created but not locked yet.
func sweepRunDirs(base string, log *logger) {
	entries, err := os.ReadDir(base)
	if err != nil {
		return
	}
	for _, e := range entries {
		pid, ok := runDirPid(e.Name())
		if !ok || !e.IsDir() || processAlive(pid) {
			continue
		}
		dir := filepath.Join(base, e.Name())
		info, err := os.Lstat(dir)
		if err != nil || info.Sys().(*syscall.Stat_t).Uid != uint32(os.Geteuid()) {
			continue
		}
		lock, err := lockDir(dir, unix.LOCK_NB)
		if err != nil {
			continue
		}
		if err := removeTree(dir); err != nil {
			log.debugf("removing stale %s: %v", dir, err)
		} else {
			log.debugf("removed stale %s", dir)
		}
		lock.Close()
	}
}

// runDirPid returns the pid in a name parker-run-PID-RANDOM.
func runDirPid(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, runDirPrefix)
	if !ok {
		return 0, false
	}
	digits, random, ok := strings.Cut(rest, "-")
	if !ok || random == "" {
		return 0, false
	}
	pid, err := strconv.Atoi(digits)
	if err != nil || pid <= 0 {
		return 0, false
	}
	return pid, true
}

// processAlive reports whether pid exists. EPERM means that it does and
// belongs to another user.
func processAlive(pid int) bool {
	err := unix.Kill(pid, 0)
	return err == nil || err == unix.EPERM
}
