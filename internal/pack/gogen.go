package pack

import (
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// GoSourceExcludes are left out of the payload when parker builds a Go
// package itself: the sources are compiled into the target already.
// "*.go" covers _test.go files. The patterns have no slash, so they match
// at any depth, and they come after .parkerignore, so no "!" line there
// re-includes them.
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
	if goos := os.Getenv("GOOS"); goos != "" && goos != "linux" {
		return "", nil, fmt.Errorf("building the Go package in %s: GOOS=%s, but parker artifacts run only on Linux; set GOOS=linux", dir, goos)
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		return "", nil, fmt.Errorf("building the Go package in %s: the go command is not on PATH: %w", dir, err)
	}
	tmpDir, err := os.MkdirTemp("", "parker-gobuild-")
	if err != nil {
		return "", nil, fmt.Errorf("building the Go package in %s: %w", dir, err)
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

// checkSameMachine rejects a built program that the runtime stub cannot
// start because it is for another architecture, as after GOARCH=arm64
// with an amd64 parker-runtime.
func checkSameMachine(built, stub string) error {
	builtMachine, err := elfMachine(built)
	if err != nil {
		return fmt.Errorf("checking the built program: %w", err)
	}
	if stub == "" {
		return nil
	}
	stubMachine, err := elfMachine(stub)
	if err != nil {
		return fmt.Errorf("checking the runtime stub: %w", err)
	}
	if builtMachine != stubMachine {
		return fmt.Errorf("the built program is for %v but the runtime stub %s is for %v; set PARKER_RUNTIME to a stub built for the same GOARCH",
			builtMachine, stub, stubMachine)
	}
	return nil
}

func elfMachine(path string) (elf.Machine, error) {
	f, err := elf.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return f.Machine, nil
}
