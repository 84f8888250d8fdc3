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
	tr := tar.NewReader(r)
	rules := newArchiveRules()
	var entries []ListEntry
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading tar stream: %w", err)
		}
		e, err := rules.check(h)
		if err != nil {
			return nil, err
		}
		entries = append(entries, ListEntry{Path: e.name, Mode: e.mode, Size: e.size, Link: e.link})
	}
	if err := checkEndOfStream(r); err != nil {
		return nil, err
	}
	return entries, nil
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
