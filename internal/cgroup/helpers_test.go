package cgroup

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/parkerpack/parker/internal/artifact"
)

// helperEnv selects a helper role when the test binary re-executes itself.
const helperEnv = "PARKER_CGROUP_TEST_HELPER"

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "memory-hog":
		os.Exit(runMemoryHog())
	case "create":
		os.Exit(runCreate())
	}
	os.Exit(m.Run())
}

// runMemoryHog waits for one byte on stdin, so the test can first move it into
// a cgroup, then allocates and touches 200 MiB.
func runMemoryHog() int {
	if _, err := os.Stdin.Read(make([]byte, 1)); err != nil {
		fmt.Fprintln(os.Stderr, "reading stdin:", err)
		return 1
	}
	memory := make([]byte, 200<<20)
	for i := 0; i < len(memory); i += 4096 {
		memory[i] = 1
	}
	fmt.Println("allocated", len(memory), "bytes")
	return 0
}

// runCreate calls Create on the real hierarchy and prints the error, for a
// test that runs it as an unprivileged user.
func runCreate() int {
	h, err := Detect()
	if err != nil {
		fmt.Println("Detect:", err)
		return 1
	}
	c, notices, err := h.Create(ModeAuto, artifact.Limits{}, false)
	if err == nil {
		fmt.Println("created", c.Path(), notices)
		if err := c.Destroy(); err != nil {
			fmt.Println("Destroy:", err)
		}
		return 1
	}
	fmt.Println(err)
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, unix.EACCES) {
		return 1
	}
	return 0
}

// skipUnlessPrivileged skips the test, or fails it when
// PARKER_TEST_REQUIRE_PRIVILEGED=1 demands that privileged tests run.
func skipUnlessPrivileged(t *testing.T, reason string) {
	t.Helper()
	if os.Getenv("PARKER_TEST_REQUIRE_PRIVILEGED") == "1" {
		t.Fatalf("%s (PARKER_TEST_REQUIRE_PRIVILEGED=1 forbids skipping)", reason)
	}
	t.Skip(reason)
}

// realHierarchy detects this process's cgroups and skips unless mode can be
// used by this process.
func realHierarchy(t *testing.T, mode Mode) *Hierarchy {
	t.Helper()
	if os.Geteuid() != 0 {
		skipUnlessPrivileged(t, "creating cgroups needs root")
	}
	h, err := Detect()
	if err != nil {
		t.Fatalf("Detect() error = %v", err)
	}
	h.Log = t.Logf
	if mode == ModeV2 && h.unified == "" {
		skipUnlessPrivileged(t, "no cgroup2 hierarchy contains this process")
	}
	if mode == ModeV1 && h.v1["freezer"] == "" {
		skipUnlessPrivileged(t, "no cgroup v1 freezer hierarchy contains this process")
	}
	return h
}

// createCgroup creates a cgroup in exactly mode and registers its removal.
func createCgroup(t *testing.T, h *Hierarchy, mode Mode, limits artifact.Limits) (*Cgroup, []string) {
	t.Helper()
	c, notices, err := h.Create(mode, limits, false)
	if errors.Is(err, ErrUnavailable) {
		skipUnlessPrivileged(t, err.Error())
	}
	if err != nil {
		t.Fatalf("Create(%v, %+v) error = %v", mode, limits, err)
	}
	t.Cleanup(func() { destroyAndCheck(t, c) })
	if c.Mode() != mode {
		skipUnlessPrivileged(t, fmt.Sprintf("cgroup %v not usable: %q", mode, notices))
	}
	return c, notices
}

func destroyAndCheck(t *testing.T, c *Cgroup) {
	t.Helper()
	if err := c.Destroy(); err != nil {
		t.Errorf("Destroy() error = %v", err)
	}
	for _, d := range c.dirs {
		if _, err := os.Stat(d.path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("after Destroy(), stat %s = %v, want not exist", d.path, err)
		}
	}
}

// startProcess starts a command and registers killing and reaping it.
func startProcess(t *testing.T, cmd *exec.Cmd) *exec.Cmd {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %v: %v", cmd.Args, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd
}

// startBlocked starts a command whose stdin stays open until release is
// called, so a script that begins with `read x` waits to be moved.
func startBlocked(t *testing.T, cmd *exec.Cmd) (release func()) {
	t.Helper()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	startProcess(t, cmd)
	t.Cleanup(func() { stdin.Close() })
	return func() {
		if _, err := io.WriteString(stdin, "\n"); err != nil {
			t.Errorf("writing to stdin of %v: %v", cmd.Args, err)
		}
	}
}

// waitKilled waits for cmd and checks that SIGKILL ended it.
func waitKilled(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	err := waitTimeout(t, cmd, 10*time.Second)
	status, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok || !status.Signaled() || status.Signal() != syscall.SIGKILL {
		t.Errorf("%v ended with %v, want killed by SIGKILL", cmd.Args, err)
	}
}

func waitTimeout(t *testing.T, cmd *exec.Cmd, timeout time.Duration) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(timeout):
		t.Fatalf("%v still running after %v", cmd.Args, timeout)
		return nil
	}
}

// processIdentity returns the state and start time of pid from
// /proc/PID/stat; together with the pid they identify one process.
func processIdentity(pid int) (state, startTime string, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", "", false
	}
	// The command name in parentheses may contain spaces, so fields are
	// counted from the last ')'.
	i := strings.LastIndexByte(string(b), ')')
	fields := strings.Fields(string(b[i+1:]))
	if len(fields) < 20 {
		return "", "", false
	}
	return fields[0], fields[19], true
}

func readTrimmed(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}
