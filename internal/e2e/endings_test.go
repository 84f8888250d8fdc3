package e2e

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// sleeper is a target that ignores the signals whose numbers it gets as
// arguments, leaves a child behind, prints "ready" and sleeps until
// SIGUSR1 makes it exit 5.
const sleeper = `#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void on_usr1(int sig) { (void)sig; _exit(5); }

int main(int argc, char **argv) {
	for (int i = 1; i < argc; i++) signal(atoi(argv[i]), SIG_IGN);
	if (fork() == 0) {
		for (;;) pause();
	}
	signal(SIGUSR1, on_usr1);
	printf("ready\n");
	fflush(stdout);
	for (;;) pause();
}
`

// sleeperRun is one running artifact of sleeper.
type sleeperRun struct {
	cmd    *exec.Cmd
	tok    string
	reaped bool // waited for with wait4 directly, not through cmd
}

func packSleeper(t *testing.T) string {
	t.Helper()
	dir := workdir(t)
	compileC(t, filepath.Join(dir, "sleeper"), sleeper)
	pack(t, dir, "sleeper")
	return filepath.Join(dir, "sleeper-c")
}

// startSleeper starts artifact in a process group of its own and waits
// until the target is ready.
func startSleeper(t *testing.T, artifact string, ignore ...syscall.Signal) *sleeperRun {
	t.Helper()
	r := &sleeperRun{tok: token(t)}
	var args []string
	for _, sig := range ignore {
		args = append(args, strconv.Itoa(int(sig)))
	}
	r.cmd = exec.Command(artifact, args...)
	// A core file of the target would land in the private tmpfs.
	r.cmd.Dir = filepath.Dir(artifact)
	r.cmd.Env = append(os.Environ(), r.tok)
	r.cmd.Stderr = os.Stderr
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := r.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}

	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if r.cmd.ProcessState == nil && !r.reaped {
			_ = r.cmd.Process.Kill()
			_ = r.cmd.Wait()
		}
	})
	ready := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		ready <- line
	}()
	select {
	case line := <-ready:
		if line != "ready\n" {
			t.Fatalf("target printed %q, want \"ready\"", line)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("target not ready after 10s")
	}
	return r
}

// wait waits for the runtime and returns its wait status.
func (r *sleeperRun) wait(t *testing.T) syscall.WaitStatus {
	t.Helper()
	done := make(chan struct{})
	go func() {
		_ = r.cmd.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("runtime still running 10s after the target should have ended")
	}
	return r.cmd.ProcessState.Sys().(syscall.WaitStatus)
}

// TestTargetEndings ends the target in each way a process can end and
// checks the runtime's status and that nothing of the container is left.
func TestTargetEndings(t *testing.T) {
	requireRoot(t)
	dir := workdir(t)
	writeFile(t, filepath.Join(dir, "end"), `#!/bin/sh
ulimit -c 0
sleep 1000 &
setsid sleep 1000 &
( sleep 1000 & ) &
case "$1" in
forkloop) ( while :; do sleep 1 & done ) & sleep 0.3 ;;
segv) kill -SEGV $$ ;;
abort) kill -ABRT $$ ;;
term) kill -TERM $$ ;;
esac
exit "${2:-0}"
`, 0o755)
	pack(t, dir, "end")

	tests := []struct {
		name       string
		args       []string
		wantStatus int
		wantSignal syscall.Signal
	}{
		{name: "exit 0", args: []string{"none", "0"}},
		{name: "exit 7", args: []string{"none", "7"}, wantStatus: 7},
		{name: "killed by SIGTERM", args: []string{"term"}, wantStatus: -1, wantSignal: syscall.SIGTERM},
		{name: "killed by SIGSEGV", args: []string{"segv"}, wantStatus: -1, wantSignal: syscall.SIGSEGV},
		{name: "killed by SIGABRT", args: []string{"abort"}, wantStatus: -1, wantSignal: syscall.SIGABRT},
		{name: "fork loop left running", args: []string{"forkloop", "0"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok := token(t)
			res := runArtifact(t, dir, "./end-c", tok, "", tc.args...)
			if res.status != tc.wantStatus {
				t.Errorf("exit status = %d, want %d (stderr %q)", res.status, tc.wantStatus, res.stderr)
			}
			if res.signal != tc.wantSignal {
				t.Errorf("runtime killed by signal %d, want %d", res.signal, tc.wantSignal)
			}
			if res.stderr != "" {
				t.Errorf("stderr = %q, want nothing from the runtime", res.stderr)
			}
			assertNoLeftovers(t, tok, res.pid)
		})
	}
}

