package e2e

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// signalCounter is a target that handles every catchable signal and
// appends one line per signal received, its number, to the log file
// named by argv[1]. It prints "ready" once its handlers are in place and exits 0
// at the first signal after argv[2] exists. With "busy" as argv[3] it
// spins instead of sleeping in pause.
const signalCounter = `#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int logfd;

static void on_signal(int sig) {
	char buf[4];
	int n = 0;
	if (sig >= 10) buf[n++] = '0' + sig / 10;
	buf[n++] = '0' + sig % 10;
	buf[n++] = '\n';
	write(logfd, buf, n);
}

int main(int argc, char **argv) {
	if (argc < 3) return 2;
	logfd = open(argv[1], O_WRONLY | O_CREAT | O_APPEND | O_TRUNC, 0644);
	if (logfd < 0) { perror(argv[1]); return 2; }
	int busy = argc > 3 && strcmp(argv[3], "busy") == 0;

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	for (int sig = 1; sig <= 64; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP || sig == 32 || sig == 33) continue;
		sigaction(sig, &sa, NULL);
	}
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	printf("ready\n");
	fflush(stdout);
	volatile unsigned long spins = 0;
	while (access(argv[2], F_OK) != 0) {
		if (!busy) { pause(); continue; }
		for (int i = 0; i < 1000000; i++) spins++;
	}
	return 0;
}
`

// counterRun is one running artifact of signalCounter.
type counterRun struct {
	cmd      *exec.Cmd
	log      string // host file the target appends received signals to
	stopFile string // host file whose existence makes the target exit
	tok      string
	ready    chan error
}

// packSignalCounter builds signalCounter and packs it as counter-c.
func packSignalCounter(t *testing.T) string {
	t.Helper()
	dir := workdir(t)
	compileC(t, filepath.Join(dir, "counter"), signalCounter)
	pack(t, dir, "counter")
	return filepath.Join(dir, "counter-c")
}

// startCounter starts artifact in its own process group, as a shell starts
// a job, with the log and stop files in a host directory of their own.
// wrapper, when given, runs first and execs the artifact.
func startCounter(t *testing.T, artifact string, busy bool, wrapper ...string) *counterRun {
	t.Helper()
	host := t.TempDir()
	r := &counterRun{
		log:      filepath.Join(host, "signals.log"),
		stopFile: filepath.Join(host, "stop"),
		tok:      token(t),
		ready:    make(chan error, 1),
	}
	args := append(append([]string(nil), wrapper...), artifact, r.log, r.stopFile)
	if busy {
		args = append(args, "busy")
	}
	r.cmd = exec.Command(args[0], args[1:]...)
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
		if r.cmd.ProcessState == nil {
			_ = r.cmd.Process.Kill()
			_ = r.cmd.Wait()
		}
	})
	go func() {
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err == nil && line != "ready\n" {
			err = fmt.Errorf("target printed %q, want \"ready\"", line)
		}
		r.ready <- err
	}()
	return r
}

func (r *counterRun) waitReady(t *testing.T) {
	t.Helper()
	select {
	case err := <-r.ready:
		if err != nil {
			t.Fatalf("waiting for the target: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("target not ready after 10s")
	}
}

// counts reads the log: how often each signal arrived.
func (r *counterRun) counts(t *testing.T) map[int]int {
	t.Helper()
	b, err := os.ReadFile(r.log)
	if err != nil {
		t.Fatal(err)
	}
	received := map[int]int{}
	for _, line := range strings.Fields(string(b)) {
		sig, err := strconv.Atoi(line)
		if err != nil {
			t.Fatalf("log line %q is not a signal number", line)
		}
		received[sig]++
	}
	return received
}

// waitCount polls until sig has arrived want times.
func (r *counterRun) waitCount(t *testing.T, sig syscall.Signal, want int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := r.counts(t)
		if got[int(sig)] >= want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("target received %v %d times after 5s, want %d (all: %v)", sig, got[int(sig)], want, got)
		}
		time.Sleep(time.Millisecond)
	}
}

// stop makes the target exit 0 and checks that the runtime does too.
func (r *counterRun) stop(t *testing.T) {
	t.Helper()
	writeFile(t, r.stopFile, "", 0o644)
	if err := r.cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	if err := r.cmd.Wait(); err != nil {
		t.Errorf("runtime ended with %v after the target exited 0, want exit status 0", err)
	}
	assertNoLeftovers(t, r.tok, r.cmd.Process.Pid)
}

