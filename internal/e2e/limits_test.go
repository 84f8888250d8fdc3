package e2e

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/parkerpack/parker/internal/mountinfo"
)

// cgroupModes are the values of PARKER_CGROUP that pick each way the
// runtime contains a run: cgroup v2 where writable (the default), and the
// v1 freezer hierarchy.
var cgroupModes = []string{"", "v1"}

func cgroupName(mode string) string {
	if mode == "" {
		return "default"
	}
	return mode
}

// memoryHog touches 300 MiB, one MiB at a time, so that every page is
// really allocated.
const memoryHog = `#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(void) {
	for (int i = 0; i < 300; i++) {
		char *p = malloc(1 << 20);
		if (!p) { printf("malloc failed after %d MiB\n", i); return 1; }
		memset(p, 1, 1 << 20);
	}
	printf("touched 300 MiB\n");
	return 0;
}
`

// forkLoop forks up to 64 children that wait, counts the forks that
// failed with EAGAIN, then kills the children and reports.
const forkLoop = `#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>
int main(void) {
	pid_t kids[64];
	int n = 0, failed = 0;
	for (int i = 0; i < 64; i++) {
		pid_t p = fork();
		if (p == 0) { pause(); _exit(0); }
		if (p < 0) {
			if (errno != EAGAIN) { perror("fork"); return 1; }
			failed++;
			continue;
		}
		kids[n++] = p;
	}
	for (int i = 0; i < n; i++) kill(kids[i], SIGKILL);
	while (wait(NULL) > 0) {}
	printf("forked=%d failed=%d\n", n, failed);
	return 0;
}
`

// packC compiles src as WORKDIR/name and packs it with flags; it returns
// the artifact's path.
func packC(t *testing.T, name, src string, flags ...string) string {
	t.Helper()
	dir := workdir(t)
	compileC(t, filepath.Join(dir, name), src)
	pack(t, dir, append(flags, name)...)
	return filepath.Join(dir, name+"-c")
}

// runEnv runs argv in dir with tok and env added to the environment.
func runEnv(t *testing.T, dir, tok string, env []string, argv ...string) runResult {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), tok), env...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// A survivor holding stdout open must not hang the test: the leftover
	// checks report it.
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok && !errors.Is(err, exec.ErrWaitDelay) {
		t.Fatalf("running %v: %v", argv, err)
	}
	res := runResult{stdout: stdout.String(), stderr: stderr.String(), pid: cmd.Process.Pid}
	ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
	res.status = ws.ExitStatus()
	if ws.Signaled() {
		res.signal = ws.Signal()
	}
	return res
}

// requireEnforced skips when the host cannot enforce a limit, which the
// runtime reports on stderr.
func requireEnforced(t *testing.T, stderr string) {
	t.Helper()
	if strings.Contains(stderr, "not enforced") {
		skipOrFail(t, "this host cannot enforce the limit: "+strings.TrimSpace(stderr))
	}
}

func TestMemoryLimitKillsHog(t *testing.T) {
	requireRoot(t)
	limited := packC(t, "hog", memoryHog, "--memory", "64M")
	unlimited := packC(t, "hog", memoryHog)

	t.Run("without limit", func(t *testing.T) {
		tok := token(t)
		res := runEnv(t, filepath.Dir(unlimited), tok, nil, unlimited)
		if res.stdout != "touched 300 MiB\n" || res.status != 0 {
			t.Errorf("run = %q status %d (stderr %q), want the hog to finish", res.stdout, res.status, res.stderr)
		}
		assertNoLeftovers(t, tok, res.pid)
	})
	for _, mode := range cgroupModes {
		t.Run(cgroupName(mode), func(t *testing.T) {
			tok := token(t)
			res := runEnv(t, filepath.Dir(limited), tok, []string{"PARKER_CGROUP=" + mode}, limited)
			requireEnforced(t, res.stderr)
			if res.signal != syscall.SIGKILL {
				t.Errorf("run = %q status %d signal %v (stderr %q), want death by SIGKILL", res.stdout, res.status, res.signal, res.stderr)
			}
			if res.stdout != "" {
				t.Errorf("stdout = %q, want nothing: the hog must not reach 300 MiB", res.stdout)
			}
			if res.stderr != "" {
				t.Errorf("stderr = %q, want nothing from the runtime", res.stderr)
			}
			assertNoLeftovers(t, tok, res.pid)
		})
	}
}

