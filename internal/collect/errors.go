package collect

import (
	"errors"
	"fmt"
	"io/fs"

	"golang.org/x/sys/unix"
)

// failed handles an error reading the entry at rel. Permission errors are
// skipped with a warning when SkipUnreadable is set; other errors end the
// walk. An entry that a directory listing named but that is gone when
// Collect reaches it is an error too, because skipping it would make the
// artifact depend on when it was packed.
func (w *walker) failed(rel string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("collecting %q: removed while the workdir was read; pack again when it is stable: %w", rel, err)
	}
	if !errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("collecting %q: %w", rel, err)
	}
	if w.opts.SkipUnreadable {
		w.warn("skipping %q: %v", rel, errnoOf(err))
		return nil
	}
	return fmt.Errorf("collecting %q: %w; fix its permissions or pass --skip-unreadable", rel, err)
}

// errnoOf returns the error inside a *fs.PathError, or err itself.
func errnoOf(err error) error {
	var pathErr *fs.PathError
	if errors.As(err, &pathErr) {
		return pathErr.Err
	}
	return err
}

// checkReadable opens the regular file at path for reading and closes it,
// so that an unreadable file fails here and not halfway through packing.
// O_NONBLOCK keeps the open from blocking if a FIFO replaced the file since
// it was stat()ed, and O_NOFOLLOW keeps it from following a new symlink.
func checkReadable(path string) error {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return &fs.PathError{Op: "open", Path: path, Err: err}
	}
	return unix.Close(fd)
}
