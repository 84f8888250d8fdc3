package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// persistApp appends a line to logs/app.log, increments the number in
// state.txt and prints what it reads, so that each run shows what earlier
// runs kept.
const persistApp = `#!/bin/sh
echo "run" >> logs/app.log
printf 'lines=%s\n' "$(wc -l < logs/app.log)"
n=$(cat state.txt)
echo $((n + 1)) > state.txt
printf 'state=%s\n' "$(cat state.txt)"
for f in conf/a.conf conf/b.conf; do
	if [ -e "$f" ]; then printf '%s=%s\n' "$f" "$(cat "$f")"; else printf '%s=missing\n' "$f"; fi
done
echo scratch > scratch.txt
`

// packPersistApp packs persistApp with logs (not in the payload), the
// file state.txt and the directory conf persistent, and moves the artifact
// alone into a fresh directory that it returns with the artifact's path.
func packPersistApp(t *testing.T) (runDir, artifact string) {
	t.Helper()
	dir := workdir(t)
	writeFile(t, filepath.Join(dir, "app"), persistApp, 0o755)
	writeFile(t, filepath.Join(dir, "state.txt"), "0\n", 0o640)
	writeFile(t, filepath.Join(dir, "conf", "a.conf"), "payload-a", 0o644)
	writeFile(t, filepath.Join(dir, "conf", "b.conf"), "payload-b", 0o600)
	pack(t, dir, "--persist", "logs", "--persist", "state.txt", "--persist", "./conf/", "app")
	runDir = workdir(t)
	artifact = filepath.Join(runDir, "app-c")
	if err := os.Rename(filepath.Join(dir, "app-c"), artifact); err != nil {
		t.Fatal(err)
	}
	return runDir, artifact
}

func readHostFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading the host's copy: %v", err)
	}
	return string(b)
}

func TestPersistKeepsWritesAcrossRuns(t *testing.T) {
	requireRoot(t)
	runDir, artifact := packPersistApp(t)

	for run := 1; run <= 3; run++ {
		tok := token(t)
		res := runArtifact(t, runDir, artifact, tok, "")
		want := "lines=" + strconv.Itoa(run) + "\nstate=" + strconv.Itoa(run) + "\nconf/a.conf=payload-a\nconf/b.conf=payload-b\n"
		if res.stdout != want || res.status != 0 || res.stderr != "" {
			t.Errorf("run %d = %q status %d stderr %q, want %q status 0 and no stderr", run, res.stdout, res.status, res.stderr, want)
		}
		assertNoLeftovers(t, tok, res.pid)
	}

	if got := readHostFile(t, filepath.Join(runDir, "logs", "app.log")); got != "run\nrun\nrun\n" {
		t.Errorf("host logs/app.log = %q, want three lines", got)
	}
	if got := readHostFile(t, filepath.Join(runDir, "state.txt")); got != "3\n" {
		t.Errorf("host state.txt = %q, want \"3\\n\"", got)
	}
	// The first run seeded the host's copies from the payload, modes included.
	if got := readHostFile(t, filepath.Join(runDir, "conf", "b.conf")); got != "payload-b" {
		t.Errorf("host conf/b.conf = %q, want the payload's \"payload-b\"", got)
	}
	for path, want := range map[string]os.FileMode{"state.txt": 0o640, "conf/b.conf": 0o600, "conf": 0o755, "logs": 0o755} {
		info, err := os.Stat(filepath.Join(runDir, path))
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != want {
			t.Errorf("host %s mode = %v, want %v", path, info.Mode().Perm(), want)
		}
	}
	if _, err := os.Stat(filepath.Join(runDir, "scratch.txt")); err == nil {
		t.Errorf("scratch.txt, outside every persistent path, reached the host")
	}
	entries, _ := os.ReadDir(runDir)
	for _, e := range entries {
		if strings.Contains(e.Name(), "parker-tmp") {
			t.Errorf("temporary file %s left in the artifact's directory", e.Name())
		}
	}
}

