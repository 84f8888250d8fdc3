package cgroup

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/parkerpack/parker/internal/artifact"
)

var modes = []Mode{ModeV2, ModeV1}

// forkLoop forks short-lived children as fast as the shell can once a line
// arrives on its stdin, so cgroup.procs changes between any two reads.
const forkLoop = "read x; while :; do sleep 0.01 & done"

func TestCreateKillDestroy(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.String(), func(t *testing.T) {
			h := realHierarchy(t, mode)
			c, notices := createCgroup(t, h, mode, artifact.Limits{})
			if len(notices) != 0 {
				t.Errorf("Create(%v) notices = %q, want none", mode, notices)
			}
			checkPlacement(t, h, c)

			sleeper := startProcess(t, exec.Command("sleep", "60"))
			addProc(t, c, sleeper.Process.Pid)
			loop := exec.Command("sh", "-c", forkLoop)
			release := startBlocked(t, loop)
			addProc(t, c, loop.Process.Pid)
			release()
			waitForPids(t, c.Path(), 5)
			time.Sleep(100 * time.Millisecond)
			pids, err := readPids(c.Path())
			if err != nil {
				t.Fatal(err)
			}
			identities := make(map[int]string)
			for _, pid := range pids {
				if _, start, ok := processIdentity(pid); ok {
					identities[pid] = start
				}
			}

			if err := c.Kill(); err != nil {
				t.Fatalf("Kill() error = %v", err)
			}
			waitKilled(t, sleeper)
			waitKilled(t, loop)
			if err := c.Destroy(); err != nil {
				t.Fatalf("Destroy() error = %v", err)
			}

			for _, d := range c.dirs {
				if _, err := os.Stat(d.path); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("after Destroy(), stat %s = %v, want not exist", d.path, err)
				}
			}
			for pid, start := range identities {
				state, nowStart, ok := processIdentity(pid)
				if ok && nowStart == start && state != "Z" {
					t.Errorf("pid %d (state %s) still runs after Destroy()", pid, state)
				}
			}
			t.Logf("killed %d processes", len(identities))
		})
	}
}

func checkPlacement(t *testing.T, h *Hierarchy, c *Cgroup) {
	t.Helper()
	parent := h.unified
	if c.Mode() == ModeV1 {
		parent = h.v1["freezer"]
	}
	if got := filepath.Dir(c.Path()); got != parent {
		t.Errorf("Path() = %q, want a child of %q", c.Path(), parent)
	}
	pattern := regexp.MustCompile(`^parker-` + strconv.Itoa(os.Getpid()) + `-[0-9a-f]{16}$`)
	if name := filepath.Base(c.Path()); !pattern.MatchString(name) {
		t.Errorf("Path() base = %q, want a match for %s", name, pattern)
	}
}

func addProc(t *testing.T, c *Cgroup, pid int) {
	t.Helper()
	if err := c.AddProc(pid); err != nil {
		t.Fatalf("AddProc(%d) error = %v", pid, err)
	}
}

// waitForPids waits until the cgroup directory lists at least n processes.
func waitForPids(t *testing.T, path string, n int) []int {
	t.Helper()
	var pids []int
	err := poll(5*time.Second, func() (bool, error) {
		var err error
		pids, err = readPids(path)
		return len(pids) >= n, err
	})
	if err != nil {
		t.Fatalf("waiting for %d processes in %s: %v (have %v)", n, path, err, pids)
	}
	return pids
}

