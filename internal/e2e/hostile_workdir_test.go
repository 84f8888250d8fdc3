package e2e

import (
	"bytes"
	"crypto/rand"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// nobodyID is the uid and gid of the user nobody, which tests drop to
// because permission bits do not stop root from reading.
const nobodyID = "65534"

// parkerAs runs parker as the user nobody through setpriv and returns its
// output and exit status.
func parkerAs(t *testing.T, dir string, args ...string) (string, string, int) {
	t.Helper()
	requireRoot(t)
	if _, err := exec.LookPath("setpriv"); err != nil {
		skipOrFail(t, "setpriv not installed")
	}
	argv := append([]string{"--reuid=" + nobodyID, "--regid=" + nobodyID, "--clear-groups", parkerBin}, args...)
	cmd := exec.Command("setpriv", argv...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PARKER_RUNTIME="+runtimeBin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), exitCode(err)
}

// checkNoOutput verifies that dir holds no artifact and no temporary file
// beyond the names in keep.
func checkNoOutput(t *testing.T, dir string, keep ...string) {
	t.Helper()
	for _, name := range dirNames(t, dir) {
		if slices.Contains(keep, name) {
			continue
		}
		if strings.HasSuffix(name, "-c") || strings.Contains(name, "parker-tmp") {
			t.Errorf("%s left in %s after the failed pack", name, dir)
		}
	}
}

// listPaths extracts artifact with parker --extract and returns the slash
// paths of what it holds, sorted.
func listPaths(t *testing.T, artifact string) []string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "extract")
	if _, stderr, err := parker(t, filepath.Dir(artifact), "--extract", artifact, dir); err != nil {
		t.Fatalf("parker --extract %s: %v\n%s", artifact, err, stderr)
	}
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		paths = append(paths, filepath.ToSlash(rel))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(paths)
	return paths
}

// sharedWorkdir returns a working directory that every user can read,
// with its parent searchable too, for parker run as the user nobody.
func sharedWorkdir(t *testing.T) string {
	t.Helper()
	dir := workdir(t)
	if err := os.Chmod(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestPackUnreadable(t *testing.T) {
	dir := sharedWorkdir(t)
	writeFile(t, filepath.Join(dir, "app"), markerScript, 0o755)
	writeFile(t, filepath.Join(dir, "data", "ok"), "ok\n", 0o644)
	writeFile(t, filepath.Join(dir, "data", "secret"), "secret\n", 0o000)
	writeFile(t, filepath.Join(dir, "locked", "inner"), "inner\n", 0o644)
	if err := os.Chmod(filepath.Join(dir, "locked"), 0o000); err != nil {
		t.Fatal(err)
	}
	out := sharedWorkdir(t)
	if err := os.Chmod(out, 0o777); err != nil {
		t.Fatal(err)
	}
	artifact := filepath.Join(out, "app-c")

	t.Run("error names the path", func(t *testing.T) {
		_, stderr, code := parkerAs(t, dir, "-o", artifact, "app")
		if code != 1 {
			t.Errorf("exit status = %d, want 1 (stderr %q)", code, stderr)
		}
		if !strings.HasPrefix(stderr, "parker: ") || !strings.Contains(stderr, `"data/secret"`) ||
			!strings.Contains(stderr, "--skip-unreadable") {
			t.Errorf("stderr = %q, want a parker: error naming \"data/secret\" and --skip-unreadable", stderr)
		}
		checkNoOutput(t, out)
		checkNoOutput(t, dir)
	})
	t.Run("skip-unreadable", func(t *testing.T) {
		_, stderr, code := parkerAs(t, dir, "-q", "--skip-unreadable", "-o", artifact, "app")
		if code != 0 {
			t.Fatalf("exit status = %d, want 0 (stderr %q)", code, stderr)
		}
		for _, name := range []string{`"data/secret"`, `"locked"`} {
			if !strings.Contains(stderr, "warning") || !strings.Contains(stderr, name) {
				t.Errorf("stderr = %q, want a warning naming %s", stderr, name)
			}
		}
		paths := listPaths(t, artifact)
		for _, p := range []string{"data/secret", "locked", "locked/inner"} {
			if slices.Contains(paths, p) {
				t.Errorf("artifact holds %s, which parker could not read: %q", p, paths)
			}
		}
		if !slices.Contains(paths, "data/ok") {
			t.Errorf("artifact paths = %q, want data/ok", paths)
		}
	})
}

func TestPackFileGrowing(t *testing.T) {
	dir := workdir(t)
	writeFile(t, filepath.Join(dir, "app"), markerScript, 0o755)
	big := filepath.Join(dir, "log")
	if err := os.WriteFile(big, make([]byte, 64<<20), 0o644); err != nil {
		t.Fatal(err)
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		f, err := os.OpenFile(big, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Error(err)
			return
		}
		defer f.Close()
		line := bytes.Repeat([]byte("x"), 4096)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := f.Write(line); err != nil {
				t.Error(err)
				return
			}
			time.Sleep(100 * time.Microsecond)
		}
	})
	_, stderr, err := parker(t, dir, "-q", "app")
	close(stop)
	wg.Wait()

	if code := exitCode(err); code != 1 {
		t.Errorf("exit status = %d, want 1 (stderr %q)", code, stderr)
	}
	if !strings.HasPrefix(stderr, "parker: ") || !strings.Contains(stderr, `"log"`) ||
		!strings.Contains(stderr, "changed while packing") {
		t.Errorf("stderr = %q, want a parker: error that \"log\" changed while packing", stderr)
	}
	checkNoOutput(t, dir)
}

