package e2e

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/parkerpack/parker/internal/artifact"
	"github.com/parkerpack/parker/internal/payload"
)

// cacheApp prints its asset, then appends to it: the write must land in
// the container's tmpfs, never in the cache entry.
// With HOLD set, it then waits for its stdin to close.
const cacheApp = `#!/bin/sh
cat data/asset.txt
echo appended >> data/asset.txt
[ -z "$HOLD" ] || read -r _ || true
`

// packCached packs cacheApp with the given asset into dir/app-c, with the
// given flags or, when none are given, with --cache.
func packCached(t *testing.T, dir, asset string, flags ...string) string {
	t.Helper()
	writeFile(t, filepath.Join(dir, "app"), cacheApp, 0o755)
	writeFile(t, filepath.Join(dir, "data", "asset.txt"), asset, 0o644)
	if flags == nil {
		flags = []string{"--cache"}
	}
	pack(t, dir, append(flags, "app")...)
	return filepath.Join(dir, "app-c")
}

// cachedCommand prepares a verbose run of artifact in its directory with
// XDG_CACHE_HOME set to cacheHome and env added.
func cachedCommand(artifact, cacheHome, tok string, env ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	cmd := exec.Command(artifact)
	cmd.Dir = filepath.Dir(artifact)
	cmd.Env = append(append(os.Environ(), tok, "PARKER_VERBOSE=1", "XDG_CACHE_HOME="+cacheHome), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	return cmd, &stdout, &stderr
}

// runCached runs artifact once, checks that it printed want and exited 0,
// and returns its stderr, which contains the runtime's verbose log.
func runCached(t *testing.T, artifact, cacheHome, want string, env ...string) string {
	t.Helper()
	tok := token(t)
	cmd, stdout, stderr := cachedCommand(artifact, cacheHome, tok, env...)
	if err := cmd.Run(); err != nil {
		t.Fatalf("running %s: %v\n%s", artifact, err, stderr)
	}
	if stdout.String() != want {
		t.Errorf("stdout = %q, want %q\n%s", stdout, want, stderr)
	}
	assertNoLeftovers(t, tok, cmd.Process.Pid)
	return stderr.String()
}

// cacheEntries lists the names in cacheHome/parker.
func cacheEntries(t *testing.T, cacheHome string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(cacheHome, "parker"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// onlyEntry returns the path of the single cache entry, failing the test
// if there is not exactly one.
func onlyEntry(t *testing.T, cacheHome string) string {
	t.Helper()
	names := cacheEntries(t, cacheHome)
	if len(names) != 1 || len(names[0]) != 64 {
		t.Fatalf("cache holds %v, want exactly one entry", names)
	}
	return filepath.Join(cacheHome, "parker", names[0])
}

const (
	logPopulated = "parker: cache: unpacked into "
	logUsed      = "parker: cache: using "
)

func TestCacheFirstRunFillsSecondUses(t *testing.T) {
	requireRoot(t)
	dir := workdir(t)
	cacheHome := t.TempDir()
	artifact := packCached(t, dir, "v1\n")

	log := runCached(t, artifact, cacheHome, "v1\n")
	if !strings.Contains(log, logPopulated) {
		t.Errorf("first run log lacks %q:\n%s", logPopulated, log)
	}
	entry := onlyEntry(t, cacheHome)

	log = runCached(t, artifact, cacheHome, "v1\n")
	if !strings.Contains(log, logUsed+filepath.Join(entry, "files")) {
		t.Errorf("second run log lacks %q:\n%s", logUsed, log)
	}
	if strings.Contains(log, "parker: unpacked ") {
		t.Errorf("second run unpacked the payload again:\n%s", log)
	}
	// The target appended to its asset in both runs; the cache copy and the
	// host directory stay as packed.
	for _, p := range []string{filepath.Join(entry, "files", "data", "asset.txt"), filepath.Join(dir, "data", "asset.txt")} {
		if b, err := os.ReadFile(p); err != nil || string(b) != "v1\n" {
			t.Errorf("%s = %q, %v, want \"v1\\n\"", p, b, err)
		}
	}
}

func TestCacheEnvOverride(t *testing.T) {
	requireRoot(t)
	tests := []struct {
		name      string
		flags     []string
		env       string
		wantCache bool
	}{
		{name: "packed with --cache", flags: []string{"--cache"}, wantCache: true},
		{name: "packed with --cache, PARKER_CACHE=0", flags: []string{"--cache"}, env: "PARKER_CACHE=0"},
		{name: "packed without --cache", flags: []string{}},
		{name: "packed without --cache, PARKER_CACHE=1", flags: []string{}, env: "PARKER_CACHE=1", wantCache: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := workdir(t)
			cacheHome := t.TempDir()
			artifact := packCached(t, dir, "v1\n", tc.flags...)
			var env []string
			if tc.env != "" {
				env = append(env, tc.env)
			}
			log := runCached(t, artifact, cacheHome, "v1\n", env...)
			if got := strings.Contains(log, logPopulated); got != tc.wantCache {
				t.Errorf("log contains %q = %v, want %v:\n%s", logPopulated, got, tc.wantCache, log)
			}
			if names := cacheEntries(t, cacheHome); tc.wantCache != (len(names) == 1) {
				t.Errorf("cache holds %v, want an entry: %v", names, tc.wantCache)
			}
			if !tc.wantCache {
				// Not even the cache directory may be created.
				if entries, _ := os.ReadDir(cacheHome); len(entries) != 0 {
					t.Errorf("XDG_CACHE_HOME holds %d names after an uncached run, want none", len(entries))
				}
				if entries, _ := os.ReadDir(dir); len(entries) != 3 {
					t.Errorf("artifact directory holds %d names after the run, want app, app-c and data", len(entries))
				}
			}
		})
	}
}

func TestCacheConcurrentFirstRuns(t *testing.T) {
	requireRoot(t)
	dir := workdir(t)
	cacheHome := t.TempDir()
	artifact := packCached(t, dir, "v1\n")

	const n = 8
	tok := token(t)
	cmds := make([]*exec.Cmd, n)
	outs := make([]*bytes.Buffer, n)
	errs := make([]*bytes.Buffer, n)
	for i := range n {
		cmds[i], outs[i], errs[i] = cachedCommand(artifact, cacheHome, tok)
		if err := cmds[i].Start(); err != nil {
			t.Fatal(err)
		}
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("run %d: %v\n%s", i, err, errs[i])
		}
		if outs[i].String() != "v1\n" {
			t.Errorf("run %d: stdout = %q, want \"v1\\n\"\n%s", i, outs[i], errs[i])
		}
	}
	entry := onlyEntry(t, cacheHome)
	log := runCached(t, artifact, cacheHome, "v1\n")
	if !strings.Contains(log, logUsed+filepath.Join(entry, "files")) {
		t.Errorf("run after the concurrent ones did not use the entry:\n%s", log)
	}
	assertNoLeftovers(t, tok, 0)
}

func TestCacheDamagedEntryRebuilt(t *testing.T) {
	requireRoot(t)
	tests := []struct {
		name   string
		damage func(entry string) error
	}{
		{"file deleted", func(e string) error { return os.Remove(filepath.Join(e, "files", "data", "asset.txt")) }},
		{"marker edited", func(e string) error {
			b, err := os.ReadFile(filepath.Join(e, "complete"))
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(e, "complete"), bytes.Replace(b, []byte("names "), []byte("names 1"), 1), 0o644)
		}},
		{"marker deleted", func(e string) error { return os.Remove(filepath.Join(e, "complete")) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := workdir(t)
			cacheHome := t.TempDir()
			artifact := packCached(t, dir, "v1\n")
			runCached(t, artifact, cacheHome, "v1\n")
			if err := tc.damage(onlyEntry(t, cacheHome)); err != nil {
				t.Fatal(err)
			}

			log := runCached(t, artifact, cacheHome, "v1\n")
			if !strings.Contains(log, "cache: damaged entry") || !strings.Contains(log, logPopulated) {
				t.Errorf("run after damage did not report and rebuild the entry:\n%s", log)
			}
			entry := onlyEntry(t, cacheHome)
			log = runCached(t, artifact, cacheHome, "v1\n")
			if !strings.Contains(log, logUsed+filepath.Join(entry, "files")) {
				t.Errorf("run after the rebuild did not use the entry:\n%s", log)
			}
		})
	}
}