func TestKillFrozenV2(t *testing.T) {
	h := realHierarchy(t, ModeV2)
	c, _ := createCgroup(t, h, ModeV2, artifact.Limits{})
	if !fileExists(filepath.Join(c.Path(), "cgroup.freeze")) {
		skipUnlessPrivileged(t, "the kernel has no cgroup.freeze")
	}
	loop := exec.Command("sh", "-c", forkLoop)
	release := startBlocked(t, loop)
	addProc(t, c, loop.Process.Pid)
	release()
	waitForPids(t, c.Path(), 5)

	if err := killFrozenV2(c.Path(), t.Logf); err != nil {
		t.Fatalf("killFrozenV2() error = %v", err)
	}
	waitKilled(t, loop)
	if got := readTrimmed(t, filepath.Join(c.Path(), "cgroup.freeze")); got != "0" {
		t.Errorf("cgroup.freeze after killFrozenV2() = %q, want 0", got)
	}
	if err := c.Destroy(); err != nil {
		t.Errorf("Destroy() error = %v", err)
	}
}

func TestCgroupFD(t *testing.T) {
	h := realHierarchy(t, ModeV2)
	c, _ := createCgroup(t, h, ModeV2, artifact.Limits{})
	fd, err := c.OpenFD()
	if err != nil {
		t.Fatalf("OpenFD() error = %v", err)
	}
	defer unix.Close(fd)
	attr := &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
	wantSuffix := "/" + filepath.Base(c.Path())

	// cat prints the cgroup it runs in, which shows it was placed before it ran.
	cat := exec.Command("cat", "/proc/self/cgroup")
	cat.SysProcAttr = attr
	out, err := cat.Output()
	if err != nil {
		t.Fatalf("cat /proc/self/cgroup: %v", err)
	}
	if line := unifiedLine(string(out)); !strings.HasSuffix(line, wantSuffix) {
		t.Errorf("child's own cgroup2 line = %q, want suffix %q", line, wantSuffix)
	}

	sleeper := exec.Command("sleep", "60")
	sleeper.SysProcAttr = attr
	startProcess(t, sleeper)
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", sleeper.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	if line := unifiedLine(string(b)); !strings.HasSuffix(line, wantSuffix) {
		t.Errorf("/proc/%d/cgroup cgroup2 line = %q, want suffix %q", sleeper.Process.Pid, line, wantSuffix)
	}
	pids, err := readPids(c.Path())
	if err != nil || !slices.Contains(pids, sleeper.Process.Pid) {
		t.Errorf("cgroup.procs = %v, %v, want it to contain %d", pids, err, sleeper.Process.Pid)
	}

	if err := c.Destroy(); err != nil {
		t.Fatalf("Destroy() error = %v", err)
	}
	waitKilled(t, sleeper)
}

func unifiedLine(procCgroup string) string {
	for line := range strings.SplitSeq(procCgroup, "\n") {
		if strings.HasPrefix(line, "0::") {
			return line
		}
	}
	return ""
}

func TestOpenFDV1(t *testing.T) {
	h := realHierarchy(t, ModeV1)
	c, _ := createCgroup(t, h, ModeV1, artifact.Limits{})
	if fd, err := c.OpenFD(); err == nil {
		unix.Close(fd)
		t.Errorf("OpenFD() on a v1 cgroup = %d, nil, want error", fd)
	}
}

func TestPidsLimit(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.String(), func(t *testing.T) {
			h := realHierarchy(t, mode)
			c, notices := createCgroup(t, h, mode, artifact.Limits{Pids: 10})
			if len(notices) != 0 {
				skipUnlessPrivileged(t, fmt.Sprintf("pids limit not available: %q", notices))
			}
			pidsDir := dirWithFile(c, "pids.max")
			if got := readTrimmed(t, filepath.Join(pidsDir, "pids.max")); got != "10" {
				t.Errorf("pids.max = %q, want 10", got)
			}

			script := "read x; n=0; while [ $n -lt 40 ]; do sleep 30 & n=$((n+1)); done; echo started $n"
			cmd := exec.Command("sh", "-c", script)
			// Files, unlike pipes, let Wait return while the sleeps still
			// hold the shell's stdout and stderr open.
			stdout, stderr := tempFile(t), tempFile(t)
			cmd.Stdout, cmd.Stderr = stdout, stderr
			release := startBlocked(t, cmd)
			addProc(t, c, cmd.Process.Pid)
			release()
			err := waitTimeout(t, cmd, 20*time.Second)

			output := readTrimmed(t, stdout.Name())
			if err == nil || strings.Contains(output, "started 40") {
				t.Errorf("fork loop under pids limit 10: err %v, stdout %q, want a failed fork", err, output)
			}
			t.Logf("shell: %v, stderr %q", err, readTrimmed(t, stderr.Name()))
			current, err := strconv.Atoi(readTrimmed(t, filepath.Join(pidsDir, "pids.current")))
			if err != nil || current > 10 {
				t.Errorf("pids.current = %d, %v, want at most 10", current, err)
			}
		})
	}
}

