package payload

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"syscall"
	"time"
)

// Entry is one item to pack. Path is slash-separated, relative, clean, no leading "./".
type Entry struct {
	Path    string
	Mode    fs.FileMode // type bits (dir, symlink, regular) + permission bits incl. setuid/setgid/sticky
	Size    int64       // regular files
	Link    string      // symlink target, verbatim
	Source  string      // host path to read regular file content from
	ModTime time.Time   // as stat()ed at collection time, used only to detect a file changing while packed
}

// TarOptions sets what WriteTar writes in place of per-file metadata.
type TarOptions struct {
	ModTime time.Time // every entry's mtime, truncated to seconds; zero means the Unix epoch
}

// TarStats counts what WriteTar wrote. TarBytes is the length of the tar stream.
type TarStats struct {
	Entries   int64
	FileBytes int64
	TarBytes  int64
}

// WriteTar writes entries in the given order (caller sorts). It fails, naming the path, if a regular
// file's size or mtime changed between collection and reading ("changed while packing").
//
// The stream depends only on the entries, the file contents and opts. Every
// header has uid and gid 0, empty user and group names and opts.ModTime as its
// mtime. A header uses the USTAR format unless a long or non-ASCII name, a size
// of 8 GiB or more, or the mtime needs PAX records. An Entry whose ModTime is
// zero is not checked for a changed mtime.
func WriteTar(w io.Writer, entries []Entry, opts TarOptions) (TarStats, error) {
	cw := &countingWriter{w: w}
	tw := tar.NewWriter(cw)
	mtime := time.Unix(opts.ModTime.Unix(), 0)
	if opts.ModTime.IsZero() {
		mtime = time.Unix(0, 0)
	}
	var stats TarStats
	buf := make([]byte, copyBufferSize)
	for _, e := range entries {
		if err := writeEntry(tw, e, mtime, buf); err != nil {
			return stats, fmt.Errorf("packing %q: %w", e.Path, err)
		}
		stats.Entries++
		if e.Mode.IsRegular() {
			stats.FileBytes += e.Size
		}
	}
	if err := tw.Close(); err != nil {
		return stats, fmt.Errorf("finishing tar stream: %w", err)
	}
	stats.TarBytes = cw.n
	return stats, nil
}

func writeEntry(tw *tar.Writer, e Entry, mtime time.Time, buf []byte) error {
	h, err := tarHeader(e, mtime)
	if err != nil {
		return err
	}
	if !e.Mode.IsRegular() {
		return tw.WriteHeader(h)
	}
	f, err := openUnchanged(e)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := tw.WriteHeader(h); err != nil {
		return err
	}
	return copyExactly(tw, f, e.Size, buf)
}

// tarHeader builds the deterministic header for e.
func tarHeader(e Entry, mtime time.Time) (*tar.Header, error) {
	if err := checkName(e.Path); err != nil {
		return nil, err
	}
	h := &tar.Header{
		Name:    e.Path,
		Mode:    tarMode(e.Mode),
		ModTime: mtime,
		// FormatPAX lets archive/tar pick USTAR whenever USTAR can encode the header
		// and PAX otherwise; it never picks GNU.
		Format: tar.FormatPAX,
	}
	switch {
	case e.Mode.IsRegular() && e.Size < 0:
		return nil, fmt.Errorf("negative size %d", e.Size)
	case e.Mode.IsRegular():
		h.Typeflag, h.Size = tar.TypeReg, e.Size
	case e.Mode.IsDir():
		h.Typeflag, h.Name = tar.TypeDir, e.Path+"/"
	case e.Mode&fs.ModeSymlink != 0 && (e.Link == "" || strings.IndexByte(e.Link, 0) >= 0):
		return nil, fmt.Errorf("invalid symlink target %q", e.Link)
	case e.Mode&fs.ModeSymlink != 0:
		h.Typeflag, h.Linkname = tar.TypeSymlink, e.Link
	default:
		return nil, fmt.Errorf("unsupported file type %v", e.Mode.Type())
	}
	return h, nil
}

// tarMode returns the permission and setuid, setgid and sticky bits of m in tar's encoding.
func tarMode(m fs.FileMode) int64 {
	mode := int64(m.Perm())
	if m&fs.ModeSetuid != 0 {
		mode |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		mode |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		mode |= 0o1000
	}
	return mode
}

// openUnchanged opens e.Source without following a symlink or blocking on a
// FIFO and checks that it is still the regular file that was collected.
func openUnchanged(e Entry) (*os.File, error) {
	f, err := os.OpenFile(e.Source, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		switch {
		case errors.Is(err, syscall.ELOOP):
			return nil, fmt.Errorf("%w: %s is now a symlink", ErrChanged, e.Source)
		case errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("%w: %s was removed", ErrChanged, e.Source)
		}
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil {
		err = checkUnchanged(e, fi)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

func checkUnchanged(e Entry, fi fs.FileInfo) error {
	switch {
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%w: %s is now a %v, not a regular file", ErrChanged, e.Source, fi.Mode().Type())
	case fi.Size() != e.Size:
		return fmt.Errorf("%w: %s size is %d, was %d", ErrChanged, e.Source, fi.Size(), e.Size)
	case !e.ModTime.IsZero() && !fi.ModTime().Equal(e.ModTime):
		return fmt.Errorf("%w: %s mtime is %v, was %v", ErrChanged, e.Source, fi.ModTime(), e.ModTime)
	}
	return nil
}

// copyExactly copies size bytes from f and fails if f ends early or has more.
func copyExactly(w io.Writer, f *os.File, size int64, buf []byte) error {
	n, err := io.CopyBuffer(w, io.LimitReader(f, size), buf)
	if err != nil {
		return err
	}
	if n < size {
		return fmt.Errorf("%w: %s ended after %d of %d bytes", ErrChanged, f.Name(), n, size)
	}
	extra, err := f.Read(buf[:1])
	if extra > 0 {
		return fmt.Errorf("%w: %s grew beyond %d bytes", ErrChanged, f.Name(), size)
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
