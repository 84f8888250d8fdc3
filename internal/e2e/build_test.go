package e2e

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// checkoutDir returns the root of the parker source tree.
func checkoutDir(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the source tree")
	}
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// requireCommands skips or fails the test when a program it runs is missing.
func requireCommands(t *testing.T, names ...string) {
	t.Helper()
	for _, name := range names {
		if _, err := exec.LookPath(name); err != nil {
			skipOrFail(t, name+" not installed")
		}
	}
}

// copyExampleTree copies the regular files and directories below src into dst.
func copyExampleTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(target, info.Mode().Perm()|0o700)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, info.Mode().Perm())
	})
	if err != nil {
		t.Fatalf("copying %s: %v", src, err)
	}
}

// installPrefix runs the repository's "make install" into a temporary
// DESTDIR, with the e2e binaries standing in for bin/, and returns the
// installed prefix.
func installPrefix(t *testing.T) string {
	t.Helper()
	src := t.TempDir()
	for _, name := range []string{"Makefile", "parker.mk"} {
		b, err := os.ReadFile(filepath.Join(checkoutDir(t), name))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(src, name), string(b), 0o644)
	}
	for bin, name := range map[string]string{parkerBin: "parker", runtimeBin: "parker-runtime"} {
		b, err := os.ReadFile(bin)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(src, "bin", name), string(b), 0o755)
	}
	dest := workdir(t)
	// -o keeps make from rebuilding the binaries with go build.
	cmd := exec.Command("make", "-o", "build", "-o", "bin/parker", "-o", "bin/parker-runtime",
		"install", "DESTDIR="+dest, "PREFIX=/usr/local")
	cmd.Dir = src
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make install: %v\n%s", err, out)
	}
	return filepath.Join(dest, "usr", "local")
}

// makeRun is a GNU make invocation in one directory with a fixed parker.
type makeRun struct {
	dir        string
	includeDir string // passed as -I
	parker     string // passed as PARKER=
}

// run runs make with args and returns its combined output and exit status.
func (m makeRun) run(t *testing.T, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command("make", append([]string{"-I", m.includeDir, "PARKER=" + m.parker}, args...)...)
	cmd.Dir = m.dir
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "PARKER_RUNTIME=") || strings.HasPrefix(kv, "MAKEFLAGS=")
	})
	out, err := cmd.CombinedOutput()
	code := exitStatus(err)
	if code < 0 {
		t.Fatalf("make %q: %v", args, err)
	}
	return string(out), code
}

// mustRun runs make and fails the test unless it succeeds.
func (m makeRun) mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, code := m.run(t, args...)
	if code != 0 {
		t.Fatalf("make %q: exit status %d\n%s", args, code, out)
	}
	return out
}

// upToDate checks that "make -q GOALS" exits 0 and that make then packs
// nothing: the artifact keeps its inode and modification time.
func (m makeRun) upToDate(t *testing.T, artifact string, goals ...string) {
	t.Helper()
	if out, code := m.run(t, append([]string{"-q"}, goals...)...); code != 0 {
		t.Errorf("make -q %q: exit status %d, want 0 (up to date)\n%s", goals, code, out)
	}
	before := statArtifact(t, filepath.Join(m.dir, artifact))
	out := m.mustRun(t, goals...)
	if strings.Contains(out, m.parker) {
		t.Errorf("make %q ran parker although nothing changed:\n%s", goals, out)
	}
	if after := statArtifact(t, filepath.Join(m.dir, artifact)); after != before {
		t.Errorf("make %q rewrote %s although nothing changed", goals, artifact)
	}
}

// rebuilds checks that "make -q" reports GOAL out of date and that make
// then packs it again.
func (m makeRun) rebuilds(t *testing.T, goal, change string) {
	t.Helper()
	if _, code := m.run(t, "-q", goal); code != 1 {
		t.Errorf("after %s: make -q %s exit status %d, want 1 (out of date)", change, goal, code)
	}
	before := statArtifact(t, filepath.Join(m.dir, goal))
	out := m.mustRun(t, goal)
	if !strings.Contains(out, m.parker+" -q") {
		t.Errorf("after %s: make %s did not run parker:\n%s", change, goal, out)
	}
	if after := statArtifact(t, filepath.Join(m.dir, goal)); after == before {
		t.Errorf("after %s: make %s left %s as it was", change, goal, goal)
	}
}

type artifactStamp struct {
	ino   uint64
	mtime time.Time
}

func statArtifact(t *testing.T, path string) artifactStamp {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("artifact missing: %v", err)
	}
	return artifactStamp{ino: fi.Sys().(*syscall.Stat_t).Ino, mtime: fi.ModTime()}
}

