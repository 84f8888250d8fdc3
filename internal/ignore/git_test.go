package ignore

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// gitRules avoids braces, which git reads literally and doublestar as an
// alternation.
const gitRules = `*.o
!keep.o
build/
!build/keep
/top
docs/*.md
!docs/README.md
**/cache
foo/**
!foo/keep
a/**/z
\#hash
\!bang
sp\ 
trail   
logs/
!logs/
dir-only/
`

var gitTree = []string{
	"x.o", "keep.o", "sub/y.o", "sub/keep.o",
	"build/keep", "build/out", "sub/build/f",
	"top", "sub/top",
	"docs/a.md", "docs/README.md", "docs/sub/b.md",
	"cache/c", "deep/er/cache/c",
	"foo/keep", "foo/bar", "foo/sub/keep",
	"a/z", "a/b/c/z", "a/b/y",
	"#hash", "!bang", "sp ", "trail",
	"logs/l", "dir-only", "sub/dir-only/f",
}

// TestMatchAgreesWithGit checks Match against git itself: the untracked files
// that git does not ignore must be exactly those that Match keeps, and
// git check-ignore must agree path by path.
func TestMatchAgreesWithGit(t *testing.T) {
	gitPath, err := exec.LookPath("git")
	if err != nil {
		t.Skip("git is not installed")
	}
	dir := t.TempDir()
	git := func(stdin string, args ...string) (string, error) {
		cmd := exec.Command(gitPath, args...)
		cmd.Dir = dir
		cmd.Stdin = strings.NewReader(stdin)
		cmd.Env = append(os.Environ(),
			"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
			"HOME="+dir, "XDG_CONFIG_HOME="+dir)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			err = errors.Join(err, errors.New(stderr.String()))
		}
		return string(out), err
	}
	if _, err := git("", "init", "-q", "."); err != nil {
		t.Fatalf("git init: %v", err)
	}
	writeTree(t, dir, append(slices.Clone(gitTree), ".gitignore"))
	if err := os.WriteFile(filepath.Join(dir, ".gitignore"), []byte(gitRules), 0o644); err != nil {
		t.Fatal(err)
	}

	rules, err := Parse(".gitignore", strings.NewReader(gitRules))
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewMatcher(rules)
	if err != nil {
		t.Fatal(err)
	}

	out, err := git("", "ls-files", "-z", "--others", "--exclude-standard")
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	gitKept := strings.Split(strings.TrimSuffix(out, "\x00"), "\x00")
	slices.Sort(gitKept)
	ourKept := keptFiles(t, dir, m)
	if !slices.Equal(ourKept, gitKept) {
		t.Errorf("files kept by Match = %q, want git's %q", ourKept, gitKept)
	}

	for _, p := range gitTree {
		_, err := git("", "check-ignore", "-q", "--no-index", p)
		var exitErr *exec.ExitError
		gitExcluded := err == nil
		if err != nil && (!errors.As(err, &exitErr) || exitErr.ExitCode() != 1) {
			t.Fatalf("git check-ignore %q: %v", p, err)
		}
		if excluded, _ := m.Match(p, false); excluded != gitExcluded {
			t.Errorf("Match(%q) = %v, want %v as git check-ignore says", p, excluded, gitExcluded)
		}
	}
}

// writeTree creates each slash path under dir as an empty file, with its parents.
func writeTree(t *testing.T, dir string, files []string) {
	t.Helper()
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// keptFiles returns the regular files under dir that m does not exclude,
// pruning excluded directories and .git as git does.
func keptFiles(t *testing.T, dir string, m *Matcher) []string {
	t.Helper()
	var keptPaths []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel := filepath.ToSlash(strings.TrimPrefix(p, dir+"/"))
		if rel == ".git" {
			return filepath.SkipDir
		}
		excluded, _ := m.Match(rel, d.IsDir())
		switch {
		case excluded && d.IsDir():
			return filepath.SkipDir
		case !excluded && !d.IsDir():
			keptPaths = append(keptPaths, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(keptPaths)
	return keptPaths
}