// TestRuntimeSignalled sends the runtime the signals that usually end a
// program. A target that does not ignore them dies by them, and the
// runtime by the same signal. A target that ignores them keeps running
// until it exits by itself.
func TestRuntimeSignalled(t *testing.T) {
	requireRoot(t)
	artifact := packSleeper(t)
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT} {
		t.Run(sig.String(), func(t *testing.T) {
			r := startSleeper(t, artifact)
			// Allowed to, the runtime could dump core into the
			// artifact's directory on the host when it dies by SIGQUIT.
			unlimited := &unix.Rlimit{Cur: unix.RLIM_INFINITY, Max: unix.RLIM_INFINITY}
			if err := unix.Prlimit(r.cmd.Process.Pid, unix.RLIMIT_CORE, unlimited, nil); err != nil {
				t.Fatalf("allowing core dumps: %v", err)
			}
			if err := r.cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			ws := r.wait(t)
			if !ws.Signaled() || ws.Signal() != sig {
				t.Errorf("wait status = %v, want killed by %v", ws, sig)
			}
			if ws.CoreDump() {
				t.Errorf("runtime dumped core")
			}
			if cores, _ := filepath.Glob(filepath.Join(r.cmd.Dir, "core*")); len(cores) > 0 {
				t.Errorf("core files written: %v", cores)
			}
			assertNoLeftovers(t, r.tok, r.cmd.Process.Pid)
		})
		t.Run(sig.String()+" ignored", func(t *testing.T) {
			r := startSleeper(t, artifact, sig)
			if err := r.cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			time.Sleep(200 * time.Millisecond)
			if err := r.cmd.Process.Signal(syscall.Signal(0)); err != nil {
				t.Fatalf("runtime ended after %v that the target ignores: %v", sig, err)
			}
			if err := r.cmd.Process.Signal(syscall.SIGUSR1); err != nil {
				t.Fatal(err)
			}
			if ws := r.wait(t); ws.ExitStatus() != 5 {
				t.Errorf("wait status = %v, want exit status 5", ws)
			}
			assertNoLeftovers(t, r.tok, r.cmd.Process.Pid)
		})
	}
}

// TestRuntimeKilled kills the runtime with signals it cannot handle: the
// init dies with it through its parent-death signal and takes the pid
// namespace down. Only the cgroup remains, and the next run of any
// artifact removes it.
func TestRuntimeKilled(t *testing.T) {
	requireRoot(t)
	artifact := packSleeper(t)
	other := workdir(t)
	writeFile(t, filepath.Join(other, "true"), "#!/bin/sh\n", 0o755)
	pack(t, other, "true")

	// 34 is the first real-time signal as glibc numbers them; the Go
	// runtime leaves it at its default action, which ends the process.
	for _, sig := range []syscall.Signal{syscall.SIGKILL, 34} {
		t.Run(sig.String(), func(t *testing.T) {
			r := startSleeper(t, artifact)
			pid := r.cmd.Process.Pid
			initPid := initOf(t, r.tok)
			if len(parkerCgroups(pid)) == 0 {
				t.Log("the runtime runs without a cgroup")
			}
			if err := r.cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			if ws := r.wait(t); !ws.Signaled() || ws.Signal() != sig {
				t.Errorf("wait status = %v, want killed by %v", ws, sig)
			}
			waitGone(t, r.tok)
			// The init's zombie keeps the cgroup populated until the
			// host's init reaps it.
			waitReaped(t, initPid)
			if left := parkerCgroups(pid); len(left) > 0 {
				t.Logf("left for the next run to remove: %v", left)
			}

			res := runArtifact(t, other, "./true-c", token(t), "")
			if res.status != 0 {
				t.Fatalf("next run: exit status %d, want 0 (stderr %q)", res.status, res.stderr)
			}
			assertNoLeftovers(t, r.tok, pid)
		})
	}
}

