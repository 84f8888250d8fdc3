// Package cache keeps unpacked payloads on disk, one directory per payload
// SHA-256, so that later runs of an artifact can skip decompression.
//
// An entry ROOT/HEX contains the unpacked files in ROOT/HEX/files and a
// marker file ROOT/HEX/complete that records the SHA-256 and the number of
// names in files. An entry is built in a temporary directory ROOT/.tmp-HEX-* and
// renamed into place after the marker is written, so a reader never sees a
// half-built entry under its final name. A run that loses the race to
// publish an entry discards its own copy.
package cache

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ErrNoDir is returned by Dir when no usable cache location exists.
var ErrNoDir = errors.New("cache: no usable cache directory")

// systemDir is root's cache location when XDG_CACHE_HOME is not set.
const systemDir = "/var/cache/parker"

// Dir returns the cache root for a process with effective uid euid:
// $XDG_CACHE_HOME/parker when XDG_CACHE_HOME is an absolute path, else
// /var/cache/parker for root, else $HOME/.cache/parker when HOME is an
// absolute path to an existing directory owned by euid. It neither creates
// nor checks the root itself; Open does.
func Dir(getenv func(string) string, euid int) (string, error) {
	if x := getenv("XDG_CACHE_HOME"); filepath.IsAbs(x) {
		return filepath.Join(x, "parker"), nil
	}
	if euid == 0 {
		return systemDir, nil
	}
	home := getenv("HOME")
	if !filepath.IsAbs(home) {
		return "", fmt.Errorf("%w: XDG_CACHE_HOME is not set and HOME %q is not an absolute path", ErrNoDir, home)
	}
	if err := checkOwnedDir(home, euid); err != nil {
		return "", fmt.Errorf("%w: XDG_CACHE_HOME is not set and HOME is not usable: %v", ErrNoDir, err)
	}
	return filepath.Join(home, ".cache", "parker"), nil
}

// checkOwnedDir checks that path is a directory, not a symbolic link,
// owned by uid.
func checkOwnedDir(path string, uid int) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", path)
	}
	if owner := fileOwner(fi); owner != uid {
		return fmt.Errorf("%s is owned by uid %d, not %d", path, owner, uid)
	}
	return nil
}
