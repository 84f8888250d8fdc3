package cgroup

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
)

// ErrUnavailable is wrapped by the error Create returns when no hierarchy
// allows this process to create a cgroup.
var ErrUnavailable = errors.New("cgroup: no writable cgroup hierarchy")

// Mode is the cgroup version that contains and kills the processes of a Cgroup.
type Mode int

const (
	// ModeAuto uses cgroup v2 when it is writable and cgroup v1 otherwise.
	ModeAuto Mode = iota
	// ModeV2 uses a cgroup2 directory, killed through cgroup.kill.
	ModeV2
	// ModeV1 uses a cgroup v1 freezer directory, killed by freezing it first.
	ModeV1
)

func (m Mode) String() string {
	switch m {
	case ModeAuto:
		return "auto"
	case ModeV2:
		return "v2"
	case ModeV1:
		return "v1"
	}
	return "Mode(" + strconv.Itoa(int(m)) + ")"
}

// ParseMode parses "v1", "v2", "auto" or "" (auto), the values of PARKER_CGROUP.
func ParseMode(s string) (Mode, error) {
	switch s {
	case "", "auto":
		return ModeAuto, nil
	case "v2":
		return ModeV2, nil
	case "v1":
		return ModeV1, nil
	}
	return ModeAuto, fmt.Errorf("invalid cgroup mode %q: want v1, v2 or auto", s)
}

// Cgroup is one per-run cgroup. Its main directory contains the processes and
// kills them. Limits whose controller is not available there live in further
// directories of the same name in other hierarchies, such as the v1 memory
// controller on a hybrid system. Its methods are safe for concurrent use.
type Cgroup struct {
	mode Mode
	name string
	log  func(format string, args ...any)

	mu   sync.Mutex
	dirs []dir // dirs[0] is the main directory
}

type dir struct {
	path    string
	v2      bool
	removed bool
}

// Mode returns ModeV2 or ModeV1.
func (c *Cgroup) Mode() Mode { return c.mode }

// Path returns the main directory: the cgroup2 directory or the v1 freezer one.
func (c *Cgroup) Path() string { return c.dirs[0].path }

// OpenFD returns an O_PATH descriptor of the cgroup2 directory for
// syscall.SysProcAttr.CgroupFD, which starts a child inside the cgroup before
// it runs any code. The caller closes it. It fails for ModeV1.
func (c *Cgroup) OpenFD() (int, error) {
	if c.mode != ModeV2 {
		return -1, fmt.Errorf("opening cgroup %s: a cgroup descriptor needs cgroup v2, this cgroup uses %v", c.name, c.mode)
	}
	fd, err := openPath(c.Path())
	if err != nil {
		return -1, fmt.Errorf("opening cgroup %s: %w", c.name, err)
	}
	return fd, nil
}

// AddProc moves process pid into every directory of this cgroup. Processes
// that pid forked before the call stay where they were, so callers add a
// process before it starts its work.
//
// NOTE: a child started with SysProcAttr.CgroupFD is only in the cgroup2
// directory until AddProc also moves it into the limit directories of v1
// controllers, so resources it uses before that are not limited there.
func (c *Cgroup) AddProc(pid int) error {
	c.mu.Lock()
	defer c.mu.Unlock()

	for _, d := range c.dirs {
		if d.removed {
			return fmt.Errorf("adding pid %d to cgroup %s: cgroup already destroyed", pid, c.name)
		}
		if err := writeFile(filepath.Join(d.path, "cgroup.procs"), strconv.Itoa(pid)); err != nil {
			return fmt.Errorf("adding pid %d to cgroup: %w", pid, err)
		}
	}
	return nil
}

func (c *Cgroup) logf(format string, args ...any) {
	if c.log != nil {
		c.log(format, args...)
	}
}