// catchableSignals lists the signals the runtime forwards: every signal a
// process can catch except SIGCHLD and SIGURG. SIGPROF and 32 to 34 are
// left out too, because the Go runtime does not hand them to os/signal.
func catchableSignals() []syscall.Signal {
	var sigs []syscall.Signal
	for sig := syscall.Signal(1); sig <= 64; sig++ {
		switch sig {
		case syscall.SIGKILL, syscall.SIGSTOP, syscall.SIGCHLD, syscall.SIGURG, syscall.SIGPROF, 32, 33, 34:
			continue
		}
		sigs = append(sigs, sig)
	}
	return sigs
}

// TestSignalsReachTargetOnce sends every forwarded signal to the runtime
// three times, waiting each time until the target has it, so that
// coalescing of a pending signal cannot hide a duplicate or a loss.
func TestSignalsReachTargetOnce(t *testing.T) {
	requireRoot(t)
	r := startCounter(t, packSignalCounter(t), false)
	r.waitReady(t)

	const times = 3
	sigs := catchableSignals()
	for _, sig := range sigs {
		for i := 1; i <= times; i++ {
			if err := r.cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			r.waitCount(t, sig, i)
		}
	}
	// A duplicate forwarded late would show up within this pause.
	time.Sleep(200 * time.Millisecond)

	got := r.counts(t)
	for _, sig := range sigs {
		if got[int(sig)] != times {
			t.Errorf("target received %v (%d) %d times, want %d", sig, int(sig), got[int(sig)], times)
		}
		delete(got, int(sig))
	}
	if len(got) > 0 {
		t.Errorf("target received signals nobody sent: %v", got)
	}
	r.stop(t)
}

// TestSignalBurstWhileBusy floods the runtime with one signal while the
// target spins. Pending signals of one number may merge, so the target
// must see at least one and at most as many as were sent, and never
// SIGURG, which the Go runtime sends its own threads to preempt them, or
// SIGCHLD.
func TestSignalBurstWhileBusy(t *testing.T) {
	requireRoot(t)
	r := startCounter(t, packSignalCounter(t), true)
	r.waitReady(t)

	const burst = 2000
	for i := 0; i < burst; i++ {
		if err := r.cmd.Process.Signal(syscall.SIGWINCH); err != nil {
			t.Fatal(err)
		}
		if i%100 == 0 {
			if err := r.cmd.Process.Signal(syscall.SIGUSR2); err != nil {
				t.Fatal(err)
			}
			r.waitCount(t, syscall.SIGUSR2, i/100+1)
		}
	}
	r.waitCount(t, syscall.SIGWINCH, 1)
	time.Sleep(200 * time.Millisecond)

	got := r.counts(t)
	if n := got[int(syscall.SIGWINCH)]; n < 1 || n > burst {
		t.Errorf("target received SIGWINCH %d times, want 1 to %d", n, burst)
	}
	if n := got[int(syscall.SIGUSR2)]; n != burst/100 {
		t.Errorf("target received SIGUSR2 %d times, want %d", n, burst/100)
	}
	for _, sig := range []syscall.Signal{syscall.SIGURG, syscall.SIGCHLD} {
		if n := got[int(sig)]; n != 0 {
			t.Errorf("target received %v %d times, want never", sig, n)
		}
	}
	r.stop(t)
}

// blockAndExec is a python3.11 program that blocks the signals named in
// its first argument and execs the rest of its arguments, which inherit
// the blocked mask.
const blockAndExec = `import os, signal, sys
signal.pthread_sigmask(signal.SIG_BLOCK, [int(s) for s in sys.argv[1].split(",")])
os.execv(sys.argv[2], sys.argv[2:])
`

// TestSignalsBeforeTargetStarts sends signals to the runtime before the
// target runs. The caller starts the runtime with them blocked, a mask the
// target inherits, so that a signal the init passes on before the target
// installed its handlers stays pending instead of killing it. Only signals the Go runtime
// leaves blocked until os/signal requests them are used: SIGHUP or SIGTERM
// arriving before that would end the runtime as they would any Go program.
func TestSignalsBeforeTargetStarts(t *testing.T) {
	requireRoot(t)
	requirePython(t)
	artifact := packSignalCounter(t)
	early := []syscall.Signal{syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGALRM, 40}
	var names []string
	for _, sig := range early {
		names = append(names, strconv.Itoa(int(sig)))
	}
	script := filepath.Join(t.TempDir(), "block.py")
	writeFile(t, script, blockAndExec, 0o644)

	r := startCounter(t, artifact, false, python, script, strings.Join(names, ","))
	pid := r.cmd.Process.Pid
	waitExe(t, pid, artifact)
	for _, sig := range early {
		if err := unix.Kill(pid, sig); err != nil {
			t.Fatal(err)
		}
	}
	sentEarly := !fileExists(r.log)
	r.waitReady(t)
	if !sentEarly {
		t.Skip("the target started before the signals were sent; nothing to check this time")
	}
	for _, sig := range early {
		r.waitCount(t, sig, 1)
	}
	time.Sleep(200 * time.Millisecond)

	got := r.counts(t)
	for _, sig := range early {
		if got[int(sig)] != 1 {
			t.Errorf("target received %v %d times, want once", sig, got[int(sig)])
		}
	}
	r.stop(t)
}

