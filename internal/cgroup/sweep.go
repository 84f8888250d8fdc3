package cgroup

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"golang.org/x/sys/unix"
)

// Sweep removes cgroups left behind by parker processes that died without
// calling Destroy. It looks only at the children of this process's own
// cgroups and removes one only if its name is exactly parker-PID-RANDOM, no
// process with that pid exists and it contains no process. Other names and
// cgroups of live parker processes are never touched.
//
// NOTE: the pid in a name is the creator's pid in its own pid namespace. A
// parker process in another pid namespace can therefore look dead (or a
// reused pid alive); an empty cgroup is then removed early (or kept).
func (h *Hierarchy) Sweep() error {
	var errs []error
	for _, parent := range h.parents() {
		if err := h.sweepDir(parent, parent == h.unified); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// parents returns this process's cgroup directories, each once.
func (h *Hierarchy) parents() []string {
	var dirs []string
	if h.unified != "" {
		dirs = append(dirs, h.unified)
	}
	for _, controller := range v1Controllers {
		dir := h.v1[controller]
		if dir != "" && !slices.Contains(dirs, dir) {
			dirs = append(dirs, dir)
		}
	}
	return dirs
}

func (h *Hierarchy) sweepDir(parent string, v2 bool) error {
	entries, err := os.ReadDir(parent)
	if err != nil {
		return fmt.Errorf("sweeping stale cgroups: %w", err)
	}
	var errs []error
	for _, entry := range entries {
		pid, ok := parseName(entry.Name())
		if !ok || !entry.IsDir() || processExists(pid) {
			continue
		}
		path := filepath.Join(parent, entry.Name())
		empty, err := isEmpty(path, v2)
		if err != nil {
			errs = append(errs, fmt.Errorf("sweeping stale cgroups: %w", err))
			continue
		}
		if !empty {
			h.logf("keeping stale cgroup %s: it still contains processes", path)
			continue
		}
		err = rmdir(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		// EBUSY means the cgroup has child cgroups or a process joined it
		// after the check.
		if errors.Is(err, unix.EBUSY) {
			h.logf("keeping stale cgroup %s: %v", path, err)
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("sweeping stale cgroups: %w", err))
			continue
		}
		h.logf("removed stale cgroup %s", path)
	}
	return errors.Join(errs...)
}
