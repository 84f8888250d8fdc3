// Package collect walks a workdir and lists the entries to pack.
package collect

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/parkerpack/parker/internal/ignore"
	"github.com/parkerpack/parker/internal/payload"
)

// Options configures Collect.
type Options struct {
	Root           string          // workdir; made absolute if it is not
	Exclude        []string        // host paths never packed, such as the output file and its temp file
	Matcher        *ignore.Matcher // ignore rules; nil packs everything
	Target         string          // slash path of the target, relative to Root; never excluded by Matcher
	SkipUnreadable bool            // skip unreadable files and directories with a warning instead of failing
	Warn           func(format string, args ...any)
}

// Collect walks opts.Root without following symlinks and returns the entries
// to pack, sorted by Path in byte order, so that each directory comes before
// its contents. The root itself is not an entry.
//
// Collect leaves out every file or directory named ".git", the paths in
// opts.Exclude (also when reached through another name, such as a hard link),
// paths that opts.Matcher excludes, and sockets, FIFOs and devices, which it
// names through opts.Warn. The target and its parent directories are packed
// even when a rule matches them, with a warning. Symlinks are packed as they
// are, with a warning when the target is absolute or points outside Root.
func Collect(opts Options) ([]payload.Entry, error) {
	root, err := filepath.Abs(opts.Root)
	if err != nil {
		return nil, fmt.Errorf("collecting %q: %w", opts.Root, err)
	}
	info, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("collecting %q: %w", root, err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("collecting %q: not a directory", root)
	}
	excluded, err := newExcludeSet(opts.Exclude)
	if err != nil {
		return nil, fmt.Errorf("collecting %q: %w", root, err)
	}

	w := &walker{opts: opts, root: root, excluded: excluded, warn: opts.Warn}
	if w.warn == nil {
		w.warn = func(string, ...any) {}
	}
	if opts.Target != "" {
		w.target = path.Clean(opts.Target)
	}
	names, err := readDirNames(root)
	if err != nil {
		return nil, fmt.Errorf("collecting %q: %w", root, err)
	}
	for _, name := range names {
		if err := w.visit(name); err != nil {
			return nil, err
		}
	}

	slices.SortFunc(w.entries, func(a, b payload.Entry) int { return strings.Compare(a.Path, b.Path) })
	return w.entries, nil
}

// walker holds the state of one Collect call.
type walker struct {
	opts         Options
	root         string
	target       string
	excluded     *excludeSet
	warn         func(format string, args ...any)
	targetWarned bool
	entries      []payload.Entry
}

func (w *walker) abs(rel string) string { return filepath.Join(w.root, rel) }

// visit adds the entry at the slash path rel and, for a directory, its
// contents.
func (w *walker) visit(rel string) error {
	abs := w.abs(rel)
	info, err := os.Lstat(abs)
	if err != nil {
		return w.failed(rel, err)
	}
	if w.skip(rel, abs, info) {
		return nil
	}

	mode := info.Mode()
	switch {
	case mode.IsDir():
		return w.visitDir(rel, abs, info)
	case mode&os.ModeSymlink != 0:
		return w.addLink(rel, abs, info)
	case mode.IsRegular():
		return w.addFile(rel, abs, info)
	default:
		w.warn("skipping %q: %s", rel, specialKind(mode))
		return nil
	}
}

func (w *walker) visitDir(rel, abs string, info os.FileInfo) error {
	// Reading the directory before adding it means that an unreadable
	// directory skipped with SkipUnreadable leaves no empty entry behind.
	names, err := readDirNames(abs)
	if err != nil {
		return w.failed(rel, err)
	}
	w.entries = append(w.entries, payload.Entry{Path: rel, Mode: entryMode(info)})
	for _, name := range names {
		if err := w.visit(rel + "/" + name); err != nil {
			return err
		}
	}
	return nil
}

func (w *walker) addLink(rel, abs string, info os.FileInfo) error {
	target, err := os.Readlink(abs)
	if err != nil {
		return w.failed(rel, err)
	}
	if warning := linkWarning(rel, target); warning != "" {
		w.warn("%s", warning)
	}
	w.entries = append(w.entries, payload.Entry{Path: rel, Mode: entryMode(info), Link: target})
	return nil
}

func (w *walker) addFile(rel, abs string, info os.FileInfo) error {
	if err := checkReadable(abs); err != nil {
		return w.failed(rel, err)
	}
	w.entries = append(w.entries, payload.Entry{
		Path:    rel,
		Mode:    entryMode(info),
		Size:    info.Size(),
		Source:  abs,
		ModTime: info.ModTime(),
	})
	return nil
}

// readDirNames returns the names in dir in byte order.
func readDirNames(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	return names, nil
}