func TestPackFileRemovedWhilePacking(t *testing.T) {
	dir := workdir(t)
	writeFile(t, filepath.Join(dir, "app"), markerScript, 0o755)
	// "a-big" is packed first and takes long enough to compress that the
	// removal below happens before the walk's result reaches "z-victim".
	if err := os.WriteFile(filepath.Join(dir, "a-big"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(filepath.Join(dir, "a-big"), 512<<20); err != nil {
		t.Fatal(err)
	}
	victim := filepath.Join(dir, "z-victim")
	writeFile(t, victim, "soon gone\n", 0o644)

	cmd := exec.Command(parkerBin, "-q", "app")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PARKER_RUNTIME="+runtimeBin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The temporary output appears once the walk is over and writing began.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if m, _ := filepath.Glob(filepath.Join(dir, ".app-c.parker-tmp-*")); len(m) > 0 {
			break
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("no temporary output after 10s (stderr %q)", stderr.String())
		}
		time.Sleep(time.Millisecond)
	}
	if err := os.Remove(victim); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()

	if code := exitCode(err); code != 1 {
		t.Errorf("exit status = %d, want 1 (stderr %q)", code, stderr.String())
	}
	if msg := stderr.String(); !strings.HasPrefix(msg, "parker: ") || !strings.Contains(msg, `"z-victim"`) ||
		!strings.Contains(msg, "removed") {
		t.Errorf("stderr = %q, want a parker: error that \"z-victim\" was removed", msg)
	}
	checkNoOutput(t, dir)
}

