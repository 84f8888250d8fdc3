package hostcheck

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// skipOrFail skips a test that lacks a privilege or kernel feature, or
// fails it when PARKER_TEST_REQUIRE_PRIVILEGED=1 demands that it runs.
func skipOrFail(t *testing.T, reason string) {
	t.Helper()
	if os.Getenv("PARKER_TEST_REQUIRE_PRIVILEGED") == "1" {
		t.Fatalf("cannot run: %s (PARKER_TEST_REQUIRE_PRIVILEGED=1)", reason)
	}
	t.Skip(reason)
}

func TestTempDirCandidates(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"nothing set", nil, []string{"/dev/shm", "/tmp", "/var/tmp"}},
		{"runtime dir first", map[string]string{"XDG_RUNTIME_DIR": "/run/user/1000", "TMPDIR": "/scratch/"},
			[]string{"/run/user/1000", "/scratch", "/dev/shm", "/tmp", "/var/tmp"}},
		{"relative values ignored", map[string]string{"XDG_RUNTIME_DIR": "run", "TMPDIR": "./tmp"}, []string{"/dev/shm", "/tmp", "/var/tmp"}},
		{"duplicates dropped", map[string]string{"TMPDIR": "/tmp"}, []string{"/tmp", "/dev/shm", "/var/tmp"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := TempDirCandidates(func(k string) string { return tc.env[k] })
			if !slices.Equal(got, tc.want) {
				t.Errorf("TempDirCandidates(%v) = %v, want %v", tc.env, got, tc.want)
			}
		})
	}
}

func TestListsFilesystem(t *testing.T) {
	const filesystems = "nodev\tsysfs\nnodev\ttmpfs\n\text4\nnodev\toverlay\n"
	tests := []struct {
		name string
		want bool
	}{
		{"overlay", true},
		{"ext4", true},
		{"btrfs", false},
		{"nodev", false},
	}
	for _, tc := range tests {
		got, err := listsFilesystem(strings.NewReader(filesystems), tc.name)
		if err != nil || got != tc.want {
			t.Errorf("listsFilesystem(%q) = %v, %v, want %v", tc.name, got, err, tc.want)
		}
	}
}

func TestRefused(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{unix.EPERM, true},
		{unix.EACCES, true},
		{unix.EINVAL, true},
		{unix.ENOSPC, true},
		{unix.EUSERS, true},
		{unix.ENOSYS, true},
		{fmt.Errorf("creating namespaces: %w", unix.EPERM), true},
		{unix.EAGAIN, false},
		{unix.ENOMEM, false},
		{nil, false},
	}
	for _, tc := range tests {
		if got := Refused(tc.err); got != tc.want {
			t.Errorf("Refused(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestAttempts(t *testing.T) {
	if got := Attempts(0); !slices.Equal(got, []Isolation{IsolationRoot, IsolationUserNS}) {
		t.Errorf("Attempts(0) = %v, want root then user namespace", got)
	}
	if got := Attempts(1000); !slices.Equal(got, []Isolation{IsolationUserNS}) {
		t.Errorf("Attempts(1000) = %v, want user namespace only", got)
	}
}

func TestNamespaceAttr(t *testing.T) {
	root := NamespaceAttr(IsolationRoot)
	if root.Cloneflags != unix.CLONE_NEWPID || root.Unshareflags != unix.CLONE_NEWNS || root.UidMappings != nil || root.AmbientCaps != nil {
		t.Errorf("NamespaceAttr(root) = %+v, want a new pid namespace and the mount namespace unshared, nothing else", root)
	}
	user := NamespaceAttr(IsolationUserNS)
	if user.Cloneflags != unix.CLONE_NEWPID|unix.CLONE_NEWUSER || user.Unshareflags != unix.CLONE_NEWNS {
		t.Errorf("NamespaceAttr(userns) flags = %#x, %#x, want NEWPID|NEWUSER and NEWNS", user.Cloneflags, user.Unshareflags)
	}
	wantUID := []syscall.SysProcIDMap{{ContainerID: os.Getuid(), HostID: os.Getuid(), Size: 1}}
	if !slices.Equal(user.UidMappings, wantUID) {
		t.Errorf("NamespaceAttr(userns).UidMappings = %v, want %v", user.UidMappings, wantUID)
	}
	if !slices.Equal(user.AmbientCaps, []uintptr{unix.CAP_SYS_ADMIN, unix.CAP_DAC_OVERRIDE}) {
		t.Errorf("NamespaceAttr(userns).AmbientCaps = %v, want CAP_SYS_ADMIN and CAP_DAC_OVERRIDE", user.AmbientCaps)
	}
}

func TestProbeNamespacesAsRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		skipOrFail(t, "needs root to create namespaces without a user namespace")
	}
	for _, mode := range []Isolation{IsolationRoot, IsolationUserNS} {
		if err := ProbeNamespaces(mode); err != nil {
			t.Errorf("ProbeNamespaces(%v) = %v, want nil", mode, err)
		}
	}
}

func TestCheckExecDir(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()

	if s := CheckExecDir(filepath.Join(dir, "missing")); s.Err == nil || s.Usable() {
		t.Errorf("CheckExecDir(missing) = %+v, want an error", s)
	}
	if s := CheckExecDir(file); s.Err == nil || !strings.Contains(s.String(), "not a directory") {
		t.Errorf("CheckExecDir(file) = %q, want \"not a directory\"", s)
	}

	if os.Geteuid() != 0 {
		skipOrFail(t, "needs root to mount a noexec tmpfs")
	}
	if err := unix.Mount("hostcheck-test", dir, "tmpfs", unix.MS_NOEXEC, "size=1m"); err != nil {
		skipOrFail(t, "cannot mount tmpfs: "+err.Error())
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, 0); err != nil {
			t.Errorf("unmounting %s: %v", dir, err)
		}
	})
	if s := CheckExecDir(dir); s.Exec || s.Usable() || s.String() != "mounted noexec" {
		t.Errorf("CheckExecDir(noexec tmpfs) = %+v (%q), want not usable, \"mounted noexec\"", s, s)
	}
	if err := unix.Mount("", dir, "", unix.MS_REMOUNT, "size=1m"); err != nil {
		t.Fatal(err)
	}
	if s := CheckExecDir(dir); !s.Usable() {
		t.Errorf("CheckExecDir(exec tmpfs) = %q, want usable", s)
	}
}
