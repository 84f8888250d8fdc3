package container

import (
	"os"
	"os/exec"
	"slices"
	"syscall"
	"testing"
)

func TestParentPid(t *testing.T) {
	tests := []struct {
		stat   string
		want   int
		wantOK bool
	}{
		{"42 (sleep) S 7 42 7 0 -1", 7, true},
		{"42 (a b) c) R 9 42", 9, true},
		{"42 (x) Z", 0, false},
		{"garbage", 0, false},
		{"42 (x) S notanumber 1", 0, false},
	}
	for _, tc := range tests {
		got, ok := parentPid([]byte(tc.stat))
		if got != tc.want || ok != tc.wantOK {
			t.Errorf("parentPid(%q) = %d, %v, want %d, %v", tc.stat, got, ok, tc.want, tc.wantOK)
		}
	}
}

func TestDescendantsFindsGrandchild(t *testing.T) {
	// sh stays the parent of sleep because it has more to do after it.
	cmd := exec.Command("/bin/sh", "-c", "sleep 30; true")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	var pids []int
	for range 200 {
		var err error
		if pids, err = descendants(os.Getpid()); err != nil {
			t.Fatal(err)
		}
		if len(pids) >= 2 {
			break
		}
	}
	if len(pids) < 2 || !slices.Contains(pids, cmd.Process.Pid) {
		t.Errorf("descendants(self) = %v, want the shell %d and its sleep", pids, cmd.Process.Pid)
	}
}