func TestPackSymlinks(t *testing.T) {
	dir := workdir(t)
	writeFile(t, filepath.Join(dir, "app"), "#!/bin/sh\nreadlink loop-a self abs up\ncat inside\n", 0o755)
	writeFile(t, filepath.Join(dir, "real"), "inside\n", 0o644)
	links := map[string]string{
		"loop-a": "loop-b",
		"loop-b": "loop-a",
		"self":   "self",
		"abs":    "/etc/hostname",
		"up":     "../../outside",
		"inside": "real",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	_, stderr, err := parker(t, dir, "-q", "app")
	if err != nil {
		t.Fatalf("parker app: %v\n%s", err, stderr)
	}
	for _, name := range []string{`"abs"`, `"up"`} {
		if !strings.Contains(stderr, "warning") || !strings.Contains(stderr, name) {
			t.Errorf("stderr = %q, want a warning naming the link %s", stderr, name)
		}
	}
	for _, name := range []string{`"loop-a"`, `"self"`, `"inside"`} {
		if strings.Contains(stderr, name) {
			t.Errorf("stderr = %q, want no warning for the link %s inside the workdir", stderr, name)
		}
	}
	paths := listPaths(t, filepath.Join(dir, "app-c"))
	for name := range links {
		if !slices.Contains(paths, name) {
			t.Errorf("artifact paths = %q, want the link %s", paths, name)
		}
	}

	t.Run("run", func(t *testing.T) {
		requireRoot(t)
		runDir := workdir(t)
		if err := os.Rename(filepath.Join(dir, "app-c"), filepath.Join(runDir, "app-c")); err != nil {
			t.Fatal(err)
		}
		tok := token(t)
		res := runArtifact(t, runDir, "./app-c", tok, "")
		want := "loop-b\nself\n/etc/hostname\n../../outside\ninside\n"
		if res.stdout != want || res.status != 0 {
			t.Errorf("run = %q status %d, want %q status 0 (stderr %q)", res.stdout, res.status, want, res.stderr)
		}
		assertNoLeftovers(t, tok, res.pid)
	})

	t.Run("target below a link out of the workdir", func(t *testing.T) {
		if err := os.Symlink(filepath.Dir(parkerBin), filepath.Join(dir, "hostbin")); err != nil {
			t.Fatal(err)
		}
		_, stderr, err := parker(t, dir, "-q", "-o", filepath.Join(t.TempDir(), "x-c"), "hostbin/parker")
		if exitCode(err) != 1 || !strings.Contains(stderr, `"hostbin/parker"`) || !strings.Contains(stderr, "symbolic link") {
			t.Errorf("parker hostbin/parker: exit %d, stderr %q; want exit 1 and an error about the link", exitCode(err), stderr)
		}
	})
	t.Run("target is a loop", func(t *testing.T) {
		_, stderr, err := parker(t, dir, "-q", "-o", filepath.Join(t.TempDir(), "x-c"), "loop-a")
		if exitCode(err) != 1 || !strings.Contains(stderr, `"loop-a"`) {
			t.Errorf("parker loop-a: exit %d, stderr %q; want exit 1 and an error naming \"loop-a\"", exitCode(err), stderr)
		}
	})
}

func TestPackLongAndOddNames(t *testing.T) {
	dir := workdir(t)
	long := strings.Repeat("n", 200)
	deep := filepath.Join(strings.Repeat("d123456789/", 40), "leaf") // 444 bytes
	odd := "caf\xe9 \x01\x7f tab\there"
	files := map[string]string{
		long:                          "long name\n",
		deep:                          "deep path\n",
		odd:                           "not UTF-8\n",
		filepath.Join(long+"d", long): "long in long\n",
		"\xff\xfe/\xc3\x28invalid":    "invalid sequences\n",
	}
	writeFile(t, filepath.Join(dir, "app"), "#!/bin/sh\ncat \"$(dirname \"$0\")/"+deep+"\"\n", 0o755)
	for name, content := range files {
		writeFile(t, filepath.Join(dir, name), content, 0o644)
	}
	_, stderr, err := parker(t, dir, "-q", "app")
	if err != nil {
		t.Fatalf("parker app: %v\n%s", err, stderr)
	}
	artifact := filepath.Join(dir, "app-c")

	extract := filepath.Join(t.TempDir(), "x")
	if _, stderr, err := parker(t, dir, "--extract", artifact, extract); err != nil {
		t.Fatalf("parker --extract: %v\n%s", err, stderr)
	}
	for name, content := range files {
		b, err := os.ReadFile(filepath.Join(extract, name))
		if err != nil || string(b) != content {
			t.Errorf("extracted %q = %q (error %v), want %q", name, b, err, content)
		}
	}

	t.Run("run", func(t *testing.T) {
		requireRoot(t)
		tok := token(t)
		res := runArtifact(t, dir, "./app-c", tok, "")
		if res.stdout != "deep path\n" || res.status != 0 {
			t.Errorf("run = %q status %d, want \"deep path\" status 0 (stderr %q)", res.stdout, res.status, res.stderr)
		}
		assertNoLeftovers(t, tok, res.pid)
	})
}

func TestPackSparseFile(t *testing.T) {
	dir := workdir(t)
	writeFile(t, filepath.Join(dir, "app"), markerScript, 0o755)
	sparse := filepath.Join(dir, "sparse")
	f, err := os.Create(sparse)
	if err != nil {
		t.Fatal(err)
	}
	// Data, a 64 MiB hole, data, and a hole up to the end.
	for _, w := range []struct {
		off  int64
		data string
	}{{0, "start"}, {64 << 20, "middle"}} {
		if _, err := f.WriteAt([]byte(w.data), w.off); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Truncate(96 << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	pack(t, dir, "app")

	extract := filepath.Join(t.TempDir(), "x")
	if _, stderr, err := parker(t, dir, "--extract", filepath.Join(dir, "app-c"), extract); err != nil {
		t.Fatalf("parker --extract: %v\n%s", err, stderr)
	}
	want, _ := os.ReadFile(sparse)
	got, err := os.ReadFile(filepath.Join(extract, "sparse"))
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("extracted sparse file: %d bytes (error %v), want the %d bytes packed", len(got), err, len(want))
	}
}

// TestPackFileOver8GiB packs a sparse file just over 8 GiB, the largest
// size a USTAR header holds, which needs a PAX size record.
func TestPackFileOver8GiB(t *testing.T) {
	if os.Getenv("PARKER_TEST_LARGE") != "1" {
		t.Skip("compresses 8 GiB; set PARKER_TEST_LARGE=1 to run")
	}
	dir := workdir(t)
	writeFile(t, filepath.Join(dir, "app"), markerScript, 0o755)
	const size = 8<<30 + 1
	big := filepath.Join(dir, "big")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("end"), size-3); err != nil {
		t.Fatal(err)
	}
	f.Close()

	probe := filepath.Join(t.TempDir(), "maxrss")
	compileC(t, probe, maxRSSProbe)
	start := time.Now()
	res, rss := runMeasured(t, probe, dir, token(t), parkerBin, "-q", "app")
	t.Logf("packing %d bytes took %v, max RSS %d MiB", int64(size), time.Since(start), rss>>20)
	if res.status != 0 {
		t.Fatalf("parker app: exit status %d (stderr %q)", res.status, res.stderr)
	}
	if rss > 512<<20 {
		t.Errorf("parker max RSS = %d MiB, want below 512 MiB: it must stream the file", rss>>20)
	}
	stdout, stderr, err := parker(t, dir, "--list", "--json", "app-c")
	if err != nil || !strings.Contains(stdout, "8589934593") {
		t.Errorf("parker --list --json = %q (error %v, stderr %q), want big with 8589934593 bytes", stdout, err, stderr)
	}
}

func TestPackTargetAbsolutePath(t *testing.T) {
	dir := workdir(t)
	writeFile(t, filepath.Join(dir, "bin", "app"), markerScript, 0o755)
	caller := workdir(t)
	pack(t, caller, "-C", dir, filepath.Join(dir, "bin", "app"))
	if paths := listPaths(t, filepath.Join(dir, "app-c")); !slices.Contains(paths, "bin/app") {
		t.Errorf("artifact paths = %q, want bin/app", paths)
	}
	if names := dirNames(t, caller); len(names) > 0 {
		t.Errorf("parker -C wrote %q into the current directory", names)
	}
	t.Run("run", func(t *testing.T) {
		requireRoot(t)
		tok := token(t)
		res := runArtifact(t, caller, filepath.Join(dir, "app-c"), tok, "")
		if res.stdout != targetMarker+"\n" || res.status != 0 {
			t.Errorf("run = %q status %d, want %q (stderr %q)", res.stdout, res.status, targetMarker, res.stderr)
		}
		assertNoLeftovers(t, tok, res.pid)
	})
}

func TestPackDirectoryFlag(t *testing.T) {
	dir := workdir(t)
	writeFile(t, filepath.Join(dir, "app"), markerScript, 0o755)
	writeFile(t, filepath.Join(dir, "asset"), "asset\n", 0o644)
	caller := workdir(t)
	writeFile(t, filepath.Join(caller, "stray"), "from the caller\n", 0o644)
	pack(t, caller, "-C", dir, "app")
	paths := listPaths(t, filepath.Join(dir, "app-c"))
	if !slices.Equal(paths, []string{"app", "asset"}) {
		t.Errorf("artifact paths = %q, want app and asset from the -C directory", paths)
	}
	if names := dirNames(t, caller); !slices.Equal(names, []string{"stray"}) {
		t.Errorf("current directory holds %q after parker -C, want only stray", names)
	}
}

func TestPackOutputInsideWorkdir(t *testing.T) {
	dir := workdir(t)
	writeFile(t, filepath.Join(dir, "app"), markerScript, 0o755)
	writeFile(t, filepath.Join(dir, "out", "keep"), "keep\n", 0o644)
	output := filepath.Join(dir, "out", "tool-c")
	for range 2 {
		pack(t, dir, "-o", "out/tool-c", "app")
	}
	paths := listPaths(t, output)
	if !slices.Equal(paths, []string{"app", "out", "out/keep"}) {
		t.Errorf("artifact paths = %q, want app, out and out/keep without the output", paths)
	}
	checkNoOutput(t, filepath.Join(dir, "out"), "tool-c")
}

func TestPackOutputForeignFile(t *testing.T) {
	dir := workdir(t)
	writeFile(t, filepath.Join(dir, "app"), markerScript, 0o755)
	other := filepath.Join(workdir(t), "notes.txt")
	writeFile(t, other, "precious\n", 0o644)
	_, stderr, err := parker(t, dir, "-o", other, "app")
	if exitCode(err) != 1 || !strings.Contains(stderr, "--force") || !strings.Contains(stderr, other) {
		t.Errorf("parker -o %s: exit %d, stderr %q; want exit 1, the path and --force", other, exitCode(err), stderr)
	}
	if b, _ := os.ReadFile(other); string(b) != "precious\n" {
		t.Errorf("%s changed to %q", other, b)
	}
	checkNoOutput(t, filepath.Dir(other), "notes.txt")
}

// smallTmpfs mounts a 4 MiB tmpfs for the test's output.
func smallTmpfs(t *testing.T) string {
	t.Helper()
	requireRoot(t)
	dir := t.TempDir()
	if err := syscall.Mount("parker-test", dir, "tmpfs", 0, "size=4m"); err != nil {
		skipOrFail(t, "cannot mount a tmpfs: "+err.Error())
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmounting %s: %v", dir, err)
		}
	})
	return dir
}

