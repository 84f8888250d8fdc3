package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// ignoreTree is the workdir the ignore rule cases run against: a target,
// files named so that each case keeps some and leaves out others, a file
// named like a directory elsewhere (sub/build, other/cache) and one whose
// name starts with "#".
var ignoreTree = []string{
	"#hash", "app", "build/keep/k.o", "build/sub/y", "build/x.o", "debug.log",
	"doc/a.md", "doc/deep/b.md", "keep.log", "logs/a.log", "logs/keep.log",
	"other/cache", "sub/build", "sub/cache/c", "sub/top.txt", "top.txt",
}

// without returns ignoreTree minus the named files.
func without(names ...string) []string {
	return slices.DeleteFunc(slices.Clone(ignoreTree), func(n string) bool { return slices.Contains(names, n) })
}

// dryRunLine is one entry line of "parker --dry-run": mode, size, path
// (directories end with "/", links carry " -> TARGET").
var dryRunLine = regexp.MustCompile(`^([-a-zA-Z]{10,}) +(\d+) (.+)$`)

// dryRunFiles runs parker --dry-run in dir and returns the regular files
// and the directories it would pack.
func dryRunFiles(t *testing.T, dir string, args ...string) (files, dirs []string, stderr string) {
	t.Helper()
	stdout, stderr, err := parker(t, dir, append([]string{"--dry-run"}, args...)...)
	if err != nil {
		t.Fatalf("parker --dry-run %q: %v\n%s", args, err, stderr)
	}
	for _, line := range strings.Split(strings.TrimSuffix(stdout, "\n"), "\n") {
		m := dryRunLine.FindStringSubmatch(line)
		switch {
		case m == nil:
			continue
		case strings.HasPrefix(m[1], "d"):
			dirs = append(dirs, strings.TrimSuffix(m[3], "/"))
		case strings.HasPrefix(m[1], "-"):
			files = append(files, m[3])
		}
	}
	return files, dirs, stderr
}

func TestIgnoreRulesThroughParker(t *testing.T) {
	tests := []struct {
		name         string
		parkerignore string // content of .parkerignore; empty means no file
		ignoreFile   string // content of the --ignore-file, which lives outside the workdir
		excludes     []string
		want         []string // regular files packed, .parkerignore aside
		wantDirs     []string // directories that must be packed
		absentDirs   []string // directories that must not be packed
	}{
		{name: "no rules", want: ignoreTree},
		{
			name:         "re-include a file",
			parkerignore: "*.log\n!keep.log\n",
			want:         without("debug.log", "logs/a.log"),
		},
		{
			name:         "no re-include below an excluded directory",
			parkerignore: "logs/\n!logs/keep.log\n",
			want:         without("logs/a.log", "logs/keep.log"),
			absentDirs:   []string{"logs"},
		},
		{
			name:         "re-include a directory after its parent's contents",
			parkerignore: "build/*\n!build/keep/\n",
			want:         without("build/x.o", "build/sub/y"),
			wantDirs:     []string{"build", "build/keep"},
			absentDirs:   []string{"build/sub"},
		},
		{
			name:         "directory-only patterns spare files",
			parkerignore: "build/\ncache/\n",
			want:         without("build/keep/k.o", "build/sub/y", "build/x.o", "sub/cache/c"),
			absentDirs:   []string{"build", "sub/cache"},
		},
		{
			name:         "anchored pattern",
			parkerignore: "/top.txt\n",
			want:         without("top.txt"),
		},
		{
			name:         "double star matches zero directories",
			parkerignore: "doc/**/*.md\n",
			want:         without("doc/a.md", "doc/deep/b.md"),
			wantDirs:     []string{"doc", "doc/deep"},
		},
		{
			name:         "contents of a directory with one re-included",
			parkerignore: "sub/**\n!sub/top.txt\n",
			want:         without("sub/build", "sub/cache/c"),
			wantDirs:     []string{"sub"},
		},
		{
			name:         "escaped hash",
			parkerignore: "# a comment\n\\#hash\n",
			want:         without("#hash"),
		},
		{
			name:         "ignore file overrides parkerignore",
			parkerignore: "*.log\n",
			ignoreFile:   "!debug.log\n",
			want:         without("keep.log", "logs/a.log", "logs/keep.log"),
		},
		{
			name:         "exclude overrides both files",
			parkerignore: "*.log\n!keep.log\n",
			ignoreFile:   "!debug.log\n",
			excludes:     []string{"keep.log"},
			want:         without("keep.log", "logs/a.log", "logs/keep.log"),
		},
		{
			name:       "exclude is repeatable",
			excludes:   []string{"*.o", "/top.txt", "doc/"},
			want:       without("build/keep/k.o", "build/x.o", "top.txt", "doc/a.md", "doc/deep/b.md"),
			absentDirs: []string{"doc"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := workdir(t)
			for _, name := range ignoreTree {
				mode := os.FileMode(0o644)
				if name == "app" {
					mode = 0o755
				}
				writeFile(t, filepath.Join(dir, name), name+"\n", mode)
			}
			want := tc.want
			if tc.parkerignore != "" {
				writeFile(t, filepath.Join(dir, ".parkerignore"), tc.parkerignore, 0o644)
				want = append([]string{".parkerignore"}, want...)
				slices.Sort(want)
			}
			var args []string
			if tc.ignoreFile != "" {
				path := filepath.Join(t.TempDir(), "extra.ignore")
				writeFile(t, path, tc.ignoreFile, 0o644)
				args = append(args, "--ignore-file", path)
			}
			for _, glob := range tc.excludes {
				args = append(args, "--exclude", glob)
			}
			args = append(args, "app")

			files, dirs, stderr := dryRunFiles(t, dir, args...)
			if !slices.Equal(files, want) {
				t.Errorf("parker --dry-run %q packs\n  %q\nwant\n  %q", args, files, want)
			}
			for _, d := range tc.wantDirs {
				if !slices.Contains(dirs, d) {
					t.Errorf("parker --dry-run %q leaves out directory %s, want it packed", args, d)
				}
			}
			for _, d := range tc.absentDirs {
				if slices.Contains(dirs, d) {
					t.Errorf("parker --dry-run %q packs directory %s, want it left out", args, d)
				}
			}
			if stderr != "" {
				t.Errorf("parker --dry-run stderr = %q, want nothing", stderr)
			}

			// The artifact holds exactly what the dry run listed.
			pack(t, dir, args...)
			list, stderr, err := parker(t, dir, "--list", "--json", "app-c")
			if err != nil {
				t.Fatalf("parker --list --json: %v\n%s", err, stderr)
			}
			if packed := listedFiles(t, list); !slices.Equal(packed, want) {
				t.Errorf("artifact holds\n  %q\nwant\n  %q", packed, want)
			}
		})
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	dir := workdir(t)
	writeFile(t, filepath.Join(dir, "app"), "#!/bin/sh\n", 0o755)
	writeFile(t, filepath.Join(dir, "data", "a.txt"), "a\n", 0o644)
	depDir := workdir(t)
	outDir := workdir(t)

	stdout, stderr, err := parker(t, dir, "--dry-run", "--depfile", filepath.Join(depDir, "app-c.d"), "app")
	if err != nil {
		t.Fatalf("parker --dry-run: %v\n%s", err, stderr)
	}
	wantLast := "would write " + filepath.Join(dir, "app-c") + " (dry run, nothing written)"
	if !strings.HasSuffix(strings.TrimSpace(stdout), wantLast) {
		t.Errorf("parker --dry-run output ends %q, want it to end %q", stdout, wantLast)
	}
	if _, _, err := parker(t, dir, "--dry-run", "-o", filepath.Join(outDir, "x-c"), "app"); err != nil {
		t.Fatalf("parker --dry-run -o: %v", err)
	}
	for _, d := range []string{dir, depDir, outDir} {
		names, err := os.ReadDir(d)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			if n.Name() != "app" && n.Name() != "data" {
				t.Errorf("dry run left %s in %s", n.Name(), d)
			}
		}
	}
}

