package pack

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/parkerpack/parker/internal/depfile"
	"github.com/parkerpack/parker/internal/payload"
)

// writeDepfile lists every packed regular file and the ignore files as
// prerequisites of the artifact. Added and deleted files are caught by
// parker.mk, which compares "parker --dry-run" listings; directories are
// not listed because writing an artifact changes its directory's mtime.
// Paths are relative to the current directory when below it, which is
// where make runs.
func writeDepfile(path, output, workdir string, entries []payload.Entry, ignoreFiles []string) error {
	var prereqs []string
	for _, e := range entries {
		if e.Mode.IsRegular() {
			prereqs = append(prereqs, filepath.Join(workdir, filepath.FromSlash(e.Path)))
		}
	}
	prereqs = append(prereqs, ignoreFiles...)
	cwd, _ := os.Getwd()
	for i, p := range prereqs {
		prereqs[i] = relativeTo(cwd, p)
	}
	var buf bytes.Buffer
	if err := depfile.Write(&buf, relativeTo(cwd, output), prereqs); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("writing depfile: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing depfile: %w", err)
	}
	return nil
}

func relativeTo(base, p string) string {
	if base == "" {
		return p
	}
	r, err := filepath.Rel(base, p)
	if err != nil || !local(r) {
		return p
	}
	return r
}
