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

// testUID and testGID are the unprivileged user the tests drop to with
// setpriv. No account uses them, so every process of that uid after a
// test is a survivor of the test.
const (
	testUID = 47231
	testGID = 47231
)

// requireSetpriv returns the path of setpriv, skipping the test unless it
// runs as root with setpriv installed.
func requireSetpriv(t *testing.T) string {
	t.Helper()
	requireRoot(t)
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		skipOrFail(t, "setpriv not installed")
	}
	return setpriv
}

// asTestUser returns argv prefixed with the setpriv call that drops to
// testUID.
func asTestUser(t *testing.T, argv ...string) []string {
	t.Helper()
	setpriv := requireSetpriv(t)
	return append([]string{setpriv, "--reuid=" + strconv.Itoa(testUID), "--regid=" + strconv.Itoa(testGID), "--clear-groups"}, argv...)
}

// userDir makes a temporary directory that testUID can reach and read,
// owned by testUID when owned is set.
func userDir(t *testing.T, owned bool) string {
	t.Helper()
	dir := workdir(t)
	// t.TempDir puts every directory of a test in one parent of mode 0700.
	if err := os.Chmod(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	if owned {
		if err := os.Chown(dir, testUID, testGID); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// assertNoUserProcesses checks that no process of testUID is left.
func assertNoUserProcesses(t *testing.T) {
	t.Helper()
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		var st syscall.Stat_t
		if syscall.Stat(filepath.Join("/proc", e.Name()), &st) == nil && st.Uid == testUID {
			cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
			t.Errorf("process %s of uid %d still running: %q", e.Name(), testUID, cmdline)
		}
	}
}

// userApp prints its ids, uid map, effective capabilities and asset,
// writes into its directory, leaves a background process behind, and
// exits with $EXIT or kills itself with $SIGNAL.
const userApp = `#!/bin/sh
printf 'uid=%s gid=%s\n' "$(id -u)" "$(id -g)"
printf 'uid_map=%s\n' "$(tr -s ' ' < /proc/self/uid_map | sed 's/^ //')"
printf 'capeff=%s capinh=%s\n' "$(sed -n 's/^CapEff:[[:space:]]*//p' /proc/self/status)" "$(sed -n 's/^CapInh:[[:space:]]*//p' /proc/self/status)"
printf 'asset=%s\n' "$(cat data/asset.txt)"
echo written > new.txt && echo wrote=yes
sleep 1000 &
if [ -n "$SIGNAL" ]; then kill -s "$SIGNAL" $$; sleep 5; fi
exit "${EXIT:-0}"
`

// packUserApp packs userApp with an asset and moves the artifact into a
// directory owned by testUID, which it returns.
func packUserApp(t *testing.T, flags ...string) (runDir, artifact string) {
	t.Helper()
	dir := userDir(t, false)
	writeFile(t, filepath.Join(dir, "app"), userApp, 0o755)
	writeFile(t, filepath.Join(dir, "data", "asset.txt"), "packed asset", 0o644)
	pack(t, dir, append(flags, "app")...)
	runDir = userDir(t, true)
	artifact = filepath.Join(runDir, "app-c")
	if err := os.Rename(filepath.Join(dir, "app-c"), artifact); err != nil {
		t.Fatal(err)
	}
	return runDir, artifact
}

func TestUnprivilegedRunUsesUserNamespace(t *testing.T) {
	runDir, artifact := packUserApp(t)
	ids := fmt.Sprintf("uid=%d gid=%d\n", testUID, testGID)
	// The user namespace maps the uid to itself, one id wide.
	uidMap := fmt.Sprintf("uid_map=%d %d 1\n", testUID, testUID)
	common := ids + uidMap + "capeff=0000000000000000 capinh=0000000000000000\nasset=packed asset\nwrote=yes\n"

	tests := []struct {
		name       string
		env        []string
		wantStatus int
		wantSignal syscall.Signal
	}{
		{name: "exit 0"},
		{name: "exit 42", env: []string{"EXIT=42"}, wantStatus: 42},
		{name: "killed by SIGTERM", env: []string{"SIGNAL=TERM"}, wantStatus: -1, wantSignal: syscall.SIGTERM},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok := token(t)
			res := runEnv(t, runDir, tok, tc.env, asTestUser(t, artifact)...)
			if res.stdout != common {
				t.Errorf("stdout = %q, want %q (stderr %q)", res.stdout, common, res.stderr)
			}
			if res.status != tc.wantStatus || res.signal != tc.wantSignal {
				t.Errorf("run ended with status %d signal %v, want status %d signal %v (stderr %q)", res.status, res.signal, tc.wantStatus, tc.wantSignal, res.stderr)
			}
			if res.stderr != "" {
				t.Errorf("stderr = %q, want nothing from the runtime", res.stderr)
			}
			assertNoLeftovers(t, tok, res.pid)
			assertNoUserProcesses(t)
			if _, err := os.Stat(filepath.Join(runDir, "new.txt")); err == nil {
				t.Errorf("new.txt written by the target reached the host")
			}
		})
	}
}

