package cache

import (
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// removeAll removes path and everything below it. Unpacked payloads may
// contain directories without write permission, which os.RemoveAll cannot
// empty unless the caller is root, so on failure every directory is made
// writable and the removal is tried again.
func removeAll(path string) error {
	if err := os.RemoveAll(path); err == nil {
		return nil
	}
	// WalkDir calls the function for a directory before reading it, so the
	// chmod also makes unreadable directories readable in time.
	_ = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if d != nil && d.IsDir() {
			_ = os.Chmod(p, 0o700)
		}
		return nil
	})
	return os.RemoveAll(path)
}

// fileOwner returns the uid that owns the file described by fi.
func fileOwner(fi fs.FileInfo) int {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid)
	}
	return -1
}
