package cache

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

var (
	// ErrMiss is returned by Lookup when the cache has no entry for a payload.
	ErrMiss = errors.New("cache: no entry")
	// ErrDamaged is returned by Lookup for an entry whose marker is missing or
	// does not match, or whose files do not match the marker's count.
	ErrDamaged = errors.New("cache: damaged entry")
)

// Names inside the cache root and inside each entry.
const (
	filesName  = "files"
	markerName = "complete"
	tempPrefix = ".tmp-" // entries being built
	oldPrefix  = ".old-" // damaged or pruned entries being removed
)

// Cache is an open cache root.
type Cache struct {
	root string
}

// Open creates root with mode 0700 (and its missing parents) and checks that
// it is a directory owned by the effective uid that no other user can write
// to: anyone who can plant an entry there chooses what an artifact runs.
func Open(root string) (*Cache, error) {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("cache: creating %s: %w", root, err)
	}
	if err := checkOwnedDir(root, os.Geteuid()); err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	fi, err := os.Lstat(root)
	if err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return nil, fmt.Errorf("cache: %s is writable by other users (mode %v)", root, fi.Mode().Perm())
	}
	return &Cache{root: root}, nil
}

// Root returns the cache's root directory.
func (c *Cache) Root() string { return c.root }

// Key returns the name of the entry for a payload SHA-256.
func Key(sum [32]byte) string { return hex.EncodeToString(sum[:]) }

func (c *Cache) entryPath(sum [32]byte) string { return filepath.Join(c.root, Key(sum)) }

// Entry is a complete cache entry in use by this process. It holds a
// shared lock on the entry's marker, which keeps Prune from removing the
// entry, until Release or the end of the process.
type Entry struct {
	Files string // directory of the unpacked payload
	fd    int    // the locked marker
}

// Release drops the entry's lock.
func (e *Entry) Release() error { return unix.Close(e.fd) }

// Lookup locks and checks the entry for sum, and sets its marker's
// modification time to now, which Prune reads as the time of last use. A
// missing entry wraps ErrMiss; one that fails the checks wraps
// ErrDamaged. It counts every name in the entry, so missing files are
// found, but it does not read file contents.
func (c *Cache) Lookup(sum [32]byte) (*Entry, error) {
	entry := c.entryPath(sum)
	marker := filepath.Join(entry, markerName)
	fd, err := openLocked(marker, unix.LOCK_SH)
	if errors.Is(err, fs.ErrNotExist) {
		if _, serr := os.Lstat(entry); errors.Is(serr, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w for %s", ErrMiss, Key(sum))
		}
		return nil, fmt.Errorf("%w: %s has no marker", ErrDamaged, entry)
	}
	if err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	e := &Entry{Files: filepath.Join(entry, filesName), fd: fd}
	if err := checkEntry(e, marker, sum); err != nil {
		e.Release()
		return nil, err
	}
	now := time.Now()
	if err := os.Chtimes(marker, now, now); err != nil {
		e.Release()
		return nil, fmt.Errorf("cache: marking %s used: %w", entry, err)
	}
	return e, nil
}

// checkEntry checks that e's locked marker is still the one at marker,
// which Prune may have moved away before the lock was taken, that it was
// written for sum, and that e.Files holds as many names as it says.
func checkEntry(e *Entry, marker string, sum [32]byte) error {
	entry := filepath.Dir(marker)
	var locked, current unix.Stat_t
	if err := unix.Fstat(e.fd, &locked); err != nil {
		return fmt.Errorf("cache: %w", &os.PathError{Op: "fstat", Path: marker, Err: err})
	}
	if err := unix.Stat(marker, &current); err != nil || locked.Ino != current.Ino || locked.Dev != current.Dev {
		return fmt.Errorf("%w for %s: removed while being opened", ErrMiss, filepath.Base(entry))
	}
	if locked.Size > maxMarkerSize {
		return fmt.Errorf("%w: %s: marker of %d bytes", ErrDamaged, entry, locked.Size)
	}
	b := make([]byte, locked.Size)
	if n, err := unix.Pread(e.fd, b, 0); err != nil || n != len(b) {
		return fmt.Errorf("%w: %s: reading marker: %v", ErrDamaged, entry, err)
	}
	want, err := parseMarker(b, sum)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrDamaged, entry, err)
	}
	got, err := countNames(e.Files)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrDamaged, entry, err)
	}
	if got != want {
		return fmt.Errorf("%w: %s contains %d names, its marker lists %d", ErrDamaged, entry, got, want)
	}
	return nil
}

// openLocked opens path for reading and locks it with flock(2) operation
// op, retrying when a signal interrupts the wait.
func openLocked(path string, op int) (int, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: path, Err: err}
	}
	for {
		err = unix.Flock(fd, op)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		unix.Close(fd)
		return -1, &os.PathError{Op: "flock", Path: path, Err: err}
	}
	return fd, nil
}

