package cgroup

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/parkerpack/parker/internal/artifact"
)

// ErrLimitNotEnforced is wrapped by the error Create returns in strict mode
// when a limit cannot be applied.
var ErrLimitNotEnforced = errors.New("cgroup: limit not enforced")

// cpuPeriod is the kernel's default CFS period in microseconds, which a CPU
// limit is expressed in.
const cpuPeriod = 100000

// limitSetting is one limit as the control files that enforce it, which are
// named differently in cgroup v2 and v1.
type limitSetting struct {
	description string // such as "memory limit 64 MiB"
	controller  string
	v2Files     []controlFile
	v1Files     []controlFile // written in order
}

type controlFile struct {
	name     string
	value    string
	optional bool // skipped when the kernel does not provide the file
}

// limitError is a limit that could not be enforced. Its text is the notice.
type limitError struct {
	description string
	reason      error
}

func (e *limitError) Error() string {
	return e.description + " not enforced: " + e.reason.Error()
}

func (e *limitError) Unwrap() error { return e.reason }

func (e *limitError) Is(target error) bool { return target == ErrLimitNotEnforced }

// planLimits validates limits and returns the settings for those that are set.
func planLimits(limits artifact.Limits) ([]limitSetting, error) {
	var settings []limitSetting
	if limits.MemoryBytes < 0 {
		return nil, fmt.Errorf("invalid memory limit %d bytes: must not be negative", limits.MemoryBytes)
	}
	if limits.MemoryBytes > 0 {
		bytes := strconv.FormatInt(limits.MemoryBytes, 10)
		settings = append(settings, limitSetting{
			description: "memory limit " + formatBytes(limits.MemoryBytes),
			controller:  "memory",
			// Swap is limited as well, so that the limit holds for all memory use.
			v2Files: []controlFile{{name: "memory.max", value: bytes}, {name: "memory.swap.max", value: "0", optional: true}},
			v1Files: []controlFile{{name: "memory.limit_in_bytes", value: bytes}, {name: "memory.memsw.limit_in_bytes", value: bytes, optional: true}},
		})
	}

	if limits.Pids < 0 {
		return nil, fmt.Errorf("invalid pids limit %d: must not be negative", limits.Pids)
	}
	if limits.Pids > 0 {
		count := strconv.FormatInt(limits.Pids, 10)
		settings = append(settings, limitSetting{
			description: "pids limit " + count,
			controller:  "pids",
			v2Files:     []controlFile{{name: "pids.max", value: count}},
			v1Files:     []controlFile{{name: "pids.max", value: count}},
		})
	}

	// The upper bound only keeps the quota in int64, because the kernel
	// rejects quotas far below it anyway.
	if !(limits.CPUs >= 0 && limits.CPUs*cpuPeriod < 1<<62) {
		return nil, fmt.Errorf("invalid CPU limit %v: must be a non-negative number of CPUs", limits.CPUs)
	}
	if limits.CPUs > 0 {
		quota := strconv.FormatInt(int64(math.Ceil(limits.CPUs*cpuPeriod)), 10)
		period := strconv.Itoa(cpuPeriod)
		settings = append(settings, limitSetting{
			description: "CPU limit " + strconv.FormatFloat(limits.CPUs, 'g', -1, 64) + " CPUs",
			controller:  "cpu",
			v2Files:     []controlFile{{name: "cpu.max", value: quota + " " + period}},
			v1Files:     []controlFile{{name: "cpu.cfs_period_us", value: period}, {name: "cpu.cfs_quota_us", value: quota}},
		})
	}
	return settings, nil
}

// applyLimit writes setting into the directory of c that has its controller,
// creating that directory in another hierarchy if needed.
func (h *Hierarchy) applyLimit(c *Cgroup, setting limitSetting) error {
	d, err := h.controllerDir(c, setting.controller)
	if err != nil {
		return &limitError{description: setting.description, reason: err}
	}
	files := setting.v1Files
	if d.v2 {
		files = setting.v2Files
	}
	for _, file := range files {
		err := writeFile(filepath.Join(d.path, file.name), file.value)
		if file.optional && errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return &limitError{description: setting.description, reason: err}
		}
	}
	h.logf("applied %s in %s", setting.description, d.path)
	return nil
}

// controllerDir returns the directory of c in which controller is available.
// It prefers a cgroup2 directory that c already has, then the v1 hierarchy of
// the controller, then a new cgroup2 directory. It never changes
// cgroup.subtree_control, so a cgroup2 controller is available only if the
// parent cgroup already delegates it.
func (h *Hierarchy) controllerDir(c *Cgroup, controller string) (dir, error) {
	for _, d := range c.dirs {
		if d.v2 && listsController(filepath.Join(d.path, "cgroup.controllers"), controller) {
			return d, nil
		}
	}

	if parent := h.v1[controller]; parent != "" {
		path := filepath.Join(parent, c.name)
		// Controllers mounted together share one directory.
		if i := slices.IndexFunc(c.dirs, func(d dir) bool { return d.path == path }); i >= 0 {
			return c.dirs[i], nil
		}
		return c.addDir(path, false)
	}

	hasV2 := slices.ContainsFunc(c.dirs, func(d dir) bool { return d.v2 })
	if h.unified != "" && !hasV2 && listsController(filepath.Join(h.unified, "cgroup.subtree_control"), controller) {
		return c.addDir(filepath.Join(h.unified, c.name), true)
	}
	return dir{}, fmt.Errorf("no %s controller available to this user", controller)
}

func (c *Cgroup) addDir(path string, v2 bool) (dir, error) {
	if err := mkdir(path); err != nil {
		return dir{}, err
	}
	d := dir{path: path, v2: v2}
	c.mu.Lock()
	c.dirs = append(c.dirs, d)
	c.mu.Unlock()
	return d, nil
}

// listsController reports whether the space-separated controller list in
// file contains controller. An unreadable file lists nothing.
func listsController(file, controller string) bool {
	b, err := os.ReadFile(file)
	if err != nil {
		return false
	}
	return slices.Contains(strings.Fields(string(b)), controller)
}

// formatBytes writes n in the largest binary unit that divides it exactly.
func formatBytes(n int64) string {
	units := []struct {
		size int64
		name string
	}{{1 << 30, "GiB"}, {1 << 20, "MiB"}, {1 << 10, "KiB"}}
	for _, unit := range units {
		if n%unit.size == 0 {
			return strconv.FormatInt(n/unit.size, 10) + " " + unit.name
		}
	}
	return strconv.FormatInt(n, 10) + " bytes"
}
