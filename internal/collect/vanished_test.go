package collect

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCollectVanished(t *testing.T) {
	root := t.TempDir()
	mkfile(t, root, "dir/gone", "x", 0o644)
	info, err := os.Lstat(filepath.Join(root, "dir"))
	if err != nil {
		t.Fatal(err)
	}
	// The walker lists a directory, then visits each name; removing a file
	// or the directory between the two is what these calls see.
	if err := os.RemoveAll(filepath.Join(root, "dir")); err != nil {
		t.Fatal(err)
	}
	w := &walker{root: root, warn: func(string, ...any) {}, excluded: &excludeSet{}}
	w.opts.SkipUnreadable = true
	tests := []struct {
		name string
		call func() error
		path string
	}{
		{"file", func() error { return w.visit("dir/gone") }, `"dir/gone"`},
		{"directory", func() error { return w.visitDir("dir", filepath.Join(root, "dir"), info) }, `"dir"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("visiting a removed %s: error = %v, want fs.ErrNotExist even with SkipUnreadable", tc.name, err)
			}
			if !strings.Contains(err.Error(), tc.path) || !strings.Contains(err.Error(), "removed") {
				t.Errorf("visiting a removed %s: error = %q, want it to name %s as removed", tc.name, err, tc.path)
			}
		})
	}
}