// waitExe polls until pid runs the executable path.
func waitExe(t *testing.T, pid int, path string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		if exe == path {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d runs %q after 5s, want %s", pid, exe, path)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// TestInitIgnoresSignalsSentToIt sends signals straight to the container's
// init. It drops them: they neither reach the target nor end the container.
func TestInitIgnoresSignalsSentToIt(t *testing.T) {
	requireRoot(t)
	r := startCounter(t, packSignalCounter(t), false)
	r.waitReady(t)
	initPid, _ := strconv.Atoi(initOf(t, r.tok))

	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGTSTP, syscall.SIGUSR1, syscall.SIGSTOP, syscall.SIGCONT} {
		if err := unix.Kill(initPid, sig); err != nil {
			t.Fatalf("kill(init, %v): %v", sig, err)
		}
	}
	// A signal through the runtime still arrives, after any the init
	// might have passed on by mistake.
	if err := r.cmd.Process.Signal(syscall.SIGUSR2); err != nil {
		t.Fatal(err)
	}
	r.waitCount(t, syscall.SIGUSR2, 1)
	time.Sleep(200 * time.Millisecond)
	got := r.counts(t)
	delete(got, int(syscall.SIGUSR2))
	if len(got) > 0 {
		t.Errorf("signals sent to the init reached the target: %v", got)
	}
	r.stop(t)
}

// TestStopAndContinue stops the target the ways a job is stopped outside a
// terminal and resumes it with SIGCONT to the runtime. The runtime stops
// and continues with the target, so that the shell waiting for the
// runtime follows the job's state.
func TestStopAndContinue(t *testing.T) {
	requireRoot(t)
	artifact := packSleeper(t)
	tests := []struct {
		name     string
		toTarget bool
		sig      syscall.Signal
	}{
		{"SIGTSTP to the runtime", false, syscall.SIGTSTP},
		{"SIGTTIN to the runtime", false, syscall.SIGTTIN},
		{"SIGSTOP to the target", true, syscall.SIGSTOP},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := startSleeper(t, artifact)
			pid := r.cmd.Process.Pid
			target := targetOf(t, r.tok, filepath.Join(filepath.Dir(artifact), "sleeper"))
			to := pid
			if tc.toTarget {
				to = target
			}

			// Twice, because the runtime must take up its own handling
			// of the signal again after stopping by it.
			for range 2 {
				if err := unix.Kill(to, tc.sig); err != nil {
					t.Fatal(err)
				}
				ws := waitJob(t, pid, unix.WUNTRACED)
				if !ws.Stopped() || ws.StopSignal() != tc.sig {
					t.Fatalf("runtime wait status = %v, want stopped by %v", ws, tc.sig)
				}
				if st := processState(target); st != 'T' {
					t.Errorf("target in state %q while the runtime is stopped, want 'T'", st)
				}

				if err := unix.Kill(pid, syscall.SIGCONT); err != nil {
					t.Fatal(err)
				}
				if ws := waitJob(t, pid, unix.WCONTINUED); !ws.Continued() {
					t.Fatalf("runtime wait status = %v, want continued", ws)
				}
				waitState(t, target, 'S')
			}

			if err := unix.Kill(pid, syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			ws := waitJob(t, pid, 0)
			r.reaped = true
			if !ws.Signaled() || ws.Signal() != syscall.SIGTERM {
				t.Errorf("runtime wait status = %v, want killed by SIGTERM", ws)
			}
			assertNoLeftovers(t, r.tok, pid)
		})
	}
}

// waitJob waits for a change of the runtime pid as a shell does, with
// wait4 options such as WUNTRACED, and returns its wait status. Once the
// runtime has exited, its exec.Cmd must not be waited for again.
func waitJob(t *testing.T, pid, options int) unix.WaitStatus {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var ws unix.WaitStatus
		got, err := unix.Wait4(pid, &ws, options|unix.WNOHANG, nil)
		if err != nil && err != unix.EINTR {
			t.Fatalf("wait4(%d): %v", pid, err)
		}
		if got == pid {
			return ws
		}
		if time.Now().After(deadline) {
			t.Fatalf("runtime %d did not change state within 10s", pid)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
