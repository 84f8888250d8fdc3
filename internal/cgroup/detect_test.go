package cgroup

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestDetectFrom(t *testing.T) {
	tests := []struct {
		fixture string
		dirs    []string // directories that exist below sysRoot
		unified string   // want, relative to sysRoot
		v1      map[string]string
	}{
		{
			fixture: "hybrid",
			dirs: []string{
				"sys/fs/cgroup/unified", "sys/fs/cgroup/freezer", "sys/fs/cgroup/pids",
				"sys/fs/cgroup/cpu", "sys/fs/cgroup/memory/agent/a1",
			},
			unified: "sys/fs/cgroup/unified",
			v1: map[string]string{
				"freezer": "sys/fs/cgroup/freezer",
				"memory":  "sys/fs/cgroup/memory/agent/a1",
				"pids":    "sys/fs/cgroup/pids",
				"cpu":     "sys/fs/cgroup/cpu",
			},
		},
		{
			fixture: "hybrid",
			dirs:    []string{"sys/fs/cgroup/unified", "sys/fs/cgroup/freezer"},
			unified: "sys/fs/cgroup/unified",
			v1:      map[string]string{"freezer": "sys/fs/cgroup/freezer"},
		},
		{
			fixture: "unified",
			dirs:    []string{"sys/fs/cgroup/user.slice/user-1000.slice/session-2.scope"},
			unified: "sys/fs/cgroup/user.slice/user-1000.slice/session-2.scope",
			v1:      map[string]string{},
		},
		{
			fixture: "container",
			dirs:    []string{"sys/fs/cgroup/app"},
			unified: "sys/fs/cgroup/app",
			v1:      map[string]string{},
		},
		{
			fixture: "comounted",
			dirs: []string{
				"sys/fs/cgroup/cpu,cpuacct/lxc/c1", "sys/fs/cgroup/freezer dir/lxc/c1",
				"sys/fs/cgroup/memory/inner",
			},
			v1: map[string]string{
				"cpu":     "sys/fs/cgroup/cpu,cpuacct/lxc/c1",
				"freezer": "sys/fs/cgroup/freezer dir/lxc/c1",
				"memory":  "sys/fs/cgroup/memory/inner",
			},
		},
		{
			fixture: "outside",
			dirs:    []string{"sys/fs/cgroup/pids"},
			v1:      map[string]string{},
		},
	}
	for _, tc := range tests {
		name := tc.fixture + "/" + strings.Join(tc.dirs, ",")
		t.Run(name, func(t *testing.T) {
			sysRoot := t.TempDir()
			for _, d := range tc.dirs {
				if err := os.MkdirAll(filepath.Join(sysRoot, d), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			h := detectFixture(t, tc.fixture, sysRoot)

			wantUnified := ""
			if tc.unified != "" {
				wantUnified = filepath.Join(sysRoot, tc.unified)
			}
			if h.Unified() != wantUnified {
				t.Errorf("DetectFrom(%s).Unified() = %q, want %q", tc.fixture, h.Unified(), wantUnified)
			}
			wantV1 := make(map[string]string)
			for controller, d := range tc.v1 {
				wantV1[controller] = filepath.Join(sysRoot, d)
			}
			if !reflect.DeepEqual(h.v1, wantV1) {
				t.Errorf("DetectFrom(%s) v1 = %q, want %q", tc.fixture, h.v1, wantV1)
			}
		})
	}
}

func detectFixture(t *testing.T, fixture, sysRoot string) *Hierarchy {
	t.Helper()
	mounts, err := os.Open(filepath.Join("testdata", fixture, "mountinfo"))
	if err != nil {
		t.Fatal(err)
	}
	defer mounts.Close()
	procCgroup, err := os.Open(filepath.Join("testdata", fixture, "cgroup"))
	if err != nil {
		t.Fatal(err)
	}
	defer procCgroup.Close()

	h, err := DetectFrom(mounts, procCgroup, sysRoot)
	if err != nil {
		t.Fatalf("DetectFrom(%s) error = %v", fixture, err)
	}
	return h
}

func TestDetectFromInvalid(t *testing.T) {
	tests := []struct {
		name       string
		mountinfo  string
		procCgroup string
	}{
		{"bad mountinfo", "31 23 0:28 / /sys/fs/cgroup rw\n", "0::/\n"},
		{"cgroup line without path", "", "0::\n"},
		{"cgroup line with two fields", "", "4:memory\n"},
		{"relative cgroup path", "", "4:memory:agent\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := DetectFrom(strings.NewReader(tc.mountinfo), strings.NewReader(tc.procCgroup), t.TempDir())
			if err == nil {
				t.Errorf("DetectFrom(%q, %q) = %+v, want error", tc.mountinfo, tc.procCgroup, h)
			}
		})
	}
}

func TestParseProcCgroup(t *testing.T) {
	input := "12:cpu,cpuacct:/a:b\n3:name=systemd:/s\n0::/u\n\n"
	got, err := parseProcCgroup(strings.NewReader(input))
	if err != nil {
		t.Fatalf("parseProcCgroup(%q) error = %v", input, err)
	}
	want := map[string]string{"cpu": "/a:b", "cpuacct": "/a:b", "name=systemd": "/s", "": "/u"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseProcCgroup(%q) = %q, want %q", input, got, want)
	}
}

func TestDetectThisMachine(t *testing.T) {
	h, err := Detect()
	if err != nil {
		t.Fatalf("Detect() error = %v", err)
	}
	for _, d := range h.parents() {
		if _, err := os.Stat(filepath.Join(d, "cgroup.procs")); err != nil {
			t.Errorf("Detect() returned %s, which has no cgroup.procs: %v", d, err)
		}
	}
	t.Logf("unified %q, v1 %q", h.unified, h.v1)
}