func TestMemoryLimit(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.String(), func(t *testing.T) {
			h := realHierarchy(t, mode)
			c, notices := createCgroup(t, h, mode, artifact.Limits{MemoryBytes: 64 << 20})
			if len(notices) != 0 {
				skipUnlessPrivileged(t, fmt.Sprintf("memory limit not available: %q", notices))
			}
			self, err := os.Executable()
			if err != nil {
				t.Fatal(err)
			}

			hog := exec.Command(self)
			hog.Env = append(os.Environ(), helperEnv+"=memory-hog")
			var stdout bytes.Buffer
			hog.Stdout = &stdout
			release := startBlocked(t, hog)
			addProc(t, c, hog.Process.Pid)
			release()
			waitKilled(t, hog)

			if strings.Contains(stdout.String(), "allocated") {
				t.Errorf("memory hog printed %q under a 64 MiB limit", stdout.String())
			}
			if memoryDir := dirWithFile(c, "memory.oom_control"); memoryDir != "" {
				oom := readTrimmed(t, filepath.Join(memoryDir, "memory.oom_control"))
				if !regexp.MustCompile(`(?m)^oom_kill [1-9]`).MatchString(oom) {
					t.Errorf("memory.oom_control = %q, want oom_kill of at least 1", oom)
				}
			}
		})
	}
}

func TestCPULimit(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.String(), func(t *testing.T) {
			h := realHierarchy(t, mode)
			c, notices := createCgroup(t, h, mode, artifact.Limits{CPUs: 0.5})
			if len(notices) != 0 {
				skipUnlessPrivileged(t, fmt.Sprintf("CPU limit not available: %q", notices))
			}
			if d := dirWithFile(c, "cpu.max"); d != "" {
				if got := readTrimmed(t, filepath.Join(d, "cpu.max")); got != "50000 100000" {
					t.Errorf("cpu.max = %q, want %q", got, "50000 100000")
				}
				return
			}
			d := dirWithFile(c, "cpu.cfs_quota_us")
			if d == "" {
				t.Fatalf("no directory of %v has a CPU limit file", c.dirs)
			}
			if got := readTrimmed(t, filepath.Join(d, "cpu.cfs_quota_us")); got != "50000" {
				t.Errorf("cpu.cfs_quota_us = %q, want 50000", got)
			}
		})
	}
}

func tempFile(t *testing.T) *os.File {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "output")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// dirWithFile returns the directory of c that has the control file name.
func dirWithFile(c *Cgroup, name string) string {
	for _, d := range c.dirs {
		if fileExists(filepath.Join(d.path, name)) {
			return d.path
		}
	}
	return ""
}

