package collect

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parkerpack/parker/internal/ignore"
	"github.com/parkerpack/parker/internal/payload"
)

// warnings collects the messages passed to Options.Warn.
type warnings []string

func (w *warnings) warn(format string, args ...any) {
	*w = append(*w, fmt.Sprintf(format, args...))
}

// mkfile creates a file with the given content and permissions under root,
// creating its parents.
func mkfile(t *testing.T, root, rel, content string, perm fs.FileMode) {
	t.Helper()
	p := filepath.Join(root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, perm); err != nil {
		t.Fatal(err)
	}
}

func mkdir(t *testing.T, root, rel string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(root, rel), 0o755); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, root, target, rel string) {
	t.Helper()
	if err := os.Symlink(target, filepath.Join(root, rel)); err != nil {
		t.Fatal(err)
	}
}

func paths(entries []payload.Entry) []string {
	var ps []string
	for _, e := range entries {
		ps = append(ps, e.Path)
	}
	return ps
}

func matcher(t *testing.T, rules string) *ignore.Matcher {
	t.Helper()
	parsed, err := ignore.Parse(".parkerignore", strings.NewReader(rules))
	if err != nil {
		t.Fatal(err)
	}
	m, err := ignore.NewMatcher(parsed)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func collect(t *testing.T, opts Options) ([]payload.Entry, warnings) {
	t.Helper()
	var w warnings
	opts.Warn = w.warn
	entries, err := Collect(opts)
	if err != nil {
		t.Fatalf("Collect error = %v", err)
	}
	return entries, w
}

func TestCollectOrder(t *testing.T) {
	root := t.TempDir()
	longName := strings.Repeat("l", 200)
	nonUTF8 := "bad\xff\xfename"
	for _, rel := range []string{"a/x", "a-b", "a b", "a.c", "b/c/d/e", "Z", longName, nonUTF8, "deep/" + longName + "/" + longName} {
		mkfile(t, root, rel, "x", 0o644)
	}
	mkdir(t, root, "empty")

	entries, w := collect(t, Options{Root: root})
	want := []string{
		"Z", "a", "a b", "a-b", "a.c", "a/x", "b", "b/c", "b/c/d", "b/c/d/e",
		nonUTF8, "deep", "deep/" + longName, "deep/" + longName + "/" + longName, "empty", longName,
	}
	if got := paths(entries); !slices.Equal(got, want) {
		t.Errorf("Collect paths = %q, want %q", got, want)
	}
	if len(w) != 0 {
		t.Errorf("Collect warnings = %q, want none", w)
	}
}

func TestCollectEntryFields(t *testing.T) {
	root := t.TempDir()
	mkfile(t, root, "bin/app", "#!/bin/sh\n", 0o755)
	mkfile(t, root, "suid", "s", fs.ModeSetuid|0o755)
	mkfile(t, root, "sgid", "g", fs.ModeSetgid|0o711)
	mkdir(t, root, "tmp")
	if err := os.Chmod(filepath.Join(root, "tmp"), fs.ModeSticky|0o777); err != nil {
		t.Fatal(err)
	}
	mtime := time.Date(2021, 3, 4, 5, 6, 7, 8, time.UTC)
	if err := os.Chtimes(filepath.Join(root, "bin/app"), mtime, mtime); err != nil {
		t.Fatal(err)
	}

	entries, _ := collect(t, Options{Root: root})
	byPath := map[string]payload.Entry{}
	for _, e := range entries {
		byPath[e.Path] = e
	}

	app := byPath["bin/app"]
	wantApp := payload.Entry{
		Path: "bin/app", Mode: 0o755, Size: 10,
		Source: filepath.Join(root, "bin/app"), ModTime: mtime,
	}
	if app.Path != wantApp.Path || app.Mode != wantApp.Mode || app.Size != wantApp.Size ||
		app.Source != wantApp.Source || !app.ModTime.Equal(wantApp.ModTime) || app.Link != "" {
		t.Errorf("entry bin/app = %+v, want %+v", app, wantApp)
	}
	modes := map[string]fs.FileMode{
		"bin":  fs.ModeDir | 0o755,
		"suid": fs.ModeSetuid | 0o755,
		"sgid": fs.ModeSetgid | 0o711,
		"tmp":  fs.ModeDir | fs.ModeSticky | 0o777,
	}
	for p, want := range modes {
		if got := byPath[p].Mode; got != want {
			t.Errorf("entry %q Mode = %v, want %v", p, got, want)
		}
	}
	if dir := byPath["bin"]; dir.Source != "" || dir.Size != 0 || !dir.ModTime.IsZero() {
		t.Errorf("directory entry = %+v, want no Source, Size or ModTime", dir)
	}
}

func TestCollectRelativeRoot(t *testing.T) {
	root := t.TempDir()
	mkfile(t, root, "f", "x", 0o644)
	t.Chdir(root)
	entries, _ := collect(t, Options{Root: "."})
	if len(entries) != 1 || entries[0].Source != filepath.Join(root, "f") {
		t.Errorf("Collect(Root: \".\") = %+v, want f with Source %q", entries, filepath.Join(root, "f"))
	}
}

func TestCollectGitExcluded(t *testing.T) {
	root := t.TempDir()
	mkfile(t, root, ".git/config", "", 0o644)
	mkfile(t, root, "sub/.git/HEAD", "", 0o644)
	mkfile(t, root, "worktree/.git", "gitdir: ../.git/worktrees/w\n", 0o644)
	mkfile(t, root, ".gitignore", "", 0o644)
	mkfile(t, root, ".github/ci.yml", "", 0o644)

	entries, _ := collect(t, Options{Root: root})
	want := []string{".github", ".github/ci.yml", ".gitignore", "sub", "worktree"}
	if got := paths(entries); !slices.Equal(got, want) {
		t.Errorf("Collect paths = %q, want %q", got, want)
	}
}

func TestCollectExclude(t *testing.T) {
	root := t.TempDir()
	mkfile(t, root, "out/app-c", "artifact", 0o755)
	mkfile(t, root, "out/app-c.tmp", "partial", 0o600)
	mkfile(t, root, "keep", "", 0o644)
	if err := os.Link(filepath.Join(root, "out/app-c"), filepath.Join(root, "hardlink")); err != nil {
		t.Fatal(err)
	}
	mkdir(t, root, "cache")

	// The output file is named through a symlinked directory outside the
	// workdir, so only its inode identifies it.
	outside := t.TempDir()
	symlink(t, outside, filepath.Join(root, "out"), "via")

	entries, _ := collect(t, Options{
		Root: root,
		Exclude: []string{
			filepath.Join(outside, "via/app-c"),
			filepath.Join(root, "out/./app-c.tmp"),
			filepath.Join(root, "cache") + "/",
			filepath.Join(root, "not-created-yet"),
		},
	})
	want := []string{"keep", "out"}
	if got := paths(entries); !slices.Equal(got, want) {
		t.Errorf("Collect paths = %q, want %q", got, want)
	}
}

func TestCollectMatcher(t *testing.T) {
	root := t.TempDir()
	for _, rel := range []string{"a.o", "src/b.o", "src/keep.o", "build/x", "build/keep", "logs/today.log", "main.go"} {
		mkfile(t, root, rel, "", 0o644)
	}
	rules := "*.o\n!keep.o\nbuild/\n!build/keep\n/logs\n"
	entries, w := collect(t, Options{Root: root, Matcher: matcher(t, rules)})
	want := []string{"main.go", "src", "src/keep.o"}
	if got := paths(entries); !slices.Equal(got, want) {
		t.Errorf("Collect paths = %q, want %q", got, want)
	}
	if len(w) != 0 {
		t.Errorf("Collect warnings = %q, want none", w)
	}
}

func TestCollectTargetNeverExcluded(t *testing.T) {
	tests := []struct {
		name   string
		rules  string
		target string
		want   []string
		warn   string
	}{
		{
			name:   "target matched",
			rules:  "*.md\nx\n",
			target: "bin/x",
			want:   []string{"bin", "bin/other", "bin/x"},
			warn:   `.parkerignore:2: pattern "x" matches the target "bin/x"; packing it anyway`,
		},
		{
			name:   "parent matched",
			rules:  "bin/\n",
			target: "bin/x",
			want:   []string{"README.md", "bin", "bin/x"},
			warn:   `.parkerignore:1: pattern "bin/" matches "bin", which contains the target "bin/x"; packing the target anyway`,
		},
		{
			name:   "everything matched",
			rules:  "*\n",
			target: "./bin/x",
			want:   []string{"bin", "bin/x"},
			warn:   `.parkerignore:1: pattern "*" matches "bin", which contains the target "bin/x"; packing the target anyway`,
		},
		{
			name:   "not matched",
			rules:  "*.txt\n",
			target: "bin/x",
			want:   []string{"README.md", "bin", "bin/other", "bin/x"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			mkfile(t, root, "bin/x", "", 0o755)
			mkfile(t, root, "bin/other", "", 0o755)
			mkfile(t, root, "README.md", "", 0o644)
			entries, w := collect(t, Options{Root: root, Matcher: matcher(t, tc.rules), Target: tc.target})
			if got := paths(entries); !slices.Equal(got, tc.want) {
				t.Errorf("Collect paths = %q, want %q", got, tc.want)
			}
			var wantWarn warnings
			if tc.warn != "" {
				wantWarn = warnings{tc.warn}
			}
			if !slices.Equal(w, wantWarn) {
				t.Errorf("Collect warnings = %q, want %q", w, wantWarn)
			}
		})
	}
}

func TestCollectTargetFromGlobs(t *testing.T) {
	root := t.TempDir()
	mkfile(t, root, "app", "", 0o755)
	rules, err := ignore.FromGlobs("--exclude", []string{"app"})
	if err != nil {
		t.Fatal(err)
	}
	m, err := ignore.NewMatcher(rules)
	if err != nil {
		t.Fatal(err)
	}
	_, w := collect(t, Options{Root: root, Matcher: m, Target: "app"})
	want := warnings{`--exclude: pattern "app" matches the target "app"; packing it anyway`}
	if !slices.Equal(w, want) {
		t.Errorf("Collect warnings = %q, want %q", w, want)
	}
}

func TestCollectSymlinks(t *testing.T) {
	root := t.TempDir()
	mkfile(t, root, "lib/real.so", "elf", 0o755)
	mkfile(t, root, "dir/inside", "", 0o644)
	symlink(t, root, "real.so", "lib/ok.so")
	symlink(t, root, "../dir/inside", "lib/up")
	symlink(t, root, "/usr/lib/x", "lib/abs")
	symlink(t, root, "../../etc/passwd", "lib/escape")
	symlink(t, root, "dir", "dirlink")
	symlink(t, root, "loop-b", "loop-a")
	symlink(t, root, "loop-a", "loop-b")
	symlink(t, root, "self", "self")
	symlink(t, root, "missing", "dangling")

	entries, w := collect(t, Options{Root: root})
	want := []string{
		"dangling", "dir", "dir/inside", "dirlink", "lib", "lib/abs", "lib/escape",
		"lib/ok.so", "lib/real.so", "lib/up", "loop-a", "loop-b", "self",
	}
	if got := paths(entries); !slices.Equal(got, want) {
		t.Fatalf("Collect paths = %q, want %q", got, want)
	}
	links := map[string]string{
		"dangling": "missing", "dirlink": "dir", "lib/abs": "/usr/lib/x", "lib/escape": "../../etc/passwd",
		"lib/ok.so": "real.so", "lib/up": "../dir/inside", "loop-a": "loop-b", "loop-b": "loop-a", "self": "self",
	}
	for _, e := range entries {
		wantLink, isLink := links[e.Path]
		if !isLink {
			continue
		}
		if e.Link != wantLink || e.Mode != fs.ModeSymlink|0o777 || e.Source != "" || e.Size != 0 {
			t.Errorf("entry %q = %+v, want a symlink to %q", e.Path, e, wantLink)
		}
	}
	wantWarn := warnings{
		`"lib/abs" is a link to "/usr/lib/x", which resolves on the machine that runs the artifact`,
		`"lib/escape" is a link to "../../etc/passwd", which points outside the workdir`,
	}
	if !slices.Equal(w, wantWarn) {
		t.Errorf("Collect warnings = %q, want %q", w, wantWarn)
	}
}

func TestLinkWarning(t *testing.T) {
	tests := []struct {
		rel, target string
		warns       bool
	}{
		{"a", "b", false},
		{"a", ".", false},
		{"a", "..", true},
		{"a/b", "..", false},
		{"a/b", "../..", true},
		{"a/b", "c/../../d", false},
		{"a/b", "c/../../../d", true},
		{"a/b", "../..x", false},
		{"a", "/", true},
	}
	for _, tc := range tests {
		if got := linkWarning(tc.rel, tc.target) != ""; got != tc.warns {
			t.Errorf("linkWarning(%q, %q) warns = %v, want %v", tc.rel, tc.target, got, tc.warns)
		}
	}
}

func TestCollectRootErrors(t *testing.T) {
	root := t.TempDir()
	mkfile(t, root, "file", "", 0o644)
	tests := []struct {
		name, root, want string
	}{
		{"missing", filepath.Join(root, "missing"), "no such file or directory"},
		{"file", filepath.Join(root, "file"), "not a directory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Collect(Options{Root: tc.root})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "collecting ") {
				t.Errorf("Collect(%q) error = %v, want collecting ...: %s", tc.root, err, tc.want)
			}
		})
	}
}
