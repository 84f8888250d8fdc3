package cli

import (
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/parkerpack/parker/internal/pack"
	"github.com/parkerpack/parker/internal/payload"
)

// maxTopLevel caps the entries listed, so a directory with thousands of
// top-level files still gives a short report.
const maxTopLevel = 24

// topEntry is one line of the report: a top-level file, link or directory
// with the number of files and bytes below it.
type topEntry struct {
	name  string
	dir   bool
	link  bool
	files int
	bytes int64
}

func summarize(entries []payload.Entry) (tops []topEntry, files int, bytes int64) {
	index := map[string]int{}
	for _, e := range entries {
		first, rest, nested := strings.Cut(e.Path, "/")
		i, ok := index[first]
		if !ok {
			i = len(tops)
			index[first] = i
			tops = append(tops, topEntry{name: first})
		}
		t := &tops[i]
		switch {
		case e.Mode.IsDir():
			if !nested || rest == "" {
				t.dir = true
			}
		case e.Mode&fs.ModeSymlink != 0:
			files++
			t.files++
			t.link = !nested
		default:
			files++
			t.files++
			t.bytes += e.Size
			bytes += e.Size
		}
	}
	sort.Slice(tops, func(a, b int) bool { return tops[a].name < tops[b].name })
	return tops, files, bytes
}

func printReport(w io.Writer, res *pack.Result, workdir string, took time.Duration) {
	tops, files, bytes := summarize(res.Entries)
	fmt.Fprintf(w, "%s\n", workdir)
	for i, t := range tops {
		if i == maxTopLevel {
			fmt.Fprintf(w, "└── … %d more\n", len(tops)-maxTopLevel)
			break
		}
		branch := "├── "
		if i == len(tops)-1 {
			branch = "└── "
		}
		fmt.Fprintf(w, "%s%s\n", branch, describeTop(t, res.Target))
	}
	payloadSize := res.Size - res.StubSize
	fmt.Fprintf(w, "%d files, %s unpacked, %s packed (payload %s, runtime %s) in %.1fs\n",
		files, humanBytes(bytes), humanBytes(res.Size), humanBytes(payloadSize), humanBytes(res.StubSize), took.Seconds())
	fmt.Fprintf(w, "wrote %s\n", res.Output)
}

func describeTop(t topEntry, target string) string {
	switch {
	case t.dir:
		noun := "files"
		if t.files == 1 {
			noun = "file"
		}
		return fmt.Sprintf("%s/ (%d %s, %s)", t.name, t.files, noun, humanBytes(t.bytes))
	case t.link:
		return t.name + " (link)"
	case t.name == target:
		return fmt.Sprintf("%s (%s, target)", t.name, humanBytes(t.bytes))
	default:
		return fmt.Sprintf("%s (%s)", t.name, humanBytes(t.bytes))
	}
}

func printDryRun(w io.Writer, res *pack.Result) {
	for _, e := range res.Entries {
		name := e.Path
		switch {
		case e.Mode.IsDir():
			name += "/"
		case e.Mode&fs.ModeSymlink != 0:
			name += " -> " + e.Link
		}
		fmt.Fprintf(w, "%s %10d %s\n", e.Mode.String(), e.Size, name)
	}
	_, files, bytes := summarize(res.Entries)
	fmt.Fprintf(w, "%d files, %s; would write %s (dry run, nothing written)\n", files, humanBytes(bytes), filepath.Clean(res.Output))
}

// humanBytes formats n with binary units (KiB, MiB, GiB).
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
