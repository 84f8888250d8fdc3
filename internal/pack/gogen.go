package pack

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// GoSourceExcludes are left out of the payload when parker builds a Go
// package itself: the sources are compiled into the target already.
var GoSourceExcludes = []string{"*.go", "go.mod", "go.sum", "go.work", "go.work.sum", "testdata/", "vendor/"}

// UnderGoGenerate reports whether parker was started by "go generate",
// which sets GOFILE and GOPACKAGE for the commands it runs.
func UnderGoGenerate(getenv func(string) string) bool {
	return getenv("GOFILE") != "" && getenv("GOPACKAGE") != ""
}

// BuildGoPackage builds the main package in dir with "go build -trimpath"
// into a temporary file and returns its path. CGO_ENABLED defaults to 0,
// so the program runs on any Linux machine; GOOS, GOARCH and other
// settings from the environment are honoured. remove deletes the file.
func BuildGoPackage(ctx context.Context, dir string) (path string, remove func(), err error) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		return "", nil, fmt.Errorf("building the Go package in %s: the go command is not on PATH: %w", dir, err)
	}
	tmpDir, err := os.MkdirTemp("", "parker-gobuild-")
	if err != nil {
		return "", nil, err
	}
	remove = func() { os.RemoveAll(tmpDir) }
	out := filepath.Join(tmpDir, "main")

	cmd := exec.CommandContext(ctx, goTool, "build", "-trimpath", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = os.Environ()
	if os.Getenv("CGO_ENABLED") == "" {
		cmd.Env = append(cmd.Env, "CGO_ENABLED=0")
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		remove()
		return "", nil, fmt.Errorf("go build in %s failed: %w\n%s", dir, err, strings.TrimSpace(stderr.String()))
	}
	return out, remove, nil
}
