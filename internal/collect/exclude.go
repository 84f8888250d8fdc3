package collect

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// excludeSet matches the paths in Options.Exclude by absolute path and by
// device and inode, which also catches a hard link or a path through a
// symlinked directory.
type excludeSet struct {
	paths map[string]bool
	files []fs.FileInfo
}

func newExcludeSet(paths []string) (*excludeSet, error) {
	s := &excludeSet{paths: make(map[string]bool, len(paths))}
	for _, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, err
		}
		s.paths[abs] = true

		// A path that does not exist yet, such as an output file not yet
		// created, can only match by name.
		info, err := os.Stat(abs)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		s.files = append(s.files, info)
	}
	return s, nil
}

func (s *excludeSet) contains(abs string, info fs.FileInfo) bool {
	if s.paths[abs] {
		return true
	}
	for _, f := range s.files {
		if os.SameFile(f, info) {
			return true
		}
	}
	return false
}
