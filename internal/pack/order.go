package pack

import (
	"cmp"
	"path"
	"slices"
	"strings"

	"github.com/parkerpack/parker/internal/payload"
)

// tarOrder returns the entries in the order they go into the tar stream.
// The walk is depth first. In each directory come first the files,
// symbolic links and other non-directories, sorted by extension and then
// by name, then the subdirectories by name, each followed by its contents.
// Files of one kind in one directory thus sit next to each other, within
// one LZMA dictionary. On a copy of python3.11 and its standard library
// this packed about 1 % smaller than path order, while sorting by
// extension across the whole tree packed larger, because it separates
// each module's .py from its .pyc. The order depends only on the paths
// and types, and a directory always precedes its contents.
func tarOrder(entries []payload.Entry) []payload.Entry {
	items := make([]orderItem, len(entries))
	for i, e := range entries {
		items[i] = orderItem{parts: strings.Split(e.Path, "/"), dir: e.Mode.IsDir(), entry: e}
	}
	slices.SortFunc(items, compareTarOrder)
	out := make([]payload.Entry, len(items))
	for i, it := range items {
		out[i] = it.entry
	}
	return out
}

type orderItem struct {
	parts []string // path elements
	dir   bool
	entry payload.Entry
}

func compareTarOrder(a, b orderItem) int {
	for i := range min(len(a.parts), len(b.parts)) {
		if a.parts[i] == b.parts[i] {
			continue
		}
		// The elements at i are siblings in one directory. An element
		// before a path's last one is a directory.
		aDir := i < len(a.parts)-1 || a.dir
		bDir := i < len(b.parts)-1 || b.dir
		return compareSiblings(a.parts[i], aDir, b.parts[i], bDir)
	}
	// One path is a directory that contains the other.
	return cmp.Compare(len(a.parts), len(b.parts))
}

func compareSiblings(a string, aDir bool, b string, bDir bool) int {
	switch {
	case aDir && !bDir:
		return 1
	case !aDir && bDir:
		return -1
	case !aDir:
		if c := strings.Compare(extension(a), extension(b)); c != 0 {
			return c
		}
	}
	return strings.Compare(a, b)
}

// extension returns name's extension without the dot, or "" for a name
// without one or whose only dot leads it, such as ".profile".
func extension(name string) string {
	ext := path.Ext(name)
	if ext == name {
		return ""
	}
	return strings.TrimPrefix(ext, ".")
}
