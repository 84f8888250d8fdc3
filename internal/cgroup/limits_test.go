package cgroup

import (
	"math"
	"reflect"
	"testing"

	"github.com/parkerpack/parker/internal/artifact"
)

func TestPlanLimits(t *testing.T) {
	tests := []struct {
		name   string
		limits artifact.Limits
		want   []limitSetting
	}{
		{name: "none", limits: artifact.Limits{}, want: nil},
		{
			name:   "memory",
			limits: artifact.Limits{MemoryBytes: 64 << 20},
			want: []limitSetting{{
				description: "memory limit 64 MiB",
				controller:  "memory",
				v2Files:     []controlFile{{"memory.max", "67108864", false}, {"memory.swap.max", "0", true}},
				v1Files:     []controlFile{{"memory.limit_in_bytes", "67108864", false}, {"memory.memsw.limit_in_bytes", "67108864", true}},
			}},
		},
		{
			name:   "pids",
			limits: artifact.Limits{Pids: 100},
			want: []limitSetting{{
				description: "pids limit 100",
				controller:  "pids",
				v2Files:     []controlFile{{"pids.max", "100", false}},
				v1Files:     []controlFile{{"pids.max", "100", false}},
			}},
		},
		{
			name:   "fractional CPUs",
			limits: artifact.Limits{CPUs: 1.5},
			want: []limitSetting{{
				description: "CPU limit 1.5 CPUs",
				controller:  "cpu",
				v2Files:     []controlFile{{"cpu.max", "150000 100000", false}},
				v1Files:     []controlFile{{"cpu.cfs_period_us", "100000", false}, {"cpu.cfs_quota_us", "150000", false}},
			}},
		},
		{
			name:   "CPU quota rounds up",
			limits: artifact.Limits{CPUs: 0.000011},
			want: []limitSetting{{
				description: "CPU limit 1.1e-05 CPUs",
				controller:  "cpu",
				v2Files:     []controlFile{{"cpu.max", "2 100000", false}},
				v1Files:     []controlFile{{"cpu.cfs_period_us", "100000", false}, {"cpu.cfs_quota_us", "2", false}},
			}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := planLimits(tc.limits)
			if err != nil {
				t.Fatalf("planLimits(%+v) error = %v", tc.limits, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("planLimits(%+v) =\n%+v\nwant\n%+v", tc.limits, got, tc.want)
			}
		})
	}
}

func TestPlanLimitsAllInOrder(t *testing.T) {
	got, err := planLimits(artifact.Limits{MemoryBytes: 1 << 30, Pids: 5, CPUs: 2})
	if err != nil {
		t.Fatalf("planLimits() error = %v", err)
	}
	var controllers []string
	for _, s := range got {
		controllers = append(controllers, s.controller)
	}
	if want := []string{"memory", "pids", "cpu"}; !reflect.DeepEqual(controllers, want) {
		t.Errorf("planLimits() controllers = %q, want %q", controllers, want)
	}
}

func TestPlanLimitsInvalid(t *testing.T) {
	tests := []struct {
		name   string
		limits artifact.Limits
	}{
		{"negative memory", artifact.Limits{MemoryBytes: -1}},
		{"negative pids", artifact.Limits{Pids: -1}},
		{"negative CPUs", artifact.Limits{CPUs: -0.5}},
		{"NaN CPUs", artifact.Limits{CPUs: math.NaN()}},
		{"infinite CPUs", artifact.Limits{CPUs: math.Inf(1)}},
		{"CPUs beyond int64 quota", artifact.Limits{CPUs: 1e300}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := planLimits(tc.limits); err == nil {
				t.Errorf("planLimits(%+v) = %+v, want error", tc.limits, got)
			}
		})
	}
}

func TestFormatBytes(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{64 << 20, "64 MiB"},
		{2 << 30, "2 GiB"},
		{1536 << 20, "1536 MiB"},
		{4096, "4 KiB"},
		{1000, "1000 bytes"},
	}
	for _, tc := range tests {
		if got := formatBytes(tc.n); got != tc.want {
			t.Errorf("formatBytes(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

func TestParseMode(t *testing.T) {
	tests := []struct {
		in   string
		want Mode
	}{
		{"", ModeAuto}, {"auto", ModeAuto}, {"v1", ModeV1}, {"v2", ModeV2},
	}
	for _, tc := range tests {
		got, err := ParseMode(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseMode(%q) = %v, %v, want %v, nil", tc.in, got, err, tc.want)
		}
	}
	if got, err := ParseMode("V2"); err == nil {
		t.Errorf("ParseMode(%q) = %v, nil, want error", "V2", got)
	}
}
