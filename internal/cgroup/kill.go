package cgroup

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

const (
	pollInterval = 2 * time.Millisecond
	// freezeTimeout bounds the wait for a freezer. A task in uninterruptible
	// sleep can keep a cgroup from freezing, and then the processes are
	// signalled without it.
	freezeTimeout = 2 * time.Second
	// exitTimeout bounds how long killing and Destroy wait for processes to
	// leave the cgroup.
	exitTimeout = 5 * time.Second
	// busyTimeout bounds the retries of rmdir while the kernel still reports
	// EBUSY for a cgroup whose last process just exited.
	busyTimeout = time.Second
)

var errTimeout = errors.New("timed out")

// Kill sends SIGKILL to every process in the cgroup, including processes
// forked while it runs. On cgroup v2 it writes cgroup.kill. On cgroup v1, and
// on kernels before Linux 5.14 that lack cgroup.kill, it freezes the cgroup
// first, because a process could otherwise fork between the read of
// cgroup.procs and the signal. It thaws the cgroup afterwards so that the
// signals take effect. Kill does not wait for the processes to exit.
func (c *Cgroup) Kill() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.kill()
}

func (c *Cgroup) kill() error {
	main := c.dirs[0]
	if main.removed {
		return nil
	}
	var err error
	switch {
	case !main.v2:
		err = killFrozenV1(main.path, c.logf)
	case fileExists(filepath.Join(main.path, "cgroup.kill")):
		err = writeFile(filepath.Join(main.path, "cgroup.kill"), "1")
	default:
		err = killFrozenV2(main.path, c.logf)
	}
	if err != nil {
		return fmt.Errorf("killing cgroup %s: %w", c.name, err)
	}
	return nil
}

// killFrozenV2 kills the processes of a cgroup2 directory through
// cgroup.freeze. Frozen cgroup2 tasks still die of SIGKILL.
func killFrozenV2(path string, logf func(string, ...any)) error {
	freeze := filepath.Join(path, "cgroup.freeze")
	isFrozen := func() (bool, error) {
		value, err := readKey(filepath.Join(path, "cgroup.events"), "frozen")
		return value == "1", err
	}
	return killFrozen(path, freeze, "1", "0", isFrozen, logf)
}

// killFrozenV1 kills the processes of a cgroup v1 freezer directory.
// Frozen v1 tasks act on SIGKILL only once thawed.
func killFrozenV1(path string, logf func(string, ...any)) error {
	state := filepath.Join(path, "freezer.state")
	isFrozen := func() (bool, error) {
		// Writing FROZEN again retries tasks that missed the first request.
		if err := writeFile(state, "FROZEN"); err != nil {
			return false, err
		}
		b, err := os.ReadFile(state)
		return strings.TrimSpace(string(b)) == "FROZEN", err
	}
	return killFrozen(path, state, "FROZEN", "THAWED", isFrozen, logf)
}

// killFrozen writes frozenValue to the control file, waits for isFrozen,
// signals every process in path and writes thawedValue, even on failure.
func killFrozen(path, file, frozenValue, thawedValue string, isFrozen func() (bool, error), logf func(string, ...any)) (err error) {
	if err := writeFile(file, frozenValue); err != nil {
		return err
	}
	defer func() {
		if thawErr := writeFile(file, thawedValue); err == nil {
			err = thawErr
		}
	}()

	err = poll(freezeTimeout, isFrozen)
	// NOTE: unfrozen, a listed process can exit and its pid be reused by a
	// process outside the cgroup before the signal reaches it.
	if errors.Is(err, errTimeout) {
		logf("cgroup %s did not freeze within %v, so its processes are signalled unfrozen", path, freezeTimeout)
	} else if err != nil {
		return err
	}
	return signalAll(path)
}

// signalAll sends SIGKILL to each process in cgroup.procs and reads the list
// again until it shows no process that was not signalled yet. On a frozen
// cgroup the second read ends it. On one that failed to freeze, it catches
// children forked before their parent died.
func signalAll(path string) error {
	signalled := make(map[int]bool)
	return poll(exitTimeout, func() (bool, error) {
		pids, err := readPids(path)
		if err != nil {
			return false, err
		}
		done := true
		for _, pid := range pids {
			if signalled[pid] {
				continue
			}
			done = false
			signalled[pid] = true
			if err := signal(pid, unix.SIGKILL); err != nil {
				return false, err
			}
		}
		return done, nil
	})
}

// readPids returns the processes listed in the cgroup.procs file of path.
// A directory that no longer exists has none.
func readPids(path string) ([]int, error) {
	b, err := os.ReadFile(filepath.Join(path, "cgroup.procs"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var pids []int
	for field := range strings.FieldsSeq(string(b)) {
		pid, err := strconv.Atoi(field)
		if err != nil {
			return nil, fmt.Errorf("invalid pid %q in %s/cgroup.procs", field, path)
		}
		pids = append(pids, pid)
	}
	return pids, nil
}

// readKey returns the value of key in a flat keyed file such as cgroup.events,
// whose lines read "KEY VALUE".
func readKey(file, key string) (string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if value, ok := strings.CutPrefix(line, key+" "); ok {
			return value, nil
		}
	}
	return "", fmt.Errorf("no key %q in %s", key, file)
}

// poll calls done every pollInterval until it returns true or an error, and
// fails with errTimeout after timeout.
func poll(timeout time.Duration, done func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := done()
		if err != nil || ok {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w after %v", errTimeout, timeout)
		}
		time.Sleep(pollInterval)
	}
}
