package payload

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// UnpackOptions limits what Unpack extracts. A negative limit means no limit,
// and a limit of 0 allows none, so that a header recording no files or no
// entries admits none.
type UnpackOptions struct {
	MaxBytes   int64 // sum of regular file sizes
	MaxEntries int64 // tar entries plus parent directories that Unpack creates for them
	Log        func(format string, args ...any)
}

// NoLimit as UnpackOptions.MaxBytes or MaxEntries disables that limit.
const NoLimit = -1

// UnpackStats counts what Unpack extracted. Files counts regular files without
// hard links; Bytes is the sum of their sizes.
type UnpackStats struct {
	Entries, Files, Bytes int64
}

// copyBufferSize is the size of the buffer Unpack copies file content with.
const copyBufferSize = 256 << 10

// Unpack extracts a tar stream into dir through os.Root. It rejects names that
// are absolute, contain ".." or NUL, are empty or repeat an earlier name.
// Symlinks are created as links and never followed while writing: an entry
// below a symlink is rejected, and os.Root stops any escape through a symlink
// that already existed in dir. Hard links may only point to earlier regular
// files of the stream. Device nodes and FIFOs are rejected, and setuid, setgid
// and sticky bits are dropped and reported through Log. Regular-file bytes above
// opts.MaxBytes or entries above opts.MaxEntries are an error wrapping ErrLimit.
//
// Directories are created with mode 0700 and get their final mode after the
// last entry, so that a read-only directory still receives its contents. On
// error, dir is left partially filled and the caller removes it.
func Unpack(r io.Reader, dir string, opts UnpackOptions) (UnpackStats, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return UnpackStats{}, fmt.Errorf("unpacking: %w", err)
	}
	defer root.Close()
	u := &unpacker{
		root:  root,
		opts:  opts,
		rules: newArchiveRules(),
		buf:   make([]byte, copyBufferSize),
	}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return u.stats, fmt.Errorf("reading tar stream: %w", err)
		}
		if err := u.extract(h, tr); err != nil {
			return u.stats, err
		}
	}
	if err := checkEndOfStream(r); err != nil {
		return u.stats, err
	}
	return u.stats, u.setDirModes()
}

type unpacker struct {
	root    *os.Root
	opts    UnpackOptions
	rules   *archiveRules
	buf     []byte
	stats   UnpackStats
	created int64    // entries plus implicit parent directories
	dirs    []string // directories in creation order
	dirMode map[string]fs.FileMode
}

// extract creates the entry described by h, reading a regular file's content from tr.
func (u *unpacker) extract(h *tar.Header, tr io.Reader) error {
	e, err := u.rules.check(h)
	if err != nil {
		return err
	}
	if err := u.countEntry(e); err != nil {
		return err
	}
	for _, d := range e.newDirs {
		if err := u.mkdir(d, 0o755); err != nil {
			return err
		}
	}
	mode := u.dropSpecialBits(e)
	switch {
	case e.kind == kindDir && e.existed:
		u.dirMode[e.name] = mode.Perm()
		return nil
	case e.kind == kindDir:
		return u.mkdir(e.name, mode.Perm())
	case e.kind == kindSymlink:
		return wrapCreate(e.name, u.root.Symlink(e.link, e.name))
	case e.hardlink:
		return wrapCreate(e.name, u.root.Link(e.link, e.name))
	default:
		return u.writeFile(e, mode.Perm(), tr)
	}
}

// countEntry enforces MaxEntries and MaxBytes before anything is created.
func (u *unpacker) countEntry(e checkedEntry) error {
	u.stats.Entries++
	u.created += 1 + int64(len(e.newDirs))
	return checkLimits(u.opts, u.created, u.stats.Bytes, e)
}

// checkLimits returns an error wrapping ErrLimit when created entries, or
// the size of e added to total, the bytes of the files before it, exceed opts.
func checkLimits(opts UnpackOptions, created, total int64, e checkedEntry) error {
	if limit := opts.MaxEntries; limit >= 0 && created > limit {
		return fmt.Errorf("%w: more than %d entries", ErrLimit, limit)
	}
	if limit := opts.MaxBytes; limit >= 0 && e.size > limit-total {
		return fmt.Errorf("%w: %q (%d bytes) brings the total above %d bytes", ErrLimit, e.name, e.size, limit)
	}
	return nil
}

// dropSpecialBits clears setuid, setgid and sticky, reporting each through Log.
func (u *unpacker) dropSpecialBits(e checkedEntry) fs.FileMode {
	special := e.mode & (fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
	if special != 0 && u.opts.Log != nil {
		u.opts.Log("unpack: dropping %v bits of %q", specialBitsString(special), e.name)
	}
	return e.mode &^ special
}

func specialBitsString(m fs.FileMode) string {
	var s string
	for _, b := range []struct {
		bit  fs.FileMode
		name string
	}{{fs.ModeSetuid, "setuid"}, {fs.ModeSetgid, "setgid"}, {fs.ModeSticky, "sticky"}} {
		if m&b.bit != 0 {
			if s != "" {
				s += "+"
			}
			s += b.name
		}
	}
	return s
}

// mkdir creates a directory with mode 0700 and remembers perm as its final mode.
func (u *unpacker) mkdir(name string, perm fs.FileMode) error {
	if err := u.root.Mkdir(name, 0o700); err != nil {
		return wrapCreate(name, err)
	}
	if u.dirMode == nil {
		u.dirMode = make(map[string]fs.FileMode)
	}
	u.dirs = append(u.dirs, name)
	u.dirMode[name] = perm
	return nil
}

// writeFile creates a new regular file and copies exactly e.size bytes into it.
func (u *unpacker) writeFile(e checkedEntry, perm fs.FileMode, tr io.Reader) error {
	f, err := u.root.OpenFile(e.name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return wrapCreate(e.name, err)
	}
	// Hiding the ReaderFrom and WriterTo methods keeps io.CopyBuffer on u.buf and plain write calls.
	n, err := io.CopyBuffer(struct{ io.Writer }{f}, struct{ io.Reader }{tr}, u.buf)
	u.stats.Bytes += n
	if err == nil && n != e.size {
		err = fmt.Errorf("wrote %d bytes, want %d", n, e.size)
	}
	if err == nil {
		err = f.Chmod(perm)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("unpacking %q: %w", e.name, err)
	}
	u.stats.Files++
	return nil
}

// setDirModes applies the final directory modes, deepest directories first so
// that a directory without write or search permission is changed last.
func (u *unpacker) setDirModes() error {
	for i := len(u.dirs) - 1; i >= 0; i-- {
		name := u.dirs[i]
		if err := u.root.Chmod(name, u.dirMode[name]); err != nil {
			return fmt.Errorf("unpacking %q: setting mode: %w", name, err)
		}
	}
	return nil
}

func wrapCreate(name string, err error) error {
	if err != nil {
		return fmt.Errorf("unpacking %q: %w", name, err)
	}
	return nil
}
