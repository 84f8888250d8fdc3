package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// nonsSource is a wrapper that makes the kernel refuse namespaces to the
// program it executes, as a container runtime's seccomp profile does.
// clone and unshare with CLONE_NEWUSER, CLONE_NEWNS or CLONE_NEWPID fail
// with EPERM. clone3, whose flags a filter cannot read, fails with ENOSYS.
const nonsSource = `#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define ARCH AUDIT_ARCH_AARCH64
#endif

#define NSFLAGS (CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID)

int main(int argc, char **argv) {
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ARCH, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone3, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone, 1, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_unshare, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
		BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, NSFLAGS, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {sizeof f / sizeof f[0], f};
	if (argc < 2) { fprintf(stderr, "usage: nons PROGRAM [ARG...]\n"); return 2; }
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) { perror("PR_SET_NO_NEW_PRIVS"); return 1; }
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) { perror("PR_SET_SECCOMP"); return 1; }
	execv(argv[1], argv + 1);
	perror(argv[1]);
	return 127;
}
`

const reducedNotice = "; running with reduced isolation\n"

// buildNons compiles nonsSource where the test user can run it, and
// checks that the filter really stops a user namespace.
func buildNons(t *testing.T) string {
	t.Helper()
	requireRoot(t)
	nons := filepath.Join(userDir(t, false), "nons")
	compileC(t, nons, nonsSource)
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		return nons
	}
	out, err := exec.Command(nons, unshare, "--user", "true").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "Operation not permitted") {
		t.Fatalf("unshare --user under the filter: %v %q, want it refused with EPERM", err, out)
	}
	return nons
}

// reducedApp reports where it runs, leaves a background process behind
// and exits 3.
const reducedApp = `#!/bin/sh
printf 'argv0=%s\n' "$0"
printf 'pwd=%s\n' "$(pwd)"
printf 'uid=%s\n' "$(id -u)"
printf 'asset=%s\n' "$(cat data/asset.txt)"
sleep 1000 &
exit 3
`

// packReducedApp packs reducedApp into a directory owned by the test user
// and returns the directory and the artifact.
func packReducedApp(t *testing.T) (string, string) {
	t.Helper()
	dir := userDir(t, true)
	writeFile(t, filepath.Join(dir, "app"), reducedApp, 0o755)
	writeFile(t, filepath.Join(dir, "data", "asset.txt"), "packed", 0o644)
	pack(t, dir, "app")
	for _, p := range []string{"app", "data/asset.txt", "data"} {
		if err := os.Remove(filepath.Join(dir, p)); err != nil {
			t.Fatal(err)
		}
	}
	return dir, filepath.Join(dir, "app-c")
}

// runtimeDir makes an exec-capable directory for XDG_RUNTIME_DIR, private
// to uid as a login manager makes it.
func runtimeDir(t *testing.T, uid int) string {
	t.Helper()
	dir := userDir(t, false)
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, uid, uid); err != nil {
		t.Fatal(err)
	}
	return dir
}

func assertEmptyDir(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("%s left in %s", e.Name(), dir)
	}
}

