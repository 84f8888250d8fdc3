package container

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestRunDirPid(t *testing.T) {
	tests := []struct {
		name   string
		pid    int
		wantOK bool
	}{
		{"parker-run-123-456", 123, true},
		{"parker-run-1-x", 1, true},
		{"parker-run-123", 0, false},
		{"parker-run-123-", 0, false},
		{"parker-run--5", 0, false},
		{"parker-run-0-5", 0, false},
		{"parker-run-12a-5", 0, false},
		{"parker-e2e-bin-123", 0, false},
	}
	for _, tc := range tests {
		pid, ok := runDirPid(tc.name)
		if pid != tc.pid || ok != tc.wantOK {
			t.Errorf("runDirPid(%q) = %d, %v, want %d, %v", tc.name, pid, ok, tc.pid, tc.wantOK)
		}
	}
}

// endedPid returns the pid of a child that has already been reaped.
func endedPid(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("/proc/self/exe", "-test.run=^$")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

func TestSweepRunDirs(t *testing.T) {
	base := t.TempDir()
	dead := strconv.Itoa(endedPid(t))
	self := strconv.Itoa(os.Getpid())
	dirs := map[string]bool{ // name: whether the sweep removes it
		"parker-run-" + dead + "-1":    true,
		"parker-run-" + dead + "-2":    false, // locked by a live runtime
		"parker-run-" + self + "-3":    false, // pid alive
		"parker-runner-" + dead + "-4": false,
		"other":                        false,
	}
	for name := range dirs {
		sub := filepath.Join(base, name, "ro")
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(sub, "f"), nil, 0o444); err != nil {
			t.Fatal(err)
		}
		// A read-only directory, as a target may leave, must not stop it.
		if err := os.Chmod(sub, 0o500); err != nil {
			t.Fatal(err)
		}
	}
	lock, err := lockDir(filepath.Join(base, "parker-run-"+dead+"-2"), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()

	sweepRunDirs(base, newLogger(false))
	for name, removed := range dirs {
		_, err := os.Stat(filepath.Join(base, name))
		if missing := os.IsNotExist(err); missing != removed {
			t.Errorf("after sweep, %s removed = %v, want %v", name, missing, removed)
		}
		_ = os.Chmod(filepath.Join(base, name, "ro"), 0o700)
	}
}

func TestNewRunDir(t *testing.T) {
	base := t.TempDir()
	file := filepath.Join(base, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(base, "missing")

	_, err := newRunDir([]string{missing, file}, newLogger(false))
	if err == nil || !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("newRunDir(missing, file) = %v, want an error naming both candidates", err)
	}

	d, err := newRunDir([]string{missing, base}, newLogger(false))
	if err != nil {
		t.Fatalf("newRunDir(missing, %s) = %v", base, err)
	}
	info, err := os.Stat(d.path)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(d.path) != base || !strings.HasPrefix(filepath.Base(d.path), "parker-run-"+strconv.Itoa(os.Getpid())+"-") {
		t.Errorf("run directory = %s, want %s/parker-run-%d-*", d.path, base, os.Getpid())
	}
	if info.Mode().Perm() != 0o700 {
		t.Errorf("run directory mode = %v, want 0700", info.Mode().Perm())
	}
	if _, err := lockDir(d.path, unix.LOCK_NB); err == nil {
		t.Errorf("run directory not locked while in use")
	}
	if err := os.MkdirAll(filepath.Join(d.path, "a", "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(d.path, "a"), 0o500); err != nil {
		t.Fatal(err)
	}
	path := d.path
	d.remove()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("run directory still there after remove: %v", err)
	}
}