func TestCacheNewPayloadNewEntry(t *testing.T) {
	requireRoot(t)
	dir := workdir(t)
	cacheHome := t.TempDir()
	artifact := packCached(t, dir, "v1\n")
	runCached(t, artifact, cacheHome, "v1\n")
	first := onlyEntry(t, cacheHome)

	packCached(t, dir, "v2\n")
	log := runCached(t, artifact, cacheHome, "v2\n")
	if !strings.Contains(log, logPopulated) {
		t.Errorf("run of the new artifact did not unpack into the cache:\n%s", log)
	}
	if names := cacheEntries(t, cacheHome); len(names) != 2 {
		t.Errorf("cache holds %v, want the entries of both payloads", names)
	}
	if b, err := os.ReadFile(filepath.Join(first, "files", "data", "asset.txt")); err != nil || string(b) != "v1\n" {
		t.Errorf("first entry's asset = %q, %v, want \"v1\\n\"", b, err)
	}
}

// forgePayload changes one byte of the asset in the artifact's payload and
// recompresses it into an xz stream of the same length, so that every xz
// and tar check still passes and only the trailer's SHA-256 tells the
// payload was changed. The payload must fit in one chunk and contain
// "payload bytes".
func forgePayload(t *testing.T, path string) {
	t.Helper()
	art, f, err := artifact.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if len(art.Header.Chunks) != 1 {
		t.Fatalf("payload has %d chunks, want 1", len(art.Header.Chunks))
	}
	r := payload.NewChunkReader(art.Payload(), art.Header.Chunks, 1)
	stream, err := io.ReadAll(r)
	r.Close()
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(stream, []byte("payload bytes"))
	if i < 0 {
		t.Fatal("asset not found in the payload")
	}
	for c := byte('a'); c <= 'z'; c++ {
		stream[i] = c
		var forged bytes.Buffer
		comp := payload.NewCompressor(&forged, payload.CompressOptions{ChunkSize: art.Header.ChunkSize, Workers: 1})
		if _, err := comp.Write(stream); err != nil {
			t.Fatal(err)
		}
		if _, err := comp.Close(); err != nil {
			t.Fatal(err)
		}
		if int64(forged.Len()) != art.Header.Chunks[0].Length || c == 'p' {
			continue
		}
		w, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		if _, err := w.WriteAt(forged.Bytes(), int64(art.Trailer.PayloadOffset)); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatal("no one-byte change of the asset recompresses to the same length")
}

// assertRejectedAsDamaged checks that a run of a damaged artifact failed
// with status 125 before the target printed anything, and filled no cache.
func assertRejectedAsDamaged(t *testing.T, cmd *exec.Cmd, stdout, stderr *bytes.Buffer, cacheHome string) {
	t.Helper()
	if code := cmd.ProcessState.ExitCode(); code != 125 {
		t.Errorf("exit status = %d, want 125\n%s", code, stderr)
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout = %q, want nothing: the target must not run", stdout)
	}
	if !strings.Contains(stderr.String(), "damaged") {
		t.Errorf("stderr does not say the artifact is damaged:\n%s", stderr)
	}
	if names := cacheEntries(t, cacheHome); len(names) != 0 {
		t.Errorf("cache holds %v after a damaged payload, want nothing", names)
	}
}

func TestCacheDamagedPayloadNeverRuns(t *testing.T) {
	requireRoot(t)
	dir := workdir(t)
	cacheHome := t.TempDir()
	artifact := packCached(t, dir, strings.Repeat("payload bytes\n", 1000))
	forgePayload(t, artifact)

	tok := token(t)
	cmd, stdout, stderr := cachedCommand(artifact, cacheHome, tok)
	_ = cmd.Run()
	assertRejectedAsDamaged(t, cmd, stdout, stderr, cacheHome)
	assertNoLeftovers(t, tok, cmd.Process.Pid)
}

// With the cache on, the runtime leaves the payload check to whoever reads
// the payload first; under reduced isolation that is the runtime itself.
func TestCacheDamagedPayloadReducedIsolation(t *testing.T) {
	requireRoot(t)
	nons := buildNons(t)
	dir := workdir(t)
	cacheHome := t.TempDir()
	artifact := packCached(t, dir, strings.Repeat("payload bytes\n", 1000))
	forgePayload(t, artifact)

	tok := token(t)
	cmd, stdout, stderr := cachedCommand(artifact, cacheHome, tok, "XDG_RUNTIME_DIR="+runtimeDir(t, 0), "PARKER_QUIET=1")
	cmd.Args = []string{nons, artifact}
	cmd.Path = nons
	_ = cmd.Run()
	assertRejectedAsDamaged(t, cmd, stdout, stderr, cacheHome)
	assertNoLeftovers(t, tok, cmd.Process.Pid)
}

func TestCachePrune(t *testing.T) {
	requireRoot(t)
	dir := workdir(t)
	cacheHome := t.TempDir()
	artifact := packCached(t, dir, "v1\n")
	runCached(t, artifact, cacheHome, "v1\n")
	entry := onlyEntry(t, cacheHome)
	temp := filepath.Join(cacheHome, "parker", ".tmp-"+filepath.Base(entry)+"-123")
	writeFile(t, filepath.Join(temp, "files", "app"), "partial", 0o644)
	hourAgo := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(temp, hourAgo, hourAgo); err != nil {
		t.Fatal(err)
	}

	prune := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(parkerBin, append([]string{"--cache-prune"}, args...)...)
		cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+cacheHome)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("parker --cache-prune %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	// The entry was used just now; only the stale temporary directory goes.
	out := prune()
	if want := "removed 0 entries not used for 30 days and 1 temporary directories"; !strings.Contains(out, want) {
		t.Errorf("parker --cache-prune printed %q, want it to contain %q", out, want)
	}
	if names := cacheEntries(t, cacheHome); len(names) != 1 || names[0] != filepath.Base(entry) {
		t.Errorf("cache holds %v after pruning, want only the entry", names)
	}

	old := time.Now().Add(-8 * 24 * time.Hour)
	if err := os.Chtimes(filepath.Join(entry, "complete"), old, old); err != nil {
		t.Fatal(err)
	}
	prune("10")
	if names := cacheEntries(t, cacheHome); len(names) != 1 {
		t.Errorf("cache holds %v after pruning at 10 days an entry used 8 days ago, want it kept", names)
	}
	out = prune("7")
	if want := "removed 1 entries not used for 7 days"; !strings.Contains(out, want) {
		t.Errorf("parker --cache-prune 7 printed %q, want it to contain %q", out, want)
	}
	if names := cacheEntries(t, cacheHome); len(names) != 0 {
		t.Errorf("cache holds %v after pruning, want nothing", names)
	}
	// An entry in use is kept however old its marker is.
	holdIn, holdOut := startHolding(t, artifact, cacheHome)
	if err := os.Chtimes(filepath.Join(cacheHome, "parker", filepath.Base(entry), "complete"), old, old); err != nil {
		t.Fatal(err)
	}
	out = prune("0")
	if want := "kept 1 entries that running artifacts use"; !strings.Contains(out, want) {
		t.Errorf("parker --cache-prune 0 during a run printed %q, want it to contain %q", out, want)
	}
	holdIn.Close()
	if err := holdOut.Wait(); err != nil {
		t.Errorf("holding run: %v", err)
	}
	out = prune("0")
	if want := "removed 1 entries not used for 0 days"; !strings.Contains(out, want) {
		t.Errorf("parker --cache-prune 0 after the run printed %q, want it to contain %q", out, want)
	}

	// The artifact still runs and fills the cache again.
	if log := runCached(t, artifact, cacheHome, "v1\n"); !strings.Contains(log, logPopulated) {
		t.Errorf("run after pruning did not unpack into the cache:\n%s", log)
	}
}

// startHolding starts a run of artifact that holds its cache entry until
// the returned pipe is closed, and waits until the target has started.
func startHolding(t *testing.T, artifact, cacheHome string) (io.WriteCloser, *exec.Cmd) {
	t.Helper()
	tok := token(t)
	cmd, stdout, stderr := cachedCommand(artifact, cacheHome, tok, "HOLD=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	cmd.Stdout, cmd.Stderr = lockedWriter{&mu, stdout}, lockedWriter{&mu, stderr}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		_ = cmd.Wait()
		assertNoLeftovers(t, tok, cmd.Process.Pid)
	})
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		started := stdout.Len() > 0
		mu.Unlock()
		if started {
			return stdin, cmd
		}
		if time.Now().After(deadline) {
			mu.Lock()
			defer mu.Unlock()
			t.Fatalf("holding run printed nothing within 10 s\n%s", stderr)
		}
	}
}