func TestReducedIsolationRuns(t *testing.T) {
	nons := buildNons(t)
	dir, artifact := packReducedApp(t)
	tests := []struct {
		name   string
		uid    int
		prefix []string
		reason string
	}{
		{"root", 0, nil, "(as root: operation not permitted; in a user namespace: operation not permitted)"},
		{"unprivileged", testUID, asTestUser(t), "(in a user namespace: operation not permitted)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			xdg := runtimeDir(t, tc.uid)
			argv := append(append(tc.prefix, nons), artifact)

			t.Run("from the artifact's directory", func(t *testing.T) {
				tok := token(t)
				res := runEnv(t, dir, tok, []string{"XDG_RUNTIME_DIR=" + xdg}, argv...)
				want := "parker: namespaces unavailable " + tc.reason + reducedNotice
				if res.stderr != want {
					t.Errorf("stderr = %q, want %q", res.stderr, want)
				}
				argv0, pwd, ok := reducedPaths(res.stdout)
				if !ok || !strings.HasPrefix(argv0, xdg+"/parker-run-") || filepath.Base(argv0) != "app" {
					t.Errorf("stdout = %q, want argv0 in a run directory below %s", res.stdout, xdg)
				}
				if pwd != filepath.Dir(argv0) {
					t.Errorf("pwd = %q, want the unpacked copy of the artifact's directory %q", pwd, filepath.Dir(argv0))
				}
				wantRest := fmt.Sprintf("uid=%d\nasset=packed\n", tc.uid)
				if !strings.HasSuffix(res.stdout, wantRest) {
					t.Errorf("stdout = %q, want it to end %q", res.stdout, wantRest)
				}
				if res.status != 3 {
					t.Errorf("exit status = %d, want 3", res.status)
				}
				assertNoLeftovers(t, tok, res.pid)
				assertEmptyDir(t, xdg)
			})
			t.Run("from another directory", func(t *testing.T) {
				tok := token(t)
				caller := userDir(t, false)
				res := runEnv(t, caller, tok, []string{"XDG_RUNTIME_DIR=" + xdg}, argv...)
				_, pwd, _ := reducedPaths(res.stdout)
				if pwd != caller || !strings.HasSuffix(res.stdout, "asset=\n") {
					t.Errorf("stdout = %q, want pwd %s and no asset found relative to it", res.stdout, caller)
				}
				assertNoLeftovers(t, tok, res.pid)
				assertEmptyDir(t, xdg)
			})
		})
	}
	assertNoUserProcesses(t)
}

// reducedPaths picks argv0 and pwd out of reducedApp's output.
func reducedPaths(stdout string) (argv0, pwd string, ok bool) {
	for _, line := range strings.Split(stdout, "\n") {
		if v, found := strings.CutPrefix(line, "argv0="); found {
			argv0 = v
		}
		if v, found := strings.CutPrefix(line, "pwd="); found {
			pwd = v
		}
	}
	return argv0, pwd, argv0 != "" && pwd != ""
}

// inExhaustedUserNamespace returns a command that runs argv as testUID
// inside a new user namespace (ids 0 to 65535 mapped to themselves) whose
// user.max_user_namespaces is 0, so that the kernel refuses every
// further user namespace with ENOSPC.
func inExhaustedUserNamespace(t *testing.T, argv ...string) *exec.Cmd {
	t.Helper()
	drop := asTestUser(t, argv...)
	script := `echo 0 > /proc/sys/user/max_user_namespaces && exec "$@"`
	cmd := exec.Command("/bin/sh", append([]string{"-c", script, "sh"}, drop...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 65536}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 65536}},
		// setpriv --clear-groups calls setgroups(2).
		GidMappingsEnableSetgroups: true,
	}
	return cmd
}

func TestReducedIsolationWithoutUserNamespaces(t *testing.T) {
	dir, artifact := packReducedApp(t)
	xdg := runtimeDir(t, testUID)

	t.Run("run", func(t *testing.T) {
		tok := token(t)
		cmd := inExhaustedUserNamespace(t, artifact)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), tok, "XDG_RUNTIME_DIR="+xdg)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		_ = cmd.Run()
		want := "parker: namespaces unavailable (in a user namespace: no space left on device)" + reducedNotice
		if stderr.String() != want {
			t.Errorf("stderr = %q, want %q", stderr.String(), want)
		}
		argv0, _, _ := reducedPaths(stdout.String())
		if !strings.HasPrefix(argv0, xdg+"/parker-run-") {
			t.Errorf("stdout = %q, want the target unpacked below %s", stdout.String(), xdg)
		}
		if code := cmd.ProcessState.ExitCode(); code != 3 {
			t.Errorf("exit status = %d, want 3", code)
		}
		assertNoLeftovers(t, tok, 0)
		assertNoUserProcesses(t)
		assertEmptyDir(t, xdg)
	})
	t.Run("check-host", func(t *testing.T) {
		cmd := inExhaustedUserNamespace(t, parkerBin, "--check-host")
		cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+xdg)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("parker --check-host: %v", err)
		}
		for _, fact := range []string{
			"sysctl user.max_user_namespaces: 0\n",
			"user namespace: refused: no space left on device\n",
			"artifacts run with: reduced isolation, unpacking into " + xdg + "\n",
		} {
			if !strings.Contains(string(out), fact) {
				t.Errorf("report lacks %q:\n%s", fact, out)
			}
		}
	})
}