func TestUnprivilegedSignalReachesTarget(t *testing.T) {
	runDir := userDir(t, true)
	writeFile(t, filepath.Join(runDir, "waiter"), `#!/bin/sh
trap 'echo got TERM; exit 7' TERM
echo ready
while :; do sleep 0.05; done
`, 0o755)
	pack(t, runDir, "waiter")
	tok := token(t)
	argv := asTestUser(t, filepath.Join(runDir, "waiter-c"))
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), tok)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	out := bufio.NewReader(stdout)
	if line, err := out.ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("target printed %q (%v), want \"ready\"", line, err)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	rest, _ := out.ReadString('\n')
	_ = cmd.Wait()
	if rest != "got TERM\n" || cmd.ProcessState.ExitCode() != 7 {
		t.Errorf("after SIGTERM: output %q, exit status %d, want \"got TERM\" and 7", rest, cmd.ProcessState.ExitCode())
	}
	assertNoLeftovers(t, tok, cmd.Process.Pid)
	assertNoUserProcesses(t)
}

func TestUnprivilegedPersist(t *testing.T) {
	runDir := userDir(t, true)
	writeFile(t, filepath.Join(runDir, "app"), "#!/bin/sh\necho run >> logs/app.log\n", 0o755)
	pack(t, runDir, "--persist", "logs", "app")
	if err := os.Remove(filepath.Join(runDir, "app")); err != nil {
		t.Fatal(err)
	}
	for run := 1; run <= 2; run++ {
		tok := token(t)
		res := runEnv(t, runDir, tok, nil, asTestUser(t, "./app-c")...)
		if res.status != 0 || res.stderr != "" {
			t.Fatalf("run %d: status %d stderr %q, want 0 and nothing", run, res.status, res.stderr)
		}
		assertNoLeftovers(t, tok, res.pid)
	}
	if got := readHostFile(t, filepath.Join(runDir, "logs", "app.log")); got != "run\nrun\n" {
		t.Errorf("host logs/app.log = %q, want two lines", got)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(runDir, "logs", "app.log"), &st); err != nil {
		t.Fatal(err)
	}
	if st.Uid != testUID {
		t.Errorf("logs/app.log owned by uid %d, want the caller's %d", st.Uid, testUID)
	}

	// A directory the caller cannot write makes the run fail, not escalate.
	rootDir := userDir(t, false)
	if err := os.Rename(filepath.Join(runDir, "app-c"), filepath.Join(rootDir, "app-c")); err != nil {
		t.Fatal(err)
	}
	tok := token(t)
	res := runEnv(t, rootDir, tok, nil, asTestUser(t, "./app-c")...)
	if res.status != 125 || !strings.Contains(res.stderr, "permission denied") {
		t.Errorf("run in a root-owned directory: status %d stderr %q, want 125 and permission denied", res.status, res.stderr)
	}
	if _, err := os.Stat(filepath.Join(rootDir, "logs")); err == nil {
		t.Errorf("logs created in a directory the caller cannot write")
	}
	assertNoLeftovers(t, tok, res.pid)
}