// Build creates the entry for sum: fill must create the directory it is
// given and put the payload's files in it. Build then writes the marker,
// flushes the filesystem and renames the entry into place. When another
// process published the entry first, Build discards its own copy and
// returns the other's; a damaged entry in the way is removed. It returns
// the published entry, locked as Lookup does.
func (c *Cache) Build(sum [32]byte, fill func(dir string) error) (*Entry, error) {
	tmp, err := os.MkdirTemp(c.root, tempPrefix+Key(sum)+"-")
	if err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	if err := c.fillTemp(tmp, sum, fill); err != nil {
		_ = removeAll(tmp)
		return nil, err
	}
	if err := c.publish(tmp, sum); err != nil {
		_ = removeAll(tmp)
		return nil, err
	}
	return c.Lookup(sum)
}

// fillTemp fills a temporary entry and writes its marker last. The
// filesystem is flushed before the marker is written, so that after a
// crash a marker never vouches for files that did not reach the disk.
func (c *Cache) fillTemp(tmp string, sum [32]byte, fill func(dir string) error) error {
	files := filepath.Join(tmp, filesName)
	if err := fill(files); err != nil {
		return err
	}
	n, err := countNames(files)
	if err != nil {
		return fmt.Errorf("cache: counting unpacked files: %w", err)
	}
	if err := syncFS(tmp); err != nil {
		return err
	}
	marker := filepath.Join(tmp, markerName)
	if err := writeSynced(marker, []byte(formatMarker(sum, n))); err != nil {
		return fmt.Errorf("cache: writing marker: %w", err)
	}
	return nil
}

// publish renames tmp to the entry's name. If a complete entry is there
// already, tmp is discarded; if a damaged one is, it is moved away first.
func (c *Cache) publish(tmp string, sum [32]byte) error {
	entry := c.entryPath(sum)
	err := os.Rename(tmp, entry)
	if err == nil {
		return syncFS(c.root)
	}
	if !errors.Is(err, syscall.ENOTEMPTY) && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("cache: %w", err)
	}
	if e, lerr := c.Lookup(sum); lerr == nil {
		e.Release()
		return removeAll(tmp)
	}
	if err := c.retire(entry); err != nil {
		return err
	}
	if err := os.Rename(tmp, entry); err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	return syncFS(c.root)
}

// retire renames an entry out of the way and removes it. A rename that
// finds nothing means another process retired it already.
func (c *Cache) retire(entry string) error {
	old := filepath.Join(c.root, oldPrefix+filepath.Base(entry)+"-"+fmt.Sprint(os.Getpid()))
	if err := os.Rename(entry, old); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("cache: moving away %s: %w", entry, err)
	}
	if err := removeAll(old); err != nil {
		return fmt.Errorf("cache: removing %s: %w", old, err)
	}
	return nil
}

const markerFormat = "parker cache entry\nsha256 %s\nnames %d\n"

// maxMarkerSize is more than any marker written by formatMarker.
const maxMarkerSize = 256

func formatMarker(sum [32]byte, names int64) string {
	return fmt.Sprintf(markerFormat, Key(sum), names)
}

// parseMarker returns the name count of a marker written for sum.
func parseMarker(b []byte, sum [32]byte) (int64, error) {
	var key string
	var n int64
	if _, err := fmt.Sscanf(string(b), markerFormat, &key, &n); err != nil {
		return 0, fmt.Errorf("invalid marker: %v", err)
	}
	if key != Key(sum) {
		return 0, fmt.Errorf("marker names payload %s", key)
	}
	if string(b) != formatMarker(sum, n) {
		return 0, errors.New("invalid marker")
	}
	return n, nil
}

// countNames counts every name below dir, not following symbolic links.
// Entry types come from getdents, so no name is stat()ed.
func countNames(dir string) (int64, error) {
	f, err := os.Open(dir)
	if err != nil {
		return 0, err
	}
	entries, err := f.ReadDir(-1)
	f.Close()
	if err != nil {
		return 0, err
	}
	n := int64(len(entries))
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		k, err := countNames(filepath.Join(dir, e.Name()))
		if err != nil {
			return 0, err
		}
		n += k
	}
	return n, nil
}

// syncFS flushes the filesystem that holds path.
func syncFS(path string) error {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("cache: %w", &os.PathError{Op: "open", Path: path, Err: err})
	}
	defer unix.Close(fd)
	if err := unix.Syncfs(fd); err != nil {
		return fmt.Errorf("cache: %w", &os.PathError{Op: "syncfs", Path: path, Err: err})
	}
	return nil
}

func writeSynced(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// isKey reports whether name is an entry name: 64 lowercase hex digits.
func isKey(name string) bool {
	if len(name) != 64 {
		return false
	}
	return strings.Trim(name, "0123456789abcdef") == ""
}