func TestReducedIsolationSkipsNoexecDir(t *testing.T) {
	nons := buildNons(t)
	dir, artifact := packReducedApp(t)
	noexec := workdir(t)
	if err := syscall.Mount("parker-test", noexec, "tmpfs", syscall.MS_NOEXEC, "size=16m,mode=0777"); err != nil {
		skipOrFail(t, "cannot mount a noexec tmpfs: "+err.Error())
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(noexec, 0); err != nil {
			t.Errorf("unmounting %s: %v", noexec, err)
		}
	})
	tmp := runtimeDir(t, 0)

	tok := token(t)
	res := runEnv(t, dir, tok, []string{"XDG_RUNTIME_DIR=" + noexec, "TMPDIR=" + tmp, "PARKER_QUIET=1"}, nons, artifact)
	argv0, _, _ := reducedPaths(res.stdout)
	if res.status != 3 || !strings.HasPrefix(argv0, tmp+"/") {
		t.Errorf("run = %q status %d (stderr %q), want the target unpacked below TMPDIR %s", res.stdout, res.status, res.stderr, tmp)
	}
	assertNoLeftovers(t, tok, res.pid)
	assertEmptyDir(t, noexec)
	assertEmptyDir(t, tmp)
}

func TestReducedIsolationSettings(t *testing.T) {
	nons := buildNons(t)
	dir, artifact := packReducedApp(t)
	tests := []struct {
		name       string
		env        []string
		wantStatus int
		wantStderr string // prefix
		wantRun    bool
	}{
		{"strict", []string{"PARKER_ISOLATION=strict"}, 125,
			"parker: namespaces unavailable (as root: operation not permitted; in a user namespace: operation not permitted); not running with reduced isolation because PARKER_ISOLATION=strict\n", false},
		{"quiet", []string{"PARKER_QUIET=1"}, 3, "", true},
		{"auto", []string{"PARKER_ISOLATION=auto"}, 3, "parker: namespaces unavailable (", true},
		{"invalid", []string{"PARKER_ISOLATION=none"}, 125, `parker: invalid PARKER_ISOLATION="none": want strict or auto`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			xdg := runtimeDir(t, 0)
			tok := token(t)
			res := runEnv(t, dir, tok, append(tc.env, "XDG_RUNTIME_DIR="+xdg), nons, artifact)
			if res.status != tc.wantStatus {
				t.Errorf("exit status = %d, want %d (stderr %q)", res.status, tc.wantStatus, res.stderr)
			}
			if !strings.HasPrefix(res.stderr, tc.wantStderr) || (tc.wantStderr == "" && res.stderr != "") {
				t.Errorf("stderr = %q, want it to start %q", res.stderr, tc.wantStderr)
			}
			if ran := strings.Contains(res.stdout, "argv0="); ran != tc.wantRun {
				t.Errorf("target ran = %v, want %v (stdout %q)", ran, tc.wantRun, res.stdout)
			}
			assertNoLeftovers(t, tok, res.pid)
			assertEmptyDir(t, xdg)
		})
	}
}