func TestUnprivilegedLimitsWithoutCgroup(t *testing.T) {
	runDir, artifact := packUserApp(t, "--memory", "64M", "--pids", "64")
	tok := token(t)
	res := runEnv(t, runDir, tok, nil, asTestUser(t, artifact)...)
	if !strings.Contains(res.stderr, "no writable cgroup hierarchy") {
		skipOrFail(t, "the test user can write a cgroup on this host: "+res.stderr)
	}
	lines := strings.Split(strings.TrimSuffix(res.stderr, "\n"), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "parker: resource limits not enforced: ") {
		t.Errorf("stderr = %q, want one line saying the limits are not enforced", res.stderr)
	}
	if res.status != 0 || !strings.Contains(res.stdout, "wrote=yes") {
		t.Errorf("run = %q status %d, want the target to run anyway", res.stdout, res.status)
	}
	assertNoLeftovers(t, tok, res.pid)

	tok = token(t)
	res = runEnv(t, runDir, tok, []string{"PARKER_STRICT=1"}, asTestUser(t, artifact)...)
	if res.status != 125 || res.stdout != "" || !strings.Contains(res.stderr, "PARKER_STRICT=1") {
		t.Errorf("with PARKER_STRICT=1: stdout %q status %d stderr %q, want 125 before the target runs", res.stdout, res.status, res.stderr)
	}
	assertNoLeftovers(t, tok, res.pid)
	assertNoUserProcesses(t)
}

