package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// A parker installed alone, as by "go install", packs itself as the
// runtime stub; the artifact must run the same.
func TestParkerAloneUsesItselfAsStub(t *testing.T) {
	requireRoot(t)
	binDir := workdir(t)
	alone := filepath.Join(binDir, "parker")
	copyFile(t, parkerBin, alone, 0o755)

	dir := workdir(t)
	writeFile(t, filepath.Join(dir, "hi"), "#!/bin/sh\necho hi from \"$0\"\nexit 4\n", 0o755)
	cmd := exec.Command(alone, "-q", "hi")
	cmd.Dir = dir
	cmd.Env = os.Environ()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("parker hi: %v\n%s", err, out)
	}
	stub, _ := os.Stat(alone)
	art, _ := os.Stat(filepath.Join(dir, "hi-c"))
	if art.Size() <= stub.Size() {
		t.Fatalf("artifact is %d bytes, want more than parker's own %d", art.Size(), stub.Size())
	}
	tok := token(t)
	res := runArtifact(t, dir, "./hi-c", tok, "")
	want := "hi from " + filepath.Join(dir, "hi") + "\n"
	if res.stdout != want || res.status != 4 {
		t.Errorf("run = %q status %d, want %q status 4 (stderr %q)", res.stdout, res.status, want, res.stderr)
	}
	assertNoLeftovers(t, tok, res.pid)
}