func TestReducedIsolationForwardsSignals(t *testing.T) {
	nons := buildNons(t)
	r := startCounter(t, packSignalCounter(t), false, nons)
	r.waitReady(t)
	const times = 2
	sigs := catchableSignals()
	for _, sig := range sigs {
		for i := 1; i <= times; i++ {
			if err := r.cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			r.waitCount(t, sig, i)
		}
	}
	time.Sleep(200 * time.Millisecond)
	got := r.counts(t)
	for _, sig := range sigs {
		if got[int(sig)] != times {
			t.Errorf("target received %v %d times, want %d", sig, got[int(sig)], times)
		}
	}
	r.stop(t)
}

func TestReducedIsolationKillsDescendants(t *testing.T) {
	nons := buildNons(t)
	dir := workdir(t)
	// Background jobs, a setsid daemon, a double fork and a process that
	// ignores SIGTERM and SIGHUP, then the target is killed by a signal.
	writeFile(t, filepath.Join(dir, "spawn"), `#!/bin/sh
sleep 1000 &
setsid sleep 1000 &
( sleep 1000 & ) &
nohup sh -c 'trap "" TERM HUP; sleep 1000' >/dev/null 2>&1 &
echo spawned
kill -s TERM $$
`, 0o755)
	pack(t, dir, "spawn")
	xdg := runtimeDir(t, 0)
	tok := token(t)
	res := runEnv(t, dir, tok, []string{"XDG_RUNTIME_DIR=" + xdg, "PARKER_QUIET=1"}, nons, filepath.Join(dir, "spawn-c"))
	if res.stdout != "spawned\n" || res.signal != syscall.SIGTERM {
		t.Errorf("run = %q status %d signal %v (stderr %q), want \"spawned\" and death by SIGTERM", res.stdout, res.status, res.signal, res.stderr)
	}
	assertNoLeftovers(t, tok, res.pid)
	assertEmptyDir(t, xdg)
}

func TestReducedIsolationPersist(t *testing.T) {
	nons := buildNons(t)
	dir := userDir(t, true)
	writeFile(t, filepath.Join(dir, "app"), `#!/bin/sh
echo run >> logs/app.log
[ -L logs ] && echo "logs -> $(readlink logs)"
`, 0o755)
	pack(t, dir, "--persist", "logs", "app")
	if err := os.Remove(filepath.Join(dir, "app")); err != nil {
		t.Fatal(err)
	}
	xdg := runtimeDir(t, testUID)
	argv := asTestUser(t, nons, "./app-c")
	for run := 1; run <= 2; run++ {
		tok := token(t)
		res := runEnv(t, dir, tok, []string{"XDG_RUNTIME_DIR=" + xdg, "PARKER_QUIET=1"}, argv...)
		want := "logs -> " + filepath.Join(dir, "logs") + "\n"
		if res.stdout != want || res.status != 0 || res.stderr != "" {
			t.Errorf("run %d = %q status %d stderr %q, want %q", run, res.stdout, res.status, res.stderr, want)
		}
		assertNoLeftovers(t, tok, res.pid)
	}
	if got := readHostFile(t, filepath.Join(dir, "logs", "app.log")); got != "run\nrun\n" {
		t.Errorf("host logs/app.log = %q, want two lines", got)
	}
	assertEmptyDir(t, xdg)
	assertNoUserProcesses(t)
}

func TestReducedIsolationSweepsStaleDirs(t *testing.T) {
	nons := buildNons(t)
	dir, artifact := packReducedApp(t)
	xdg := runtimeDir(t, 0)

	// A pid that has ended: a child of this test, already reaped.
	done := exec.Command("true")
	if err := done.Run(); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(xdg, "parker-run-"+strconv.Itoa(done.Process.Pid)+"-1")
	live := filepath.Join(xdg, "parker-run-"+strconv.Itoa(os.Getpid())+"-2")
	other := filepath.Join(xdg, "parker-runner-1-3")
	for _, d := range []string{stale, live, other} {
		writeFile(t, filepath.Join(d, "sub", "file"), "x", 0o444)
		if err := os.Chmod(filepath.Join(d, "sub"), 0o500); err != nil {
			t.Fatal(err)
		}
	}

	tok := token(t)
	res := runEnv(t, dir, tok, []string{"XDG_RUNTIME_DIR=" + xdg, "PARKER_QUIET=1"}, nons, artifact)
	if res.status != 3 {
		t.Errorf("exit status = %d, want 3 (stderr %q)", res.status, res.stderr)
	}
	assertNoLeftovers(t, tok, res.pid)
	if _, err := os.Stat(stale); err == nil {
		t.Errorf("stale %s of an ended runtime was not removed", stale)
	}
	for _, d := range []string{live, other} {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("%s removed, want it kept: %v", d, err)
		}
		if err := os.Chmod(filepath.Join(d, "sub"), 0o700); err != nil {
			t.Error(err)
		}
	}
}