// packedFiles lists the regular files in an artifact.
func packedFiles(t *testing.T, path string) []string {
	t.Helper()
	out, stderr, err := parker(t, filepath.Dir(path), "--list", "--json", path)
	if err != nil {
		t.Fatalf("parker --list %s: %v\n%s", path, err, stderr)
	}
	return listedFiles(t, out)
}

// ageTree moves the modification time of everything below dir ten
// seconds back, as if the last build had run a while ago. The kernel
// stamps files with a clock that advances in ticks of a few milliseconds,
// so an edit right after a build could otherwise carry the artifact's own
// time and look older to make.
func ageTree(t *testing.T, dir string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.Type()&fs.ModeSymlink != 0 {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		earlier := info.ModTime().Add(-10 * time.Second)
		return os.Chtimes(path, earlier, earlier)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestMakeExampleRebuildsOnlyOnChange(t *testing.T) {
	requireCommands(t, "make", "cc")
	prefix := installPrefix(t)
	if _, err := os.Stat(filepath.Join(prefix, "include", "parker.mk")); err != nil {
		t.Fatalf("make install did not install parker.mk: %v", err)
	}
	dir := filepath.Join(workdir(t), "greeter")
	copyExampleTree(t, filepath.Join(checkoutDir(t), "examples", "make"), dir)
	// The copy is outside the repository, so the Makefile's include falls
	// back to parker.mk on make's include path: the installed one.
	m := makeRun{dir: dir, includeDir: filepath.Join(prefix, "include"), parker: filepath.Join(prefix, "bin", "parker")}
	art := filepath.Join(dir, "greeter-c")

	out := m.mustRun(t)
	if !strings.Contains(out, m.parker+" -q") {
		t.Errorf("first make did not pack:\n%s", out)
	}
	want := []string{"data/greeting.txt", "greeter"}
	if got := packedFiles(t, art); !slices.Equal(got, want) {
		t.Errorf("greeter-c holds %q, want %q (sources, Makefile and parker's depfiles left out)", got, want)
	}
	t.Run("run", func(t *testing.T) {
		requireRoot(t)
		tok := token(t)
		res := runArtifact(t, t.TempDir(), art, tok, "", "one")
		wantOut := "Hello from the greeter's data directory.\nargument 1: one\n"
		if res.stdout != wantOut || res.status != 0 {
			t.Errorf("greeter-c one = %q, status %d (stderr %q); want %q, status 0", res.stdout, res.status, res.stderr, wantOut)
		}
		assertNoLeftovers(t, tok, res.pid)
	})

	m.upToDate(t, "greeter-c")

	// The edit keeps the size, so only the depfile can catch it.
	greeting := filepath.Join(dir, "data", "greeting.txt")
	ageTree(t, dir)
	old, err := os.ReadFile(greeting)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, greeting, strings.ToUpper(string(old)), 0o644)
	m.rebuilds(t, "greeter-c", "editing an asset")
	m.upToDate(t, "greeter-c")

	ageTree(t, dir)
	writeFile(t, filepath.Join(dir, "data", "new.txt"), "new\n", 0o644)
	m.rebuilds(t, "greeter-c", "adding an asset")
	if got := packedFiles(t, art); !slices.Contains(got, "data/new.txt") {
		t.Errorf("greeter-c holds %q, want data/new.txt in it", got)
	}
	m.upToDate(t, "greeter-c")

	ageTree(t, dir)
	if err := os.Remove(filepath.Join(dir, "data", "new.txt")); err != nil {
		t.Fatal(err)
	}
	m.rebuilds(t, "greeter-c", "deleting an asset")
	if got := packedFiles(t, art); !slices.Equal(got, want) {
		t.Errorf("greeter-c holds %q, want %q", got, want)
	}
	m.upToDate(t, "greeter-c")

	ageTree(t, dir)
	if err := os.Chmod(greeting, 0o600); err != nil {
		t.Fatal(err)
	}
	m.rebuilds(t, "greeter-c", "changing an asset's mode")
	m.upToDate(t, "greeter-c")

	// Files the .parkerignore leaves out are not prerequisites.
	ageTree(t, dir)
	writeFile(t, filepath.Join(dir, ".gitignore"), "changed\n", 0o644)
	m.upToDate(t, "greeter-c")

	m.mustRun(t, "clean")
	names, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, n := range names {
		left = append(left, n.Name())
	}
	wantLeft := []string{".gitignore", ".parkerignore", "Makefile", "data", "greeter.c"}
	if !slices.Equal(left, wantLeft) {
		t.Errorf("after make clean the directory holds %q, want %q", left, wantLeft)
	}
}

const parallelMakefile = `PARKER_ARTIFACTS = app-c tool-c
include parker.mk

first:
	@echo the first target of this Makefile ran

app: app.c
	$(CC) -o $@ $<

tool: tool.c
	$(CC) -o $@ $<

scrub: parker-clean
	rm -f app tool
`

func TestMakeParallelArtifacts(t *testing.T) {
	requireCommands(t, "make", "cc")
	dir := workdir(t)
	writeFile(t, filepath.Join(dir, "Makefile"), parallelMakefile, 0o644)
	writeFile(t, filepath.Join(dir, "app.c"), "int main(void) { return 0; }\n", 0o644)
	writeFile(t, filepath.Join(dir, "tool.c"), "int main(void) { return 1; }\n", 0o644)
	writeFile(t, filepath.Join(dir, "asset.bin"), strings.Repeat("payload ", 1<<17), 0o644)
	m := makeRun{dir: dir, includeDir: checkoutDir(t), parker: parkerBin}
	t.Setenv("PARKER_RUNTIME", runtimeBin)

	// parker.mk, included above the Makefile's own rules, leaves the
	// default goal to them.
	if out := m.mustRun(t); !strings.Contains(out, "the first target of this Makefile ran") {
		t.Errorf("make with no goal ran\n%s\nwant the Makefile's first target", out)
	}

	want := []string{"Makefile", "app", "app.c", "asset.bin", "tool", "tool.c"}
	for round := range 4 {
		m.mustRun(t, "scrub")
		m.mustRun(t, "-j4", "parker-all")
		for _, a := range []string{"app-c", "tool-c"} {
			if got := packedFiles(t, filepath.Join(dir, a)); !slices.Equal(got, want) {
				t.Errorf("round %d: %s holds %q, want %q (no other artifact, no temporary file)", round, a, got, want)
			}
		}
		m.upToDate(t, "app-c", "parker-all")
	}

	// The other artifact is left out silently, and named under -v.
	_, stderr, err := parker(t, dir, "--dry-run", "app")
	if err != nil || stderr != "" {
		t.Errorf("parker --dry-run app: error %v, stderr %q; want no warning", err, stderr)
	}
	_, stderr, _ = parker(t, dir, "-v", "--dry-run", "app")
	if want := `parker: skipping "tool-c": it is a parker artifact`; !strings.Contains(stderr, want) {
		t.Errorf("parker -v --dry-run app stderr = %q, want it to contain %q", stderr, want)
	}

	if out := m.mustRun(t, "parker-clean"); strings.Contains(out, "Error") {
		t.Errorf("make parker-clean:\n%s", out)
	}
	for _, name := range []string{"app-c", "tool-c", ".parker"} {
		if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
			t.Errorf("make parker-clean left %s", name)
		}
	}
}