func TestPidsLimitStopsForkLoop(t *testing.T) {
	requireRoot(t)
	limited := packC(t, "forker", forkLoop, "--pids", "16")
	unlimited := packC(t, "forker", forkLoop)
	counts := regexp.MustCompile(`^forked=(\d+) failed=(\d+)\n$`)

	t.Run("without limit", func(t *testing.T) {
		tok := token(t)
		res := runEnv(t, filepath.Dir(unlimited), tok, nil, unlimited)
		if res.stdout != "forked=64 failed=0\n" || res.status != 0 {
			t.Errorf("run = %q status %d (stderr %q), want all 64 forks to succeed", res.stdout, res.status, res.stderr)
		}
		assertNoLeftovers(t, tok, res.pid)
	})
	for _, mode := range cgroupModes {
		t.Run(cgroupName(mode), func(t *testing.T) {
			tok := token(t)
			res := runEnv(t, filepath.Dir(limited), tok, []string{"PARKER_CGROUP=" + mode}, limited)
			requireEnforced(t, res.stderr)
			m := counts.FindStringSubmatch(res.stdout)
			if m == nil || res.status != 0 {
				t.Fatalf("run = %q status %d signal %v (stderr %q), want the loop to finish and report", res.stdout, res.status, res.signal, res.stderr)
			}
			var forked, failed int
			fmt.Sscan(m[1], &forked)
			fmt.Sscan(m[2], &failed)
			// The init and the target itself count against the limit too.
			if forked >= 16 {
				t.Errorf("forked = %d children under --pids 16, want fewer than 16", forked)
			}
			if failed == 0 || forked+failed != 64 {
				t.Errorf("forked = %d, failed = %d, want failures making up 64", forked, failed)
			}
			assertNoLeftovers(t, tok, res.pid)
		})
	}
}

// cgroupReporter prints its /proc/self/cgroup, then waits for a line on
// stdin so that the test can read its cgroup's files while it runs.
const cgroupReporter = "#!/bin/sh\ncat /proc/self/cgroup\necho END\nread line\nexit 0\n"

func TestCPULimitWrittenToCgroup(t *testing.T) {
	requireRoot(t)
	dir := workdir(t)
	writeFile(t, filepath.Join(dir, "report"), cgroupReporter, 0o755)
	pack(t, dir, "--cpus", "0.5", "report")

	for _, mode := range cgroupModes {
		t.Run(cgroupName(mode), func(t *testing.T) {
			tok := token(t)
			cmd := exec.Command(filepath.Join(dir, "report-c"))
			cmd.Env = append(os.Environ(), tok, "PARKER_CGROUP="+mode)
			stdin, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if cmd.ProcessState == nil {
					_ = cmd.Process.Kill()
					_ = cmd.Wait()
				}
			})
			paths := readCgroupLines(t, stdout)

			quota, where := cpuQuota(t, paths)
			if quota != "50000" && quota != "50000 100000" {
				t.Errorf("CPU quota in %s = %q, want 50000 µs per 100000 µs", where, quota)
			}

			stdin.Close()
			_, _ = io.Copy(io.Discard, stdout)
			if err := cmd.Wait(); err != nil {
				t.Errorf("run: %v (stderr %q)", err, stderr.String())
			}
			requireEnforced(t, stderr.String())
			assertNoLeftovers(t, tok, cmd.Process.Pid)
		})
	}
}

// readCgroupLines reads /proc/self/cgroup lines until END and returns the
// path by controller list ("" for cgroup v2).
func readCgroupLines(t *testing.T, r io.Reader) map[string]string {
	t.Helper()
	lines := make(chan string)
	go func() {
		defer close(lines)
		s := bufio.NewScanner(r)
		for s.Scan() && s.Text() != "END" {
			lines <- s.Text()
		}
	}()
	paths := map[string]string{}
	timeout := time.After(10 * time.Second)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				return paths
			}
			fields := strings.SplitN(line, ":", 3)
			if len(fields) == 3 {
				paths[fields[1]] = fields[2]
			}
		case <-timeout:
			t.Fatal("no cgroup report from the target after 10s")
		}
	}
}

// cpuQuota reads the CPU quota of the target's cgroup: cpu.max where
// cgroup v2 has the cpu controller, cpu.cfs_quota_us in the v1 cpu
// hierarchy otherwise.
func cpuQuota(t *testing.T, paths map[string]string) (value, file string) {
	t.Helper()
	mounts, err := mountinfo.Read()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mounts {
		if m.FSType == "cgroup2" && paths[""] != "" {
			file = filepath.Join(m.MountPoint, paths[""], "cpu.max")
			if b, err := os.ReadFile(file); err == nil {
				return strings.TrimSpace(string(b)), file
			}
		}
	}
	for _, m := range mounts {
		if m.FSType != "cgroup" || !hasOption(m.SuperOptions, "cpu") {
			continue
		}
		for controllers, p := range paths {
			if hasOption(controllers, "cpu") {
				file = filepath.Join(m.MountPoint, p, "cpu.cfs_quota_us")
				b, err := os.ReadFile(file)
				if err != nil {
					t.Fatalf("reading the target's CPU quota: %v", err)
				}
				return strings.TrimSpace(string(b)), file
			}
		}
	}
	t.Fatalf("no cgroup with the cpu controller for the target (cgroups %v)", paths)
	return "", ""
}

func hasOption(list, name string) bool {
	for _, o := range strings.Split(list, ",") {
		if o == name {
			return true
		}
	}
	return false
}