func TestCheckHostWithoutNamespaces(t *testing.T) {
	nons := buildNons(t)
	xdg := runtimeDir(t, testUID)
	tests := []struct {
		name string
		argv []string
	}{
		{"root", []string{nons, parkerBin, "--check-host"}},
		{"unprivileged", asTestUser(t, nons, parkerBin, "--check-host")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := runEnv(t, "/", "", []string{"XDG_RUNTIME_DIR=" + xdg}, tc.argv...)
			if res.status != 0 || res.stderr != "" {
				t.Fatalf("parker --check-host: status %d stderr %q, want 0 and nothing", res.status, res.stderr)
			}
			if !strings.Contains(res.stdout, "user namespace: refused: operation not permitted\n") {
				t.Errorf("report does not show the user namespace refused:\n%s", res.stdout)
			}
			want := "artifacts run with: reduced isolation, unpacking into "
			if !strings.HasPrefix(lastLine(res.stdout), want) {
				t.Errorf("report ends %q, want %q...", lastLine(res.stdout), want)
			}
		})
	}
}

// TestReducedIsolationOnTerminal runs the packed python3.11 REPL with
// reduced isolation from an interactive bash: Ctrl-C reaches it once,
// Ctrl-Z stops the job and "fg" resumes it, and Ctrl-D ends it with the
// terminal mode as before.
func TestReducedIsolationOnTerminal(t *testing.T) {
	nons := buildNons(t)
	requirePython(t)
	dir := workdir(t)
	copyFile(t, python, filepath.Join(dir, "python"), 0o755)
	pack(t, dir, "python")
	artifact := filepath.Join(dir, "python-c")
	xdg := runtimeDir(t, 0)
	tok := token(t)

	sh := startShell(t, dir)
	t.Cleanup(func() { killLeftovers(tok) })
	before := sh.mode()
	sh.send(tok + " XDG_RUNTIME_DIR=" + xdg + " PARKER_QUIET=1 " + nons + " ./python-c\n")
	sh.expect(`>>> `)
	runtimePid := runtimeOf(t, tok, artifact)

	sh.send("\x03")
	sh.expect(`KeyboardInterrupt\r\n>>> `)
	time.Sleep(200 * time.Millisecond)
	if n := strings.Count(sh.output(), "KeyboardInterrupt"); n != 1 {
		t.Errorf("python printed KeyboardInterrupt %d times after one Ctrl-C, want once", n)
	}

	sh.send("\x1a")
	sh.expect(`Stopped.*python-c`)
	waitState(t, runtimePid, 'T')
	sh.run("true")
	sh.send("fg\n")
	sh.expect(`python-c\r\n`)
	sh.send("print(6*9)\n")
	sh.expect(`\r\n54\r\n>>> `)

	sh.send("\x04")
	if status := strings.TrimSpace(sh.run("echo $?")); status != "0" {
		t.Errorf("status after Ctrl-D = %q, want 0", status)
	}
	if after := sh.mode(); after != before {
		t.Errorf("terminal mode after the run = %s, want %s as before", after, before)
	}
	assertNoLeftovers(t, tok, runtimePid)
	assertEmptyDir(t, xdg)
}
