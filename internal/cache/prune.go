package cache

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// TempMaxAge is the age after which Prune removes a temporary directory:
// one that old belongs to a run that was killed while building an entry.
const TempMaxAge = time.Hour

// PruneStats counts what Prune removed.
type PruneStats struct {
	Entries int   // entries not used within maxAge
	InUse   int   // entries not used within maxAge but locked by a run
	Temp    int   // temporary directories older than TempMaxAge
	Bytes   int64 // sum of the sizes of the regular files removed
}

// Prune removes from the cache root the entries last used more than
// maxAge before now, and the temporary directories older than TempMaxAge.
// An entry's last use is its marker's modification time, or the entry's
// own when the marker is missing. Entries that a process holds through an
// Entry are kept, and so are names Prune did not create. A missing root
// is an empty cache.
func Prune(root string, maxAge time.Duration, now time.Time) (PruneStats, error) {
	var stats PruneStats
	names, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return stats, nil
	}
	if err != nil {
		return stats, fmt.Errorf("cache: %w", err)
	}
	c := &Cache{root: root}
	var errs []error
	for _, d := range names {
		path := filepath.Join(root, d.Name())
		switch {
		case isKey(d.Name()):
			used, err := lastUse(path)
			if err != nil || now.Sub(used) <= maxAge {
				continue
			}
			size := dirSize(path)
			removed, err := c.retireUnused(path)
			if err != nil {
				errs = append(errs, err)
			}
			if !removed {
				stats.InUse++
				continue
			}
			stats.Entries++
			stats.Bytes += size
		case strings.HasPrefix(d.Name(), tempPrefix) || strings.HasPrefix(d.Name(), oldPrefix):
			fi, err := os.Lstat(path)
			if err != nil || now.Sub(fi.ModTime()) <= TempMaxAge {
				continue
			}
			size := dirSize(path)
			if err := removeAll(path); err != nil {
				errs = append(errs, fmt.Errorf("cache: removing %s: %w", path, err))
				continue
			}
			stats.Temp++
			stats.Bytes += size
		}
	}
	return stats, errors.Join(errs...)
}

// retireUnused retires entry unless a process holds its marker locked,
// and reports whether it did.
func (c *Cache) retireUnused(entry string) (bool, error) {
	fd, err := openLocked(filepath.Join(entry, markerName), unix.LOCK_EX|unix.LOCK_NB)
	switch {
	case errors.Is(err, unix.EWOULDBLOCK):
		return false, nil
	case errors.Is(err, fs.ErrNotExist):
		// A damaged entry without a marker cannot be in use.
	case err != nil:
		return false, fmt.Errorf("cache: %w", err)
	default:
		defer unix.Close(fd)
	}
	if err := c.retire(entry); err != nil {
		return false, err
	}
	return true, nil
}

// lastUse returns the modification time of an entry's marker, or of the
// entry itself when the marker is missing.
func lastUse(entry string) (time.Time, error) {
	fi, err := os.Lstat(filepath.Join(entry, markerName))
	if errors.Is(err, fs.ErrNotExist) {
		fi, err = os.Lstat(entry)
	}
	if err != nil {
		return time.Time{}, err
	}
	return fi.ModTime(), nil
}

// dirSize sums the sizes of the regular files below dir, skipping what it
// cannot read.
func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}
