package pack

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/parkerpack/parker/internal/payload"
)

// tempMarker is part of the name of every temporary file parker writes
// beside an output, so that a pack running in parallel (make -j) never
// packs another one's half-written artifact.
const tempMarker = ".parker-tmp-"

// dropArtifacts leaves out other parker artifacts and parker's temporary
// files: packing app-c into tool-c is almost always a mistake, and under
// make -j it would make the result depend on build order.
func dropArtifacts(entries []payload.Entry, warn func(string, ...any)) []payload.Entry {
	out := entries[:0]
	for _, e := range entries {
		if e.Mode.IsRegular() {
			if strings.Contains(path.Base(e.Path), tempMarker) {
				continue
			}
			if isArtifact(e.Source) {
				warn("skipping %q: it is a parker artifact", e.Path)
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