// waitReaped waits until pid, a process that has exited, is reaped.
func waitReaped(t *testing.T, pid string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join("/proc", pid)); os.IsNotExist(err) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %s not reaped 5s after the runtime died", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitGone waits until no process carries tok.
func waitGone(t *testing.T, tok string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		pids := processesWith(tok)
		if len(pids) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes of the container still running 5s after the runtime died: %v", pids)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// procStat is the part of /proc/PID/stat the tests look at.
type procStat struct {
	state byte
	ppid  int
}

func readProcStat(pid string) (procStat, bool) {
	b, err := os.ReadFile(filepath.Join("/proc", pid, "stat"))
	if err != nil {
		return procStat{}, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return procStat{}, false
	}
	fields := strings.Fields(s[i+1:])
	if len(fields) < 2 {
		return procStat{}, false
	}
	ppid, _ := strconv.Atoi(fields[1])
	return procStat{state: fields[0][0], ppid: ppid}, true
}

// childrenOf lists the pids whose parent is ppid. Zombies are found too,
// which processesWith misses because their environment is gone.
func childrenOf(ppid int) []string {
	entries, _ := os.ReadDir("/proc")
	var pids []string
	for _, e := range entries {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		if st, ok := readProcStat(e.Name()); ok && st.ppid == ppid {
			pids = append(pids, e.Name())
		}
	}
	return pids
}

// initOf returns the host pid of the container's init among the
// processes carrying tok.
func initOf(t *testing.T, tok string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, pid := range processesWith(tok) {
			cmdline, _ := os.ReadFile(filepath.Join("/proc", pid, "cmdline"))
			if string(cmdline) == "parker-init\x00" {
				return pid
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no container init running after 10s")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestInitReapsOrphans runs a target whose children start short-lived
// grandchildren and exit at once, so that the grandchildren end as
// orphans of the init. Sampling /proc meanwhile, no orphan may stay a
// zombie for longer than a moment.
func TestInitReapsOrphans(t *testing.T) {
	requireRoot(t)
	dir := workdir(t)
	writeFile(t, filepath.Join(dir, "orphans"), `#!/bin/sh
i=0
while [ $i -lt 60 ]; do
	( sleep 0.02 & sleep 0.05 & exit 0 ) &
	sleep 0.03
	i=$((i+1))
done
wait
echo done
`, 0o755)
	pack(t, dir, "orphans")

	tok := token(t)
	cmd := exec.Command("./orphans-c")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), tok)
	out := &strings.Builder{}
	cmd.Stdout = out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	initPid, _ := strconv.Atoi(initOf(t, tok))

	// How long a zombie whose parent is the init may stay unreaped; the
	// init reaps at each SIGCHLD, so this only absorbs scheduling delays.
	const moment = 500 * time.Millisecond
	firstSeen := map[string]time.Time{}
	children := map[string]bool{}
	var longest time.Duration
	for running := true; running; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("run failed: %v", err)
			}
			running = false
		default:
		}
		now := time.Now()
		for _, pid := range childrenOf(initPid) {
			st, ok := readProcStat(pid)
			if !ok {
				continue
			}
			children[pid] = true
			if st.state != 'Z' {
				continue
			}
			if _, seen := firstSeen[pid]; !seen {
				firstSeen[pid] = now
			}
			if d := now.Sub(firstSeen[pid]); d > longest {
				longest = d
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Logf("%d children of the init seen, %d of them as zombies, longest for %v", len(children), len(firstSeen), longest)
	if out.String() != "done\n" {
		t.Errorf("output = %q, want \"done\\n\"", out.String())
	}
	if len(children) < 10 {
		t.Errorf("saw %d children of the init, want at least 10: the target did not exercise reaping", len(children))
	}
	if longest > moment {
		t.Errorf("an orphan stayed a zombie for %v, want at most %v", longest, moment)
	}
	assertNoLeftovers(t, tok, cmd.Process.Pid)
}

// TestConcurrentRuns starts many runs of one artifact at the same instant.
// Each must see only its own processes, tmpfs and cgroup, print its own
// argument and exit 0.
func TestConcurrentRuns(t *testing.T) {
	requireRoot(t)
	dir := workdir(t)
	writeFile(t, filepath.Join(dir, "alone"), `#!/bin/sh
echo "$1" >"mine-$1"
sleep 0.3
printf 'arg=%s\n' "$1"
printf 'files=%s\n' "$(echo mine-*)"
for env in /proc/[0-9]*/environ; do
	grep -qzx "PARKER_TEST_TOKEN=$PARKER_TEST_TOKEN" "$env" 2>/dev/null
	[ $? -eq 1 ] && echo "foreign process ${env%/environ}"
done
grep '^0::' /proc/self/cgroup
`, 0o755)
	pack(t, dir, "alone")

	const runs = 32
	type outcome struct {
		tok, stdout, stderr string
		pid                 int
		err                 error
	}
	outcomes := make([]outcome, runs)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range outcomes {
		outcomes[i].tok = token(t)
		wg.Add(1)
		go func(o *outcome, arg string) {
			defer wg.Done()
			cmd := exec.Command("./alone-c", arg)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), o.tok)
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			<-start
			o.err = cmd.Run()
			o.stdout, o.stderr = stdout.String(), stderr.String()
			if cmd.Process != nil {
				o.pid = cmd.Process.Pid
			}
		}(&outcomes[i], fmt.Sprint(i))
	}
	close(start)
	wg.Wait()

	cgroups := map[string]int{}
	for i, o := range outcomes {
		if o.err != nil {
			t.Errorf("run %d: %v (stderr %q)", i, o.err, o.stderr)
			continue
		}
		lines := strings.Split(strings.TrimSuffix(o.stdout, "\n"), "\n")
		want := []string{fmt.Sprintf("arg=%d", i), fmt.Sprintf("files=mine-%d", i)}
		if len(lines) != 3 || lines[0] != want[0] || lines[1] != want[1] {
			t.Errorf("run %d printed %q, want %q then its cgroup", i, o.stdout, strings.Join(want, "\n"))
			continue
		}
		switch cg := lines[2]; {
		case strings.Contains(cg, fmt.Sprintf("/parker-%d-", o.pid)):
			cgroups[cg]++
		case strings.Contains(cg, "/parker-"):
			t.Errorf("run %d ran in cgroup %q of another run", i, cg)
		default:
			t.Logf("run %d ran in no cgroup v2 of its own (%q)", i, cg)
		}
	}
	for cg, n := range cgroups {
		if n > 1 {
			t.Errorf("%d runs shared cgroup %s", n, cg)
		}
	}
	for _, o := range outcomes {
		assertNoLeftovers(t, o.tok, o.pid)
	}
}
