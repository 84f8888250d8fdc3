// Package cgroup creates, limits, kills and removes the per-run cgroup that
// contains a parker target, on cgroup v2, cgroup v1 or a hybrid of both.
package cgroup

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/parkerpack/parker/internal/mountinfo"
)

// v1Controllers are the cgroup v1 controllers parker uses: freezer to kill
// reliably, the others to enforce limits.
var v1Controllers = []string{"freezer", "memory", "pids", "cpu"}

// Hierarchy is the set of this process's own cgroup directories: one in the
// cgroup2 hierarchy (if mounted) and one in the v1 hierarchy of each of the
// freezer, memory, pids and cpu controllers (if mounted).
type Hierarchy struct {
	// Log, if not nil, receives debug messages.
	Log func(format string, args ...any)

	unified string            // this process's cgroup directory in the cgroup2 hierarchy, or ""
	v1      map[string]string // controller name to this process's cgroup directory in its v1 hierarchy
}

// Detect finds this process's cgroups from /proc/self/mountinfo and
// /proc/self/cgroup.
func Detect() (*Hierarchy, error) {
	mounts, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("detecting cgroups: %w", err)
	}
	defer mounts.Close()
	procCgroup, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return nil, fmt.Errorf("detecting cgroups: %w", err)
	}
	defer procCgroup.Close()
	return DetectFrom(mounts, procCgroup, "")
}

// DetectFrom finds this process's cgroups from the contents of mountinfo and
// /proc/self/cgroup. Mount points are taken relative to sysRoot ("" or "/" for
// the real system), so tests can point it at a directory that imitates them.
// A hierarchy whose directory for this process does not exist is left out.
// A result without any hierarchy is not an error: Create reports it.
func DetectFrom(mountinfoReader, procCgroup io.Reader, sysRoot string) (*Hierarchy, error) {
	mounts, err := mountinfo.Parse(mountinfoReader)
	if err != nil {
		return nil, fmt.Errorf("detecting cgroups: %w", err)
	}
	paths, err := parseProcCgroup(procCgroup)
	if err != nil {
		return nil, fmt.Errorf("detecting cgroups: %w", err)
	}

	h := &Hierarchy{v1: make(map[string]string)}
	for _, m := range mounts {
		switch m.FSType {
		case "cgroup2":
			if h.unified == "" {
				h.unified = ownDir(sysRoot, m, paths, "")
			}
		case "cgroup":
			for _, controller := range mountControllers(m) {
				if h.v1[controller] == "" {
					h.v1[controller] = ownDir(sysRoot, m, paths, controller)
				}
			}
		}
	}
	for controller, dir := range h.v1 {
		if dir == "" {
			delete(h.v1, controller)
		}
	}
	return h, nil
}

// Unified returns this process's cgroup directory in the cgroup2 hierarchy,
// or "" if there is none.
func (h *Hierarchy) Unified() string { return h.unified }

// Controller returns this process's cgroup directory in the cgroup v1
// hierarchy of controller, or "" if there is none. Only freezer, memory, pids
// and cpu are detected.
func (h *Hierarchy) Controller(name string) string { return h.v1[name] }

// parseProcCgroup reads lines "ID:CONTROLLERS:PATH" and returns the path by
// controller name. The path of the cgroup2 line "0::PATH" is stored under "".
func parseProcCgroup(r io.Reader) (map[string]string, error) {
	paths := make(map[string]string)
	scanner := bufio.NewScanner(r)
	for scanner.Scan() {
		line := scanner.Text()
		if line == "" {
			continue
		}
		fields := strings.SplitN(line, ":", 3)
		if len(fields) != 3 || !strings.HasPrefix(fields[2], "/") {
			return nil, fmt.Errorf("invalid /proc/self/cgroup line %q", line)
		}
		if fields[1] == "" {
			// The cgroup2 line is the one with ID 0 and no controllers.
			if fields[0] == "0" {
				paths[""] = fields[2]
			}
			continue
		}
		for _, controller := range strings.Split(fields[1], ",") {
			paths[controller] = fields[2]
		}
	}
	if err := scanner.Err(); err != nil {
		return nil, fmt.Errorf("reading /proc/self/cgroup: %w", err)
	}
	return paths, nil
}

// mountControllers returns the controllers parker uses that a v1 mount
// carries, from its super options such as "rw,cpu,cpuacct".
func mountControllers(m mountinfo.Mount) []string {
	var found []string
	for option := range strings.SplitSeq(m.SuperOptions, ",") {
		for _, controller := range v1Controllers {
			if option == controller {
				found = append(found, controller)
			}
		}
	}
	return found
}

// ownDir returns the directory of this process's cgroup for controller
// ("" for cgroup2) under mount m, or "" if the mount does not show it. A mount
// whose root is not "/", as inside a container, shows only the subtree below
// its root, so the root is cut off the process's path.
func ownDir(sysRoot string, m mountinfo.Mount, paths map[string]string, controller string) string {
	cgroupPath, ok := paths[controller]
	if !ok {
		return ""
	}
	relative, ok := cutRoot(path.Clean(cgroupPath), path.Clean(m.Root))
	if !ok {
		return ""
	}
	dir := filepath.Join(sysRoot, m.MountPoint, relative)
	info, err := os.Stat(dir)
	if err != nil || !info.IsDir() {
		return ""
	}
	return dir
}

// cutRoot returns cgroupPath relative to root when it lies at or below root.
func cutRoot(cgroupPath, root string) (string, bool) {
	if root == "/" {
		return cgroupPath, true
	}
	if cgroupPath == root {
		return "/", true
	}
	rest, ok := strings.CutPrefix(cgroupPath, root+"/")
	return "/" + rest, ok
}