// checkDiskFullError verifies a failed pack's exit status and its one
// error line, which names the output and not the temporary file.
func checkDiskFullError(t *testing.T, err error, stderr, artifact string) {
	t.Helper()
	if exitCode(err) != 1 {
		t.Errorf("exit status = %d, want 1 (stderr %q)", exitCode(err), stderr)
	}
	line, rest, _ := strings.Cut(stderr, "\n")
	if rest != "" || !strings.HasPrefix(line, "parker: writing "+artifact+": ") ||
		!strings.HasSuffix(line, "no space left on device") || strings.Contains(line, "parker-tmp") {
		t.Errorf("stderr = %q, want one line \"parker: writing %s: no space left on device\"", stderr, artifact)
	}
}

func TestPackOutputDiskFull(t *testing.T) {
	dir := workdir(t)
	writeFile(t, filepath.Join(dir, "app"), markerScript, 0o755)
	// Incompressible content larger than the tmpfs.
	noise := make([]byte, 4<<20)
	rand.Read(noise)
	writeFile(t, filepath.Join(dir, "noise"), string(noise), 0o644)

	t.Run("in the payload", func(t *testing.T) {
		out := smallTmpfs(t)
		artifact := filepath.Join(out, "app-c")
		_, stderr, err := parker(t, dir, "-q", "-o", artifact, "app")
		checkDiskFullError(t, err, stderr, artifact)
		if names := dirNames(t, out); len(names) > 0 {
			t.Errorf("output directory holds %q, want nothing", names)
		}
	})
	t.Run("previous artifact kept", func(t *testing.T) {
		out := smallTmpfs(t)
		artifact := filepath.Join(out, "app-c")
		small := workdir(t)
		writeFile(t, filepath.Join(small, "app"), markerScript, 0o755)
		pack(t, small, "-o", artifact, "app")
		before, err := os.ReadFile(artifact)
		if err != nil {
			t.Fatal(err)
		}
		_, stderr, err := parker(t, dir, "-q", "-o", artifact, "app")
		checkDiskFullError(t, err, stderr, artifact)
		if names := dirNames(t, out); !slices.Equal(names, []string{"app-c"}) {
			t.Errorf("output directory holds %q, want only the previous app-c", names)
		}
		if after, _ := os.ReadFile(artifact); !bytes.Equal(after, before) {
			t.Errorf("previous artifact changed from %d to %d bytes", len(before), len(after))
		}
	})
}

