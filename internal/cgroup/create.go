package cgroup

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/parkerpack/parker/internal/artifact"
)

var (
	errNoCgroup2 = errors.New("no cgroup2 hierarchy contains this process")
	errNoFreezer = errors.New("no cgroup v1 freezer hierarchy contains this process")
)

// Create makes a fresh cgroup named parker-PID-RANDOM as a child of this
// process's own cgroup. ModeAuto and ModeV2 try cgroup v2 first and cgroup v1
// (freezer) second, ModeV1 the other way round. Falling back is reported as a
// notice, except when ModeAuto falls back because cgroup v2 is missing or not
// writable by this user. When neither works the error wraps ErrUnavailable.
//
// Limits are applied where a controller for them exists. Each limit that
// cannot be enforced is returned as a notice. With strict it is an error
// wrapping ErrLimitNotEnforced instead, and Create first removes the cgroup.
func (h *Hierarchy) Create(prefer Mode, limits artifact.Limits, strict bool) (*Cgroup, []string, error) {
	settings, err := planLimits(limits)
	if err != nil {
		return nil, nil, err
	}
	name, err := newName(os.Getpid(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}

	c, notices, err := h.createMain(prefer, name)
	if err != nil {
		return nil, nil, err
	}
	for _, setting := range settings {
		err := h.applyLimit(c, setting)
		if err == nil {
			continue
		}
		if strict {
			if destroyErr := c.Destroy(); destroyErr != nil {
				return nil, nil, fmt.Errorf("%w (cleanup also failed: %v)", err, destroyErr)
			}
			return nil, nil, err
		}
		h.logf("%v", err)
		notices = append(notices, err.Error())
	}
	return c, notices, nil
}

// createMain makes the main directory in the first mode that works.
func (h *Hierarchy) createMain(prefer Mode, name string) (*Cgroup, []string, error) {
	modes := []Mode{ModeV2, ModeV1}
	if prefer == ModeV1 {
		modes = []Mode{ModeV1, ModeV2}
	}

	var failures []error
	for _, mode := range modes {
		d, err := h.makeMainDir(mode, name)
		if err != nil {
			h.logf("cgroup %v not usable: %v", mode, err)
			failures = append(failures, err)
			continue
		}
		c := &Cgroup{mode: mode, name: name, log: h.Log, dirs: []dir{d}}
		h.logf("created cgroup %s (%v)", d.path, mode)

		var notices []string
		if len(failures) > 0 && (prefer != ModeAuto || !isExpectedFailure(failures[0])) {
			notices = append(notices, fmt.Sprintf("using cgroup %v because %v", mode, failures[0]))
		}
		return c, notices, nil
	}
	return nil, nil, &unavailableError{reasons: failures}
}

func (h *Hierarchy) makeMainDir(mode Mode, name string) (dir, error) {
	if mode == ModeV1 {
		parent := h.v1["freezer"]
		if parent == "" {
			return dir{}, fmt.Errorf("cgroup v1 failed: %w", errNoFreezer)
		}
		path := filepath.Join(parent, name)
		if err := mkdir(path); err != nil {
			return dir{}, fmt.Errorf("cgroup v1 failed: %w", err)
		}
		return dir{path: path}, nil
	}

	if h.unified == "" {
		return dir{}, fmt.Errorf("cgroup v2 failed: %w", errNoCgroup2)
	}
	path := filepath.Join(h.unified, name)
	if err := mkdir(path); err != nil {
		return dir{}, fmt.Errorf("cgroup v2 failed: %w", err)
	}
	// Killing needs cgroup.kill (Linux 5.14) or at least cgroup.freeze (Linux 5.2).
	if !fileExists(filepath.Join(path, "cgroup.kill")) && !fileExists(filepath.Join(path, "cgroup.freeze")) {
		err := errors.New("cgroup v2 failed: the kernel has neither cgroup.kill nor cgroup.freeze")
		if rmErr := rmdir(path); rmErr != nil {
			return dir{}, fmt.Errorf("%w (cleanup also failed: %v)", err, rmErr)
		}
		return dir{}, err
	}
	return dir{path: path, v2: true}, nil
}

// isExpectedFailure reports whether err only means that this user on this
// system has no cgroup v2 to use, which is normal and not worth a notice.
func isExpectedFailure(err error) bool {
	return errors.Is(err, errNoCgroup2) ||
		errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) || errors.Is(err, unix.EROFS)
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// unavailableError lists why each mode failed and wraps ErrUnavailable.
type unavailableError struct {
	reasons []error
}

func (e *unavailableError) Error() string {
	texts := make([]string, len(e.reasons))
	for i, reason := range e.reasons {
		texts[i] = reason.Error()
	}
	return ErrUnavailable.Error() + ": " + strings.Join(texts, "; ")
}

func (e *unavailableError) Unwrap() []error {
	return append([]error{ErrUnavailable}, e.reasons...)
}

func (h *Hierarchy) logf(format string, args ...any) {
	if h.Log != nil {
		h.Log(format, args...)
	}
}
