// Package e2e builds parker and its runtime stub, packs real programs (a C
// program built with gcc, the system's python3.11, shell scripts) and runs
// the artifacts in real namespaces and cgroups. Most tests need root.
package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

var (
	parkerBin  string // built parker command
	runtimeBin string // built runtime stub
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "parker-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	// The binaries must be readable by the unprivileged uid some tests drop to.
	_ = os.Chmod(dir, 0o755)

	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	parkerBin = filepath.Join(dir, "parker")
	runtimeBin = filepath.Join(dir, "parker-runtime")
	for bin, pkg := range map[string]string{parkerBin: "./tools/parker", runtimeBin: "./runtime"} {
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, pkg)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "building %s: %v\n%s", pkg, err, out)
			return 1
		}
	}
	return m.Run()
}
