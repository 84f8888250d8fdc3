package cgroup

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// Destroy kills the processes in the cgroup, waits until they have left it and
// removes its directories with rmdir. It waits at most a few seconds. A
// directory that could not be removed is retried by the next call, and calls
// after a successful one do nothing.
func (c *Cgroup) Destroy() error {
	c.mu.Lock()
	defer c.mu.Unlock()

	var errs []error
	if err := c.kill(); err != nil {
		errs = append(errs, err)
	}
	if err := c.waitEmpty(); err != nil {
		errs = append(errs, err)
	}
	if err := c.removeDirs(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// waitEmpty waits until no directory of c contains a process.
func (c *Cgroup) waitEmpty() error {
	err := poll(exitTimeout, func() (bool, error) {
		for _, d := range c.dirs {
			if d.removed {
				continue
			}
			empty, err := isEmpty(d.path, d.v2)
			if err != nil || !empty {
				return false, err
			}
		}
		return true, nil
	})
	if errors.Is(err, errTimeout) {
		pids, _ := readPids(c.dirs[0].path)
		return fmt.Errorf("waiting for the processes of cgroup %s to exit: %w, pids %v remain", c.name, err, pids)
	}
	if err != nil {
		return fmt.Errorf("waiting for the processes of cgroup %s to exit: %w", c.name, err)
	}
	return nil
}

// removeDirs removes the directories of c, the limit directories first.
func (c *Cgroup) removeDirs() error {
	var errs []error
	for i := len(c.dirs) - 1; i >= 0; i-- {
		d := &c.dirs[i]
		if d.removed {
			continue
		}
		if err := removeCgroupDir(d.path); err != nil {
			errs = append(errs, fmt.Errorf("removing cgroup: %w", err))
			continue
		}
		d.removed = true
		c.logf("removed cgroup %s", d.path)
	}
	return errors.Join(errs...)
}

// removeCgroupDir removes a cgroup directory that may still be busy for a
// moment after its last process exited. A directory that is already gone
// counts as removed.
func removeCgroupDir(path string) error {
	deadline := time.Now().Add(busyTimeout)
	for {
		err := rmdir(path)
		if err == nil || errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if !errors.Is(err, unix.EBUSY) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(pollInterval)
	}
}

// isEmpty reports whether the cgroup directory at path contains no process.
// For cgroup2 this includes its descendants. A directory that no longer exists
// is empty.
func isEmpty(path string, v2 bool) (bool, error) {
	if v2 {
		value, err := readKey(filepath.Join(path, "cgroup.events"), "populated")
		if errors.Is(err, fs.ErrNotExist) {
			return true, nil
		}
		return value == "0", err
	}
	pids, err := readPids(path)
	return len(pids) == 0, err
}