// delegatedCgroup creates a cgroup v2 directory owned by testUID, as a
// service manager delegates one, and removes it after the test.
func delegatedCgroup(t *testing.T) string {
	t.Helper()
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	var root string
	for _, line := range strings.Split(string(mounts), "\n") {
		if strings.Contains(line, " - cgroup2 ") {
			root = strings.Fields(line)[4]
			break
		}
	}
	own, _ := os.ReadFile("/proc/self/cgroup")
	var path string
	for _, line := range strings.Split(string(own), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			path = p
		}
	}
	if root == "" || path == "" {
		skipOrFail(t, "no cgroup2 hierarchy")
	}

	dir := filepath.Join(root, path, fmt.Sprintf("parker-test-%d", os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		skipOrFail(t, "cannot create a cgroup2 directory: "+err.Error())
	}
	t.Cleanup(func() {
		if err := os.Remove(dir); err != nil {
			t.Errorf("removing the delegated cgroup: %v", err)
		}
	})
	if _, err := os.Stat(filepath.Join(dir, "cgroup.kill")); err != nil {
		skipOrFail(t, "cgroup2 without cgroup.kill (Linux before 5.14)")
	}

	for _, name := range []string{"", "cgroup.procs", "cgroup.subtree_control", "cgroup.threads"} {
		if err := os.Chown(filepath.Join(dir, name), testUID, testGID); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestUnprivilegedDelegatedCgroup(t *testing.T) {
	runDir, artifact := packUserApp(t, "--memory", "64M", "--pids", "64", "--cpus", "1")
	argv := asTestUser(t, artifact)
	deleg := delegatedCgroup(t)
	fd, err := unix.Open(deleg, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)

	// run starts the artifact inside the delegated cgroup.
	run := func(env ...string) (res runResult) {
		tok := token(t)
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Dir = runDir
		cmd.Env = append(append(os.Environ(), tok), env...)
		cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		_ = cmd.Run()
		res = runResult{stdout: stdout.String(), stderr: stderr.String(), pid: cmd.Process.Pid, status: cmd.ProcessState.ExitCode()}
		assertNoLeftovers(t, tok, res.pid)
		assertNoUserProcesses(t)
		if entries, _ := filepath.Glob(filepath.Join(deleg, "parker-*")); len(entries) > 0 {
			t.Errorf("cgroups left in the delegated directory: %v", entries)
		}
		return res
	}

	res := run("PARKER_VERBOSE=1")
	created := "parker: created cgroup " + deleg + "/parker-" + strconv.Itoa(res.pid) + "-"
	if !strings.Contains(res.stderr, created) {
		t.Errorf("stderr does not show a cgroup created in the delegated %s:\n%s", deleg, res.stderr)
	}
	if res.status != 0 || !strings.Contains(res.stdout, "wrote=yes") {
		t.Errorf("run = %q status %d, want the target's report and 0", res.stdout, res.status)
	}

	// The delegated directory enables no controller for its children, so
	// every limit is reported once, on a line of its own, and the target
	// runs anyway.
	res = run()
	want := []string{"memory limit 64 MiB", "pids limit 64", "CPU limit 1 CPUs"}
	lines := strings.Split(strings.TrimSuffix(res.stderr, "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("stderr = %q, want one line per limit: %v", res.stderr, want)
	}
	for i, limit := range want {
		if !strings.HasPrefix(lines[i], "parker: "+limit+" not enforced: ") {
			t.Errorf("stderr line %d = %q, want the notice for the %s", i+1, lines[i], limit)
		}
	}
	if res.status != 0 || !strings.Contains(res.stdout, "wrote=yes") {
		t.Errorf("run = %q status %d, want the target to run anyway", res.stdout, res.status)
	}

	res = run("PARKER_STRICT=1")
	if res.status != 125 || res.stdout != "" || !strings.Contains(res.stderr, "memory limit 64 MiB not enforced") {
		t.Errorf("with PARKER_STRICT=1: stdout %q status %d stderr %q, want 125 before the target runs", res.stdout, res.status, res.stderr)
	}
}

func TestCheckHostAsRootAndUser(t *testing.T) {
	requireRoot(t)
	tests := []struct {
		name     string
		argv     []string
		wantMode string
	}{
		{"root", []string{parkerBin, "--check-host"}, "artifacts run with: namespaces as root\n"},
		{"unprivileged", asTestUser(t, parkerBin, "--check-host"), "artifacts run with: user namespace\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			res := runEnv(t, "/", "", nil, tc.argv...)
			if res.status != 0 || res.stderr != "" {
				t.Fatalf("parker --check-host: status %d stderr %q, want 0 and nothing", res.status, res.stderr)
			}
			if !strings.HasSuffix(res.stdout, tc.wantMode) {
				t.Errorf("report ends %q, want %q", lastLine(res.stdout), tc.wantMode)
			}
			for _, fact := range []string{"sysctl user.max_user_namespaces: ", "user namespace: allowed\n", "overlayfs in /proc/filesystems: ", "cgroup v2: ", "temporary directory /tmp: "} {
				if !strings.Contains(res.stdout, fact) {
					t.Errorf("report lacks %q:\n%s", fact, res.stdout)
				}
			}
			for _, line := range strings.Split(strings.TrimSuffix(res.stdout, "\n"), "\n") {
				if !strings.Contains(line, ": ") {
					t.Errorf("line %q is not \"fact: value\"", line)
				}
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("parker --check-host took %v", d)
			}
		})
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	return lines[len(lines)-1]
}

// TestRootWithoutSysAdminUsesUserNamespace runs the artifact as root
// without CAP_SYS_ADMIN, as in many containers: the namespaces cannot be
// created directly, so the runtime creates them in a user namespace.
func TestRootWithoutSysAdminUsesUserNamespace(t *testing.T) {
	setpriv := requireSetpriv(t)
	runDir, artifact := packUserApp(t)
	tok := token(t)
	res := runEnv(t, runDir, tok, []string{"PARKER_VERBOSE=1"}, setpriv, "--bounding-set=-sys_admin", artifact)
	if !strings.Contains(res.stdout, "uid=0 gid=0\nuid_map=0 0 1\n") || !strings.Contains(res.stdout, "wrote=yes\n") {
		t.Errorf("stdout = %q, want uid 0 in a user namespace that maps only 0", res.stdout)
	}
	if res.status != 0 {
		t.Errorf("exit status = %d, want 0 (stderr %q)", res.status, res.stderr)
	}
	for _, step := range []string{"namespaces refused (namespaces as root): operation not permitted\n", "(user namespace)\n"} {
		if !strings.Contains(res.stderr, step) {
			t.Errorf("verbose log lacks %q:\n%s", step, res.stderr)
		}
	}
	assertNoLeftovers(t, tok, res.pid)
}