func TestPackBadFlags(t *testing.T) {
	tests := []struct {
		args []string
		flag string // named in the message
	}{
		{[]string{"--no-such-flag", "app"}, "--no-such-flag"},
		{[]string{"--no-such-flag=1", "app"}, "--no-such-flag"},
		{[]string{"-Z", "app"}, "-Z"},
		{[]string{"-qZ", "app"}, "-q"},
		{[]string{"--quiet=yes", "app"}, "--quiet"},
		{[]string{"app", "--output"}, "--output"},
		{[]string{"app", "-o"}, "-o"},
		{[]string{"--output=", "app"}, "--output"},
		{[]string{"-C", "", "app"}, "-C"},
		{[]string{"--memory", "lots", "app"}, "--memory"},
		{[]string{"--memory", "-1G", "app"}, "--memory"},
		{[]string{"--memory", "1k", "app"}, "--memory"},
		{[]string{"--memory=", "app"}, "--memory"},
		{[]string{"--pids", "0", "app"}, "--pids"},
		{[]string{"--pids", "1.5", "app"}, "--pids"},
		{[]string{"--pids", "99999999999999999999", "app"}, "--pids"},
		{[]string{"--cpus", "abc", "app"}, "--cpus"},
		{[]string{"--cpus", "0", "app"}, "--cpus"},
		{[]string{"--cpus", "NaN", "app"}, "--cpus"},
		{[]string{"--cpus", "Inf", "app"}, "--cpus"},
		{[]string{"--list"}, "--list"},
		{[]string{"--extract", "app-c"}, "--extract"},
		{[]string{"--list", "--verify", "app-c"}, "--verify"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			dir := workdir(t)
			writeFile(t, filepath.Join(dir, "app"), markerScript, 0o755)
			stdout, stderr, err := parker(t, dir, tc.args...)
			if code := exitCode(err); code != 2 {
				t.Errorf("parker %q: exit status %d, want 2 (stderr %q)", tc.args, code, stderr)
			}
			if !strings.HasPrefix(stderr, "parker: ") || !strings.Contains(strings.SplitN(stderr, "\n", 2)[0], tc.flag) {
				t.Errorf("parker %q: stderr = %q, want a parker: line naming %s", tc.args, stderr, tc.flag)
			}
			if stdout != "" {
				t.Errorf("parker %q: stdout = %q, want nothing", tc.args, stdout)
			}
			checkNoOutput(t, dir)
		})
	}
}
