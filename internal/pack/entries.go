package pack

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/parkerpack/parker/internal/collect"
	"github.com/parkerpack/parker/internal/payload"
)

// tempMarker is part of the name of every temporary file parker writes
// beside an output, so that a pack running in parallel (make -j) never
// packs another one's half-written artifact.
const tempMarker = ".parker-tmp-"

// maxCollectAttempts bounds how often a walk is repeated after a parallel
// pack renamed its temporary file away during the walk. Each repeat needs
// another rename, so N packs in parallel cause at most N-1 repeats. The
// bound only ends a walk in a directory where temporary files keep
// appearing and disappearing.
const maxCollectAttempts = 100

// collectEntries walks the workdir with collect.Collect. Collect reads a
// directory, then lstat()s each name, so a temporary file that a parallel
// pack renames in between fails the walk with ENOENT. Such a walk is
// repeated, and the next one no longer finds the file.
func collectEntries(opts collect.Options) ([]payload.Entry, error) {
	for attempt := 1; ; attempt++ {
		entries, err := collect.Collect(opts)
		if err == nil || attempt == maxCollectAttempts || !isVanishedTemp(err) {
			return entries, err
		}
	}
}

// isVanishedTemp reports whether err is ENOENT for a parker temporary file.
func isVanishedTemp(err error) bool {
	var pathErr *fs.PathError
	return errors.Is(err, fs.ErrNotExist) && errors.As(err, &pathErr) &&
		strings.Contains(filepath.Base(pathErr.Path), tempMarker)
}

// dropArtifacts leaves out other parker artifacts and parker's temporary
// files: packing app-c into tool-c is almost always a mistake, and under
// make -j it would make the result depend on build order. Each artifact
// left out is reported through logf, not as a warning, because a Makefile
// that builds several artifacts in one directory meets them on every build.
func dropArtifacts(entries []payload.Entry, logf func(string, ...any)) []payload.Entry {
	out := entries[:0]
	for _, e := range entries {
		if e.Mode.IsRegular() {
			if strings.Contains(path.Base(e.Path), tempMarker) {
				logf("skipping %q: a temporary file of another parker run", e.Path)
				continue
			}
			if isArtifact(e.Source) {
				logf("skipping %q: it is a parker artifact", e.Path)
				continue
			}
		}
		out = append(out, e)
	}
	return out
}

// withBuiltTarget puts the freshly built program at target in the entry
// list, replacing a stale file of that name, and adds missing parents.
func withBuiltTarget(entries []payload.Entry, target, built string) ([]payload.Entry, error) {
	fi, err := os.Stat(built)
	if err != nil {
		return nil, fmt.Errorf("reading built program: %w", err)
	}
	out := entries[:0]
	for _, e := range entries {
		if strings.HasPrefix(e.Path, target+"/") {
			return nil, fmt.Errorf("%w: the built program %q would replace the directory of that name", ErrTarget, target)
		}
		if e.Path != target {
			out = append(out, e)
		}
	}
	have := map[string]bool{}
	for _, e := range out {
		have[e.Path] = true
	}
	for dir := path.Dir(target); dir != "."; dir = path.Dir(dir) {
		if !have[dir] {
			out = append(out, payload.Entry{Path: dir, Mode: fs.ModeDir | 0o755})
		}
	}
	out = append(out, payload.Entry{
		Path:    target,
		Mode:    0o755,
		Size:    fi.Size(),
		Source:  built,
		ModTime: fi.ModTime(),
	})
	sort.Slice(out, func(a, b int) bool { return out[a].Path < out[b].Path })
	return out, nil
}