func TestLimitNotEnforced(t *testing.T) {
	h := realHierarchy(t, ModeV2)
	if listsController(filepath.Join(h.unified, "cgroup.subtree_control"), "memory") {
		t.Skip("this cgroup delegates the cgroup2 memory controller, so the limit would be enforced")
	}
	// Without the v1 hierarchies no memory controller is available.
	v2Only := &Hierarchy{Log: t.Logf, unified: h.unified}
	limits := artifact.Limits{MemoryBytes: 64 << 20}

	c, notices := createCgroup(t, v2Only, ModeV2, limits)
	want := []string{"memory limit 64 MiB not enforced: no memory controller available to this user"}
	if !slices.Equal(notices, want) {
		t.Errorf("Create(ModeV2, %+v, false) notices = %q, want %q", limits, notices, want)
	}
	if err := c.Destroy(); err != nil {
		t.Fatalf("Destroy() error = %v", err)
	}

	before := ownChildren(t, h.unified)
	c, _, err := v2Only.Create(ModeV2, limits, true)
	if err == nil {
		t.Cleanup(func() { destroyAndCheck(t, c) })
	}
	if !errors.Is(err, ErrLimitNotEnforced) {
		t.Errorf("Create(ModeV2, %+v, true) error = %v, want ErrLimitNotEnforced", limits, err)
	}
	if after := ownChildren(t, h.unified); !slices.Equal(after, before) {
		t.Errorf("strict Create left cgroups behind: before %q, after %q", before, after)
	}
}

// ownChildren lists the cgroups in parent that this process's Create made.
func ownChildren(t *testing.T, parent string) []string {
	t.Helper()
	entries, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if pid, ok := parseName(e.Name()); ok && pid == os.Getpid() {
			names = append(names, e.Name())
		}
	}
	return names
}

func TestCreateFallback(t *testing.T) {
	tests := []struct {
		name        string
		prefer      Mode
		keep        Mode // the only hierarchy the Hierarchy under test has
		wantNotices []string
	}{
		{"v1 preferred, v2 only", ModeV1, ModeV2,
			[]string{"using cgroup v2 because cgroup v1 failed: no cgroup v1 freezer hierarchy contains this process"}},
		{"v2 preferred, v1 only", ModeV2, ModeV1,
			[]string{"using cgroup v1 because cgroup v2 failed: no cgroup2 hierarchy contains this process"}},
		{"auto, v1 only", ModeAuto, ModeV1, nil},
		{"auto, v2 only", ModeAuto, ModeV2, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := realHierarchy(t, tc.keep)
			partial := &Hierarchy{Log: t.Logf}
			if tc.keep == ModeV2 {
				partial.unified = h.unified
			} else {
				partial.v1 = map[string]string{"freezer": h.v1["freezer"]}
			}
			c, notices, err := partial.Create(tc.prefer, artifact.Limits{}, false)
			if err != nil {
				t.Fatalf("Create(%v) error = %v", tc.prefer, err)
			}
			t.Cleanup(func() { destroyAndCheck(t, c) })
			if c.Mode() != tc.keep {
				t.Errorf("Create(%v).Mode() = %v, want %v", tc.prefer, c.Mode(), tc.keep)
			}
			if !slices.Equal(notices, tc.wantNotices) {
				t.Errorf("Create(%v) notices = %q, want %q", tc.prefer, notices, tc.wantNotices)
			}
		})
	}
}

func TestCreateUnavailable(t *testing.T) {
	c, notices, err := (&Hierarchy{}).Create(ModeAuto, artifact.Limits{}, false)
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, errNoCgroup2) || !errors.Is(err, errNoFreezer) {
		t.Errorf("Create() on no hierarchy = %v, %q, %v, want ErrUnavailable with both reasons", c, notices, err)
	}
}

func TestCreateUnprivileged(t *testing.T) {
	realHierarchy(t, ModeAuto)
	// The test binary is copied to a directory that the unprivileged user
	// can read, because the go command builds it in a private one.
	dir, err := os.MkdirTemp("", "cgroup-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	binary := filepath.Join(dir, "cgroup.test")
	copyExecutable(t, binary)

	const nobody = 65534
	cmd := exec.Command(binary)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), helperEnv+"=create")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("Create() as uid %d: %v, output %q, want ErrUnavailable with EACCES", nobody, err, out)
	}
	t.Logf("Create() as uid %d: %s", nobody, bytes.TrimSpace(out))
}

