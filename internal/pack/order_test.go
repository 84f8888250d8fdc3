package pack

import (
	"io/fs"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/parkerpack/parker/internal/payload"
)

func TestTarOrder(t *testing.T) {
	dir := func(p string) payload.Entry { return payload.Entry{Path: p, Mode: fs.ModeDir | 0o755} }
	file := func(p string) payload.Entry { return payload.Entry{Path: p, Mode: 0o644} }
	link := func(p string) payload.Entry { return payload.Entry{Path: p, Mode: fs.ModeSymlink | 0o777} }
	// In path order, as collect returns them.
	in := []payload.Entry{
		file(".profile"),
		file("README"),
		dir("a"),
		file("a/x.py"),
		dir("a/__pycache__"),
		file("a/__pycache__/x.pyc"),
		file("a/y.c"),
		file("a/z.py"),
		file("app"),
		dir("b"),
		file("b.txt"),
		link("lib"),
		file("z.c"),
	}
	want := []string{
		// No extension; a link, even to a directory, is no directory.
		".profile", "README", "app", "lib",
		"z.c",
		"b.txt",
		"a",
		"a/y.c", "a/x.py", "a/z.py",
		"a/__pycache__", "a/__pycache__/x.pyc",
		"b",
	}
	got := paths(tarOrder(in))
	if !slices.Equal(got, want) {
		t.Errorf("tarOrder() = %v, want %v", got, want)
	}
	if !slices.Equal(paths(in)[:3], []string{".profile", "README", "a"}) {
		t.Errorf("tarOrder changed its argument to %v", paths(in))
	}

	// The result depends only on the set of entries, not on their order.
	for range 20 {
		shuffled := slices.Clone(in)
		rand.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		if got := paths(tarOrder(shuffled)); !slices.Equal(got, want) {
			t.Fatalf("tarOrder(%v) = %v, want %v", paths(shuffled), got, want)
		}
	}
}

func TestTarOrderDirectoriesFirst(t *testing.T) {
	var in []payload.Entry
	for _, p := range []string{"d", "d/e", "d/e/f", "d/e/f/g", "d/b", "d/b/c", "m"} {
		in = append(in, payload.Entry{Path: p, Mode: fs.ModeDir | 0o755})
		for _, name := range []string{"k.txt", "a.so", "z"} {
			in = append(in, payload.Entry{Path: p + "/" + name, Mode: 0o644})
		}
	}
	seen := map[string]bool{}
	for _, e := range tarOrder(in) {
		if i := strings.LastIndex(e.Path, "/"); i >= 0 && !seen[e.Path[:i]] {
			t.Errorf("%s comes before its directory %s", e.Path, e.Path[:i])
		}
		seen[e.Path] = true
	}
	if len(seen) != len(in) {
		t.Errorf("tarOrder returned %d distinct entries, want %d", len(seen), len(in))
	}
}

func paths(entries []payload.Entry) []string {
	var out []string
	for _, e := range entries {
		out = append(out, e.Path)
	}
	return out
}
