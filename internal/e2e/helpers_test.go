package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// requireRoot skips a test that needs root, or fails it when CI demands
// that every privileged test runs (PARKER_TEST_REQUIRE_PRIVILEGED=1).
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	skipOrFail(t, "needs root for namespaces, mounts and cgroups")
}

func skipOrFail(t *testing.T, reason string) {
	t.Helper()
	if os.Getenv("PARKER_TEST_REQUIRE_PRIVILEGED") == "1" {
		t.Fatalf("cannot run: %s (PARKER_TEST_REQUIRE_PRIVILEGED=1)", reason)
	}
	t.Skip(reason)
}

// workdir makes a temporary working directory readable by every user, as
// tests that drop privileges need.
func workdir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// parker runs the parker command in dir and returns its stdout and stderr.
func parker(t *testing.T, dir string, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.Command(parkerBin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PARKER_RUNTIME="+runtimeBin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// pack runs "parker -q ARGS" in dir and fails the test on error.
func pack(t *testing.T, dir string, args ...string) {
	t.Helper()
	if _, stderr, err := parker(t, dir, append([]string{"-q"}, args...)...); err != nil {
		t.Fatalf("parker %v: %v\n%s", args, err, stderr)
	}
}

// compileC builds a C program with gcc.
func compileC(t *testing.T, out, src string) {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		skipOrFail(t, "gcc not installed")
	}
	srcFile := filepath.Join(t.TempDir(), "main.c")
	writeFile(t, srcFile, src, 0o644)
	cmd := exec.Command("gcc", "-O2", "-o", out, srcFile)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, b)
	}
}

// token marks the processes of one test run: it is set in the artifact's
// environment, which every process of the container inherits, so that
// survivors can be found in /proc afterwards.
func token(t *testing.T) string {
	t.Helper()
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "PARKER_TEST_TOKEN=" + hex.EncodeToString(b)
}

// processesWith lists the pids whose environment contains tok.
func processesWith(tok string) []string {
	entries, _ := os.ReadDir("/proc")
	var pids []string
	for _, e := range entries {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil {
			continue
		}
		for _, kv := range bytes.Split(env, []byte{0}) {
			if string(kv) == tok {
				pids = append(pids, e.Name())
				break
			}
		}
	}
	return pids
}

// parkerCgroups lists parker-PID-* cgroup directories of pid anywhere
// under /sys/fs/cgroup.
func parkerCgroups(pid int) []string {
	var found []string
	prefix := "parker-" + strconv.Itoa(pid) + "-"
	_ = filepath.WalkDir("/sys/fs/cgroup", func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() && strings.HasPrefix(d.Name(), prefix) {
			found = append(found, p)
		}
		return nil
	})
	return found
}

// assertNoLeftovers checks that a finished run left no process, cgroup or
// mount behind. Processes get a moment to be reaped by the kernel.
func assertNoLeftovers(t *testing.T, tok string, runtimePid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		pids := processesWith(tok)
		if len(pids) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("processes of the container still running: %v", pids)
			for _, p := range pids {
				if n, err := strconv.Atoi(p); err == nil {
					_ = syscall.Kill(n, syscall.SIGKILL)
				}
			}
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if runtimePid > 0 {
		if cgs := parkerCgroups(runtimePid); len(cgs) > 0 {
			t.Errorf("cgroups left behind: %v", cgs)
		}
	}
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	if bytes.Contains(mounts, []byte(" - tmpfs parker ")) || bytes.Contains(mounts, []byte(" - overlay overlay ")) && bytes.Contains(mounts, []byte("parker")) {
		t.Errorf("parker mounts visible on the host:\n%s", mounts)
	}
}