func copyExecutable(t *testing.T, destination string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(destination, b, 0o755); err != nil {
		t.Fatal(err)
	}
}

func TestCreateInvalidLimits(t *testing.T) {
	limits := artifact.Limits{Pids: -1}
	if c, _, err := (&Hierarchy{}).Create(ModeAuto, limits, false); err == nil || errors.Is(err, ErrUnavailable) {
		t.Errorf("Create(%+v) = %v, %v, want an invalid limit error", limits, c, err)
	}
}

func TestDestroyIdempotent(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.String(), func(t *testing.T) {
			h := realHierarchy(t, mode)
			c, _ := createCgroup(t, h, mode, artifact.Limits{Pids: 20, MemoryBytes: 256 << 20})
			for i := range 2 {
				if err := c.Destroy(); err != nil {
					t.Errorf("Destroy() call %d error = %v", i+1, err)
				}
			}
			if err := c.Kill(); err != nil {
				t.Errorf("Kill() after Destroy() error = %v", err)
			}
			if err := c.AddProc(os.Getpid()); err == nil {
				t.Errorf("AddProc() after Destroy() = nil, want error")
			}
		})
	}
}

func TestSweep(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.String(), func(t *testing.T) {
			h := realHierarchy(t, mode)
			// The sweep runs inside a parent of its own, so it cannot see
			// cgroups that other processes made.
			isolated := &Hierarchy{Log: t.Logf}
			var base string
			if mode == ModeV2 {
				base = makeCgroupDir(t, h.unified, testName(t, os.Getpid()))
				isolated.unified = base
			} else {
				base = makeCgroupDir(t, h.v1["freezer"], testName(t, os.Getpid()))
				isolated.v1 = map[string]string{"freezer": base}
			}

			dead := deadPid(t)
			stale := makeCgroupDir(t, base, testName(t, dead))
			live := makeCgroupDir(t, base, testName(t, os.Getpid()))
			populated := makeCgroupDir(t, base, testName(t, dead))
			sleeper := startProcess(t, exec.Command("sleep", "60"))
			if err := writeFile(filepath.Join(populated, "cgroup.procs"), strconv.Itoa(sleeper.Process.Pid)); err != nil {
				t.Fatal(err)
			}
			random := strings.TrimPrefix(filepath.Base(stale), fmt.Sprintf("parker-%d-", dead))
			untouched := []string{live, populated}
			for _, name := range []string{
				fmt.Sprintf("parker-%d-%s", dead, random[:15]),
				fmt.Sprintf("parker-%d-%s", dead, strings.ToUpper(random)),
				fmt.Sprintf("parker-0%d-%s", dead, random),
				fmt.Sprintf("xparker-%d-%s", dead, random),
				fmt.Sprintf("parker-%d-%s.old", dead, random),
				fmt.Sprintf("sweep-test-%d", dead),
			} {
				untouched = append(untouched, makeCgroupDir(t, base, name))
			}

			if err := isolated.Sweep(); err != nil {
				t.Errorf("Sweep() error = %v", err)
			}
			if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("after Sweep(), stat %s = %v, want not exist", stale, err)
			}
			for _, path := range untouched {
				if _, err := os.Stat(path); err != nil {
					t.Errorf("after Sweep(), stat %s = %v, want it kept", path, err)
				}
			}
		})
	}
}

func testName(t *testing.T, pid int) string {
	t.Helper()
	name, err := newName(pid, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return name
}

// makeCgroupDir creates a cgroup directory and registers its removal, which
// runs after the removal of processes started later in the test.
func makeCgroupDir(t *testing.T, parent, name string) string {
	t.Helper()
	path := filepath.Join(parent, name)
	if err := mkdir(path); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := removeCgroupDir(path); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return path
}

// deadPid returns the pid of a process that has exited and been reaped.
func deadPid(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	if processExists(pid) {
		t.Skipf("pid %d was reused at once", pid)
	}
	return pid
}