func TestPersistNeverOverwritesHostCopy(t *testing.T) {
	requireRoot(t)
	runDir, artifact := packPersistApp(t)
	// The host already has conf (with only a.conf) and state.txt.
	writeFile(t, filepath.Join(runDir, "conf", "a.conf"), "host-a", 0o644)
	writeFile(t, filepath.Join(runDir, "state.txt"), "41\n", 0o644)

	tok := token(t)
	res := runArtifact(t, runDir, artifact, tok, "")
	want := "lines=1\nstate=42\nconf/a.conf=host-a\nconf/b.conf=missing\n"
	if res.stdout != want || res.status != 0 {
		t.Errorf("run = %q status %d (stderr %q), want %q: the host's copies win whole", res.stdout, res.status, res.stderr, want)
	}
	assertNoLeftovers(t, tok, res.pid)
	if got := readHostFile(t, filepath.Join(runDir, "conf", "a.conf")); got != "host-a" {
		t.Errorf("host conf/a.conf = %q, want it unchanged", got)
	}
	if _, err := os.Stat(filepath.Join(runDir, "conf", "b.conf")); err == nil {
		t.Errorf("conf/b.conf copied from the payload into an existing host directory")
	}
}

func TestPersistRejectsUnsafeHostEntries(t *testing.T) {
	requireRoot(t)
	outside := workdir(t)
	tests := []struct {
		name    string
		prepare func(t *testing.T, runDir string)
		wantErr string
	}{
		{"symlink leading outside", func(t *testing.T, runDir string) {
			if err := os.Symlink(outside, filepath.Join(runDir, "logs")); err != nil {
				t.Fatal(err)
			}
		}, `persistent path "logs" in ` + "%s: is a symbolic link on the host"},
		{"FIFO", func(t *testing.T, runDir string) {
			if err := syscall.Mkfifo(filepath.Join(runDir, "state.txt"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, `persistent path "state.txt" in ` + "%s: is a FIFO on the host"},
		{"file where the payload has a directory", func(t *testing.T, runDir string) {
			writeFile(t, filepath.Join(runDir, "conf"), "a file", 0o644)
		}, `persistent path "conf" in ` + "%s: is a regular file on the host but a directory in the payload"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			runDir, artifact := packPersistApp(t)
			tc.prepare(t, runDir)
			tok := token(t)
			res := runArtifact(t, runDir, artifact, tok, "")
			wantErr := strings.ReplaceAll(tc.wantErr, "%s", runDir)
			if res.status != 125 || !strings.Contains(res.stderr, wantErr) {
				t.Errorf("run = status %d stderr %q, want 125 and %q", res.status, res.stderr, wantErr)
			}
			if res.stdout != "" {
				t.Errorf("target ran: stdout %q", res.stdout)
			}
			assertNoLeftovers(t, tok, res.pid)
			if entries, _ := os.ReadDir(outside); len(entries) != 0 {
				t.Errorf("the runtime wrote through the host's symlink: %d entries in its target", len(entries))
			}
		})
	}
}

func TestPackRejectsEscapingPersistPath(t *testing.T) {
	dir := workdir(t)
	writeFile(t, filepath.Join(dir, "app"), "#!/bin/sh\n", 0o755)
	for _, p := range []string{"../logs", "logs/../../x", "/var/log", ".", ""} {
		t.Run(p, func(t *testing.T) {
			_, stderr, err := parker(t, dir, "--persist", p, "app")
			if err == nil {
				t.Fatalf("parker --persist %q succeeded, want an error", p)
			}
			if !strings.Contains(stderr, "must be relative and inside the working directory") {
				t.Errorf("stderr = %q, want it to say the path must stay inside the working directory", stderr)
			}
			if _, err := os.Stat(filepath.Join(dir, "app-c")); err == nil {
				t.Errorf("artifact written despite the invalid --persist %q", p)
			}
		})
	}
}