// lockedWriter serializes writes to a buffer that the test also reads.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestCachePruneUsage(t *testing.T) {
	for _, args := range [][]string{{"-1"}, {"x"}, {"1", "2"}, {"36501"}} {
		cmd := exec.Command(parkerBin, append([]string{"--cache-prune"}, args...)...)
		cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+t.TempDir())
		out, _ := cmd.CombinedOutput()
		if code := cmd.ProcessState.ExitCode(); code != 2 {
			t.Errorf("parker --cache-prune %v exited %d, want 2 (usage)\n%s", args, code, out)
		}
	}
}

func TestCacheUnprivileged(t *testing.T) {
	argv := asTestUser(t)
	dir := userDir(t, true)
	cacheHome := userDir(t, true)
	artifact := packCached(t, dir, "v1\n")

	for i, want := range []string{logPopulated, logUsed} {
		tok := token(t)
		cmd := exec.Command(argv[0], append(argv[1:], artifact)...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), tok, "PARKER_VERBOSE=1", "XDG_CACHE_HOME="+cacheHome)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("run %d as uid %d: %v\n%s", i, testUID, err, &stderr)
		}
		if stdout.String() != "v1\n" {
			t.Errorf("run %d: stdout = %q, want \"v1\\n\"\n%s", i, &stdout, &stderr)
		}
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("run %d log lacks %q:\n%s", i, want, &stderr)
		}
		assertNoLeftovers(t, tok, cmd.Process.Pid)
	}
	fi, err := os.Stat(onlyEntry(t, cacheHome))
	if err != nil {
		t.Fatal(err)
	}
	if owner := fi.Sys().(*syscall.Stat_t).Uid; owner != testUID {
		t.Errorf("cache entry owned by uid %d, want %d", owner, testUID)
	}
	assertNoUserProcesses(t)
}