// A target named on the command line with a directory packs the current
// directory and keeps its depfile apart from a top-level artifact's. Both
// programs are built first: each artifact packs the other's program too.
func TestMakeArtifactInSubdirectory(t *testing.T) {
	requireCommands(t, "make", "cc")
	dir := workdir(t)
	writeFile(t, filepath.Join(dir, "Makefile"), "bin/app: app.c\n\tmkdir -p bin && $(CC) -o $@ $<\napp: app.c\n\t$(CC) -o $@ $<\ninclude parker.mk\n", 0o644)
	writeFile(t, filepath.Join(dir, "app.c"), "int main(void) { return 0; }\n", 0o644)
	m := makeRun{dir: dir, includeDir: checkoutDir(t), parker: parkerBin}
	t.Setenv("PARKER_RUNTIME", runtimeBin)

	m.mustRun(t, "bin/app", "app")
	m.mustRun(t, "bin/app-c", "app-c")
	for _, a := range []string{"bin/app-c", "app-c"} {
		files := packedFiles(t, filepath.Join(dir, a))
		if !slices.Contains(files, "bin/app") || slices.ContainsFunc(files, func(f string) bool { return strings.HasSuffix(f, "-c") }) {
			t.Errorf("%s holds %q, want bin/app and no artifact", a, files)
		}
	}
	m.upToDate(t, "bin/app-c", "bin/app-c", "app-c")
	ageTree(t, dir)
	writeFile(t, filepath.Join(dir, "bin", "extra"), "x\n", 0o644)
	m.rebuilds(t, "bin/app-c", "adding a file")
	m.rebuilds(t, "app-c", "adding a file")
	out := m.mustRun(t, "parker-clean")
	if _, err := os.Lstat(filepath.Join(dir, ".parker")); err == nil {
		t.Errorf("make parker-clean left .parker:\n%s", out)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "bin", "extra")); !bytes.Equal(b, []byte("x\n")) {
		t.Errorf("make parker-clean removed bin/extra")
	}
}
