package payload

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
)

// ListEntry describes one tar entry. Path has no trailing slash. A hard link has
// the permission bits of a regular file and Link set to the name it links to.
type ListEntry struct {
	Path string
	Mode fs.FileMode
	Size int64
	Link string
}

// List reads a tar stream and returns its entries (for `parker --list`), applying the same name checks.
func List(r io.Reader) ([]ListEntry, error) {
	entries, _, err := list(r, UnpackOptions{MaxBytes: NoLimit, MaxEntries: NoLimit})
	return entries, err
}

// ListMatching lists r like List and checks it against the entry count and
// file bytes that the header records. Like Unpack, it stops with ErrLimit as
// soon as the stream exceeds either, so it accepts no stream that Unpack
// rejects for its size. A stream with fewer entries or bytes fails with ErrMismatch.
func ListMatching(r io.Reader, entries, fileBytes int64) ([]ListEntry, error) {
	listed, sum, err := list(r, UnpackOptions{MaxBytes: fileBytes, MaxEntries: entries})
	if err != nil {
		return nil, err
	}
	if int64(len(listed)) != entries || sum != fileBytes {
		return nil, fmt.Errorf("%w: %d entries with %d bytes of files, the header records %d entries with %d bytes",
			ErrMismatch, len(listed), sum, entries, fileBytes)
	}
	return listed, nil
}

// list returns the entries of r and the sum of their regular file sizes,
// applying Unpack's rules and limits.
func list(r io.Reader, limits UnpackOptions) ([]ListEntry, int64, error) {
	tr := tar.NewReader(r)
	rules := newArchiveRules()
	var entries []ListEntry
	var created, sum int64
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, 0, fmt.Errorf("reading tar stream: %w", err)
		}
		e, err := rules.check(h)
		if err != nil {
			return nil, 0, err
		}
		created += 1 + int64(len(e.newDirs))
		if err := checkLimits(limits, created, sum, e); err != nil {
			return nil, 0, err
		}
		sum += e.size
		entries = append(entries, ListEntry{Path: e.name, Mode: e.mode, Size: e.size, Link: e.link})
	}
	if err := checkEndOfStream(r); err != nil {
		return nil, 0, err
	}
	return entries, sum, nil
}

// checkEndOfStream reads r to its end after the tar end-of-archive marker and
// rejects anything but zero padding. Reading to the end also makes a chunk
// reader verify the remaining chunks.
func checkEndOfStream(r io.Reader) error {
	buf := make([]byte, 64<<10)
	for {
		n, err := r.Read(buf)
		for _, b := range buf[:n] {
			if b != 0 {
				return fmt.Errorf("%w: data after the end of the tar archive", ErrInvalidEntry)
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading tar stream: %w", err)
		}
	}
}