func TestIgnoreRuleMatchingTargetWarns(t *testing.T) {
	dir := workdir(t)
	writeFile(t, filepath.Join(dir, "bin", "app"), "#!/bin/sh\n", 0o755)
	writeFile(t, filepath.Join(dir, "bin", "other"), "#!/bin/sh\n", 0o755)
	writeFile(t, filepath.Join(dir, ".parkerignore"), "# programs\nbin/\n", 0o644)

	_, stderr, err := parker(t, dir, "-q", "bin/app")
	if err != nil {
		t.Fatalf("parker bin/app: %v\n%s", err, stderr)
	}
	wantWarning := "parker: warning: " + filepath.Join(dir, ".parkerignore") + `:2: pattern "bin/" matches "bin", which contains the target "bin/app"`
	if !strings.Contains(stderr, wantWarning) {
		t.Errorf("stderr = %q, want it to contain %q", stderr, wantWarning)
	}
	list, _, err := parker(t, dir, "--list", "--json", "app-c")
	if err != nil {
		t.Fatal(err)
	}
	if files := listedFiles(t, list); !slices.Equal(files, []string{".parkerignore", "bin/app"}) {
		t.Errorf("artifact holds %q, want .parkerignore and bin/app (bin/other excluded)", files)
	}
}

func TestInvalidIgnorePatternNamesFileAndLine(t *testing.T) {
	dir := workdir(t)
	writeFile(t, filepath.Join(dir, "app"), "#!/bin/sh\n", 0o755)
	extra := filepath.Join(t.TempDir(), "extra.ignore")
	writeFile(t, extra, "ok\n\n# comment\nbad[\n", 0o644)

	tests := []struct {
		name         string
		parkerignore string
		args         []string
		want         string
	}{
		{"parkerignore", "fine\nalso[fine]\nx[\n", nil, filepath.Join(dir, ".parkerignore") + `:3: invalid pattern "x["`},
		{"ignore file", "", []string{"--ignore-file", extra}, extra + `:4: invalid pattern "bad["`},
		{"exclude", "", []string{"--exclude", "[z"}, `--exclude: invalid pattern "[z"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			os.Remove(filepath.Join(dir, ".parkerignore"))
			if tc.parkerignore != "" {
				writeFile(t, filepath.Join(dir, ".parkerignore"), tc.parkerignore, 0o644)
			}
			for _, mode := range []string{"--dry-run", "-q"} {
				_, stderr, err := parker(t, dir, append(append([]string{mode}, tc.args...), "app")...)
				if code := exitStatus(err); code != 1 {
					t.Errorf("parker %s: exit status %d, want 1", mode, code)
				}
				if !strings.HasPrefix(stderr, "parker: "+tc.want) {
					t.Errorf("parker %s stderr = %q, want it to start with %q", mode, stderr, "parker: "+tc.want)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "app-c")); err == nil {
				t.Errorf("artifact written despite the invalid pattern")
			}
		})
	}
}

// exitStatus returns the exit status in an error from exec.Cmd.Run: 0 for
// nil, -1 when the command did not run.
func exitStatus(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(interface{ ExitCode() int }); ok {
		return ee.ExitCode()
	}
	return -1
}
