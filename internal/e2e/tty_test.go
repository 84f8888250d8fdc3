package e2e

import (
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY opens a new pseudo-terminal pair. The master is non-blocking,
// so that closing it ends a pending Read even while processes still hold
// the replica open.
func openPTY(t *testing.T) (master, replica *os.File) {
	t.Helper()
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		skipOrFail(t, "no pseudo-terminals: "+err.Error())
	}
	master = os.NewFile(uintptr(fd), "/dev/ptmx")
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlocking pseudo-terminal: %v", err)
	}
	n, err := unix.IoctlGetUint32(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("numbering pseudo-terminal: %v", err)
	}
	replica, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("opening pseudo-terminal: %v", err)
	}
	return master, replica
}

// shellSession is an interactive bash with job control on its own
// pseudo-terminal, driven as a user at a keyboard would.
type shellSession struct {
	t      *testing.T
	master *os.File
	cmd    *exec.Cmd

	mu     sync.Mutex
	out    []byte
	offset int // output before this was already matched
	marks  int
}

// startShell starts "bash --norc --noprofile -i" in dir as the session
// leader of a new pseudo-terminal.
func startShell(t *testing.T, dir string) *shellSession {
	t.Helper()
	if _, err := exec.LookPath("bash"); err != nil {
		skipOrFail(t, "bash not installed")
	}
	master, replica := openPTY(t)
	s := &shellSession{t: t, master: master}
	s.cmd = exec.Command("bash", "--norc", "--noprofile", "-i")
	s.cmd.Dir = dir
	s.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "TERM=dumb", "PS1=$ ", "HOME=" + dir, "INPUTRC=/dev/null"}
	s.cmd.Stdin, s.cmd.Stdout, s.cmd.Stderr = replica, replica, replica
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	replica.Close()

	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			s.mu.Lock()
			s.out = append(s.out, buf[:n]...)
			s.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()

	t.Cleanup(func() {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
		master.Close()
		<-done
		if t.Failed() {
			t.Logf("terminal output:\n%s", s.output())
		}
	})
	s.run("bind 'set enable-bracketed-paste off' 2>/dev/null")
	return s
}

func (s *shellSession) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.out)
}

// send types text on the keyboard.
func (s *shellSession) send(text string) {
	s.t.Helper()
	if _, err := s.master.Write([]byte(text)); err != nil {
		s.t.Fatalf("typing %q: %v", text, err)
	}
}

// expect waits until the output not yet matched contains a match of re,
// and returns the submatches of the first one.
func (s *shellSession) expect(re string) []string {
	s.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.mu.Lock()
		rest := s.out[s.offset:]
		loc := rx.FindSubmatchIndex(rest)
		if loc != nil {
			var groups []string
			for i := 0; i < len(loc); i += 2 {
				if loc[i] < 0 {
					groups = append(groups, "")
					continue
				}
				groups = append(groups, string(rest[loc[i]:loc[i+1]]))
			}
			s.offset += loc[1]
			s.mu.Unlock()
			return groups
		}
		s.mu.Unlock()
		if time.Now().After(deadline) {
			s.t.Fatalf("terminal shows no match of %q after 10s; unmatched output:\n%q", re, rest)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// run types a shell command line and waits until the shell has run it.
// It returns what the command printed, without the echoed input.
func (s *shellSession) run(line string) string {
	s.t.Helper()
	s.marks++
	// Markers around the output, written with arithmetic so that the
	// echoed command line does not match them; $? passes through.
	s.send(fmt.Sprintf("st=$?; echo \"[[$((%d))\"; (exit $st); %s; echo \"$((%d))]]\"\n", s.marks, line, s.marks))
	got := s.expect(fmt.Sprintf(`(?s)\[\[%d\r\n(.*?)%d\]\]\r\n`, s.marks, s.marks))
	return strings.ReplaceAll(got[1], "\r\n", "\n")
}

// waitJobStopped waits until the shell lists its job as stopped. The
// shell learns of the stop from SIGCHLD, which it may handle only after
// reading the next command line.
func (s *shellSession) waitJobStopped() {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(s.run("jobs"), "Stopped") {
		if time.Now().After(deadline) {
			s.t.Fatal("the shell does not list the job as stopped after 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// mode returns the terminal mode as "stty -g" prints it.
func (s *shellSession) mode() string {
	s.t.Helper()
	return strings.TrimSpace(s.run("stty -g"))
}

// killLeftovers ends the processes of a run that a failed test left
// behind, before the shell that started them is ended.
func killLeftovers(tok string) {
	for _, pid := range processesWith(tok) {
		if n, err := strconv.Atoi(pid); err == nil {
			_ = unix.Kill(n, unix.SIGKILL)
		}
	}
}

// runtimeOf returns the pid of the runtime whose environment holds tok.
func runtimeOf(t *testing.T, tok, artifact string) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, pid := range processesWith(tok) {
			exe, _ := os.Readlink(filepath.Join("/proc", pid, "exe"))
			if exe == artifact {
				n, _ := strconv.Atoi(pid)
				return n
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no runtime of %s running after 10s", artifact)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// processState returns the state letter of pid from /proc/PID/stat.
func processState(pid int) byte {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 || i+2 >= len(b) {
		return 0
	}
	return b[i+2]
}

// waitState polls until pid is in state (a /proc state letter).
func waitState(t *testing.T, pid int, state byte) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := processState(pid)
		if got == state {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d in state %q after 5s, want %q", pid, got, state)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// targetOf returns the pid of the process whose environment holds tok and
// that runs exe.
func targetOf(t *testing.T, tok, exe string) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, pid := range processesWith(tok) {
			cmdline, _ := os.ReadFile(filepath.Join("/proc", pid, "cmdline"))
			if strings.HasPrefix(string(cmdline), exe+"\x00") {
				n, _ := strconv.Atoi(pid)
				return n
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no process running %s after 10s", exe)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestPythonREPLOnTerminal runs python3.11, packed as python-c, from an
// interactive bash as a user would: a calculation, Ctrl-C, Ctrl-Z and
// "fg", then Ctrl-D.
func TestPythonREPLOnTerminal(t *testing.T) {
	requireRoot(t)
	requirePython(t)
	dir := workdir(t)
	copyFile(t, python, filepath.Join(dir, "python"), 0o755)
	pack(t, dir, "python")
	artifact := filepath.Join(dir, "python-c")
	tok := token(t)

	sh := startShell(t, dir)
	t.Cleanup(func() { killLeftovers(tok) })
	before := sh.mode()
	sh.send(tok + " ./python-c\n")
	sh.expect(`>>> `)
	runtimePid := runtimeOf(t, tok, artifact)
	pythonPid := targetOf(t, tok, filepath.Join(dir, "python"))

	sh.send("print(6*7)\n")
	sh.expect(`\r\n42\r\n>>> `)

	sh.send("\x03")
	sh.expect(`KeyboardInterrupt\r\n>>> `)
	time.Sleep(200 * time.Millisecond)
	if n := strings.Count(sh.output(), "KeyboardInterrupt"); n != 1 {
		t.Errorf("python printed KeyboardInterrupt %d times after one Ctrl-C, want once", n)
	}
	sh.send("print(6*8)\n")
	sh.expect(`\r\n48\r\n>>> `)

	sh.send("\x1a")
	sh.expect(`Stopped.*python-c`)
	waitState(t, pythonPid, 'T')
	waitState(t, runtimePid, 'T')
	sh.run("true")
	sh.send("fg\n")
	sh.expect(`python-c\r\n`)
	sh.send("print(6*9)\n")
	sh.expect(`\r\n54\r\n>>> `)

	// Resumed in the background, the REPL waits for input without the
	// terminal; "fg" then gives it the terminal back.
	sh.send("\x1a")
	sh.expect(`Stopped.*python-c`)
	sh.run("true")
	sh.send("bg\n")
	sh.expect(`python-c &\r\n`)
	waitState(t, runtimePid, 'S')
	waitState(t, pythonPid, 'S')
	sh.send("fg\n")
	sh.expect(`python-c\r\n`)
	sh.send("print(7*7)\n")
	sh.expect(`\r\n49\r\n>>> `)

	sh.send("\x04")
	if status := strings.TrimSpace(sh.run("echo $?")); status != "0" {
		t.Errorf("status after Ctrl-D = %q, want 0", status)
	}
	if after := sh.mode(); after != before {
		t.Errorf("terminal mode after the run = %s, want %s as before", after, before)
	}
	assertNoLeftovers(t, tok, runtimePid)

	// Started in the background, the REPL stops at its first use of the
	// terminal, and "fg" lets it go on in the foreground.
	bgTok := token(t)
	t.Cleanup(func() { killLeftovers(bgTok) })
	sh.send(bgTok + " ./python-c &\n")
	runtimePid = runtimeOf(t, bgTok, artifact)
	waitState(t, runtimePid, 'T')
	sh.waitJobStopped()
	sh.send("fg\n")
	sh.expect(`python-c\r\n`)
	// The line may be typed before the REPL has redrawn its prompt.
	sh.send("print(2*3*1001)\n")
	sh.expect(`6006\r\n>>> `)
	sh.send("\x04")
	if status := strings.TrimSpace(sh.run("echo $?")); status != "0" {
		t.Errorf("status after Ctrl-D = %q, want 0", status)
	}
	if after := sh.mode(); after != before {
		t.Errorf("terminal mode after the run = %s, want %s as before", after, before)
	}
	assertNoLeftovers(t, bgTok, runtimePid)
}

// TestTerminalPassedThroughParent runs the artifact from a script, whose
// shell stays in the artifact's process group while it waits, as make
// does. The target still gets the terminal.
func TestTerminalPassedThroughParent(t *testing.T) {
	requireRoot(t)
	requirePython(t)
	dir := workdir(t)
	copyFile(t, python, filepath.Join(dir, "python"), 0o755)
	pack(t, dir, "python")
	tok := token(t)

	sh := startShell(t, dir)
	t.Cleanup(func() { killLeftovers(tok) })
	sh.send(tok + " sh -c './python-c; echo \"script went on after $?\"'\n")
	sh.expect(`>>> `)
	sh.send("print(6*7)\n")
	sh.expect(`\r\n42\r\n>>> `)
	sh.send("\x04")
	sh.expect(`\r\nscript went on after 0\r\n`)
	assertNoLeftovers(t, tok, 0)
}

// TestTerminalThroughDevTTY runs an artifact that prompts on /dev/tty,
// as a password prompt does, with its standard streams redirected away
// from the terminal, and in a pipeline, where the terminal first stays
// with the pipeline's other commands.
func TestTerminalThroughDevTTY(t *testing.T) {
	requireRoot(t)
	dir := workdir(t)
	writeFile(t, filepath.Join(dir, "ask"), "#!/bin/sh\nread x </dev/tty\necho \"got $x\" >/dev/tty\n", 0o755)
	pack(t, dir, "ask")

	tests := []struct {
		name, line string
	}{
		{"redirected", "./ask-c </dev/null >/dev/null 2>&1; echo \"status=$?.\""},
		{"pipeline", "./ask-c | cat; echo \"status=${PIPESTATUS[0]}.\""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok := token(t)
			sh := startShell(t, dir)
			t.Cleanup(func() { killLeftovers(tok) })
			sh.send(tok + " " + tc.line + "\n")
			runtimeOf(t, tok, filepath.Join(dir, "ask-c"))
			sh.send("hi\n")
			sh.expect(`got hi\r\n`)
			if status := sh.expect(`status=(\d+)\.`)[1]; status != "0" {
				t.Errorf("status = %s, want 0", status)
			}
			assertNoLeftovers(t, tok, 0)
		})
	}
}

// TestTerminalKeysReachTargetOnce presses Ctrl-C, Ctrl-\ and Ctrl-Z in
// front of a target that handles the signals they raise, and counts them.
func TestTerminalKeysReachTargetOnce(t *testing.T) {
	requireRoot(t)
	artifact := packSignalCounter(t)
	host := t.TempDir()
	r := &counterRun{log: filepath.Join(host, "signals.log"), stopFile: filepath.Join(host, "stop")}
	tok := token(t)

	sh := startShell(t, filepath.Dir(artifact))
	t.Cleanup(func() { killLeftovers(tok) })
	before := sh.mode()
	sh.send(fmt.Sprintf("%s ./counter-c %s %s\n", tok, r.log, r.stopFile))
	sh.expect(`\r\nready\r\n`)
	runtimePid := runtimeOf(t, tok, artifact)

	keys := []struct {
		key string
		sig syscall.Signal
	}{
		{"\x03", syscall.SIGINT},
		{"\x1c", syscall.SIGQUIT},
		{"\x1a", syscall.SIGTSTP},
	}
	want := map[int]int{}
	for i := 1; i <= 2; i++ {
		for _, k := range keys {
			sh.send(k.key)
			want[int(k.sig)]++
			r.waitCount(t, k.sig, want[int(k.sig)])
		}
	}
	// Signals sent with kill still reach the target through the runtime,
	// SIGTTOU too, although the runtime keeps it blocked around its own
	// calls on the terminal.
	for _, sig := range []syscall.Signal{syscall.SIGTTOU, syscall.SIGTTIN, syscall.SIGCONT, syscall.SIGWINCH, syscall.SIGINT} {
		if err := unix.Kill(runtimePid, sig); err != nil {
			t.Fatal(err)
		}
		want[int(sig)]++
		r.waitCount(t, sig, want[int(sig)])
	}
	time.Sleep(200 * time.Millisecond)
	if got := r.counts(t); !maps.Equal(got, want) {
		t.Errorf("target received signals %v, want %v", got, want)
	}

	writeFile(t, r.stopFile, "", 0o644)
	sh.send("\x03")
	if status := strings.TrimSpace(sh.run("echo $?")); status != "0" {
		t.Errorf("status after the target exited 0 = %q, want 0", status)
	}
	if after := sh.mode(); after != before {
		t.Errorf("terminal mode after the run = %s, want %s as before", after, before)
	}
	assertNoLeftovers(t, tok, runtimePid)
}

// TestPipelineKeepsTerminal runs the artifact at the head of a pipeline
// whose next command reads the terminal, as a pager does. The terminal
// stays with the pipeline's process group, and Ctrl-C still reaches the
// target once, through the runtime.
func TestPipelineKeepsTerminal(t *testing.T) {
	requireRoot(t)
	artifact := packSignalCounter(t)
	host := t.TempDir()
	r := &counterRun{log: filepath.Join(host, "signals.log"), stopFile: filepath.Join(host, "stop")}
	tok := token(t)

	sh := startShell(t, filepath.Dir(artifact))
	t.Cleanup(func() { killLeftovers(tok) })
	sh.send(fmt.Sprintf("%s ./counter-c %s %s | (trap '' INT; sleep 0.3; read x </dev/tty; echo \"got $x\"; exec cat); echo \"runtime=${PIPESTATUS[0]}.\"\n", tok, r.log, r.stopFile))
	runtimePid := runtimeOf(t, tok, artifact)
	sh.send("hi\n")
	sh.expect(`got hi\r\nready\r\n`)

	sh.send("\x03")
	r.waitCount(t, syscall.SIGINT, 1)
	time.Sleep(200 * time.Millisecond)
	if got := r.counts(t); got[int(syscall.SIGINT)] != 1 || len(got) != 1 {
		t.Errorf("target received signals %v after one Ctrl-C, want SIGINT once", got)
	}

	writeFile(t, r.stopFile, "", 0o644)
	if err := unix.Kill(runtimePid, syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	if status := sh.expect(`runtime=(\d+)\.`)[1]; status != "0" {
		t.Errorf("runtime's status in the pipeline = %s, want 0", status)
	}
	assertNoLeftovers(t, tok, runtimePid)
}

// TestTerminalHangup closes the terminal under a running artifact, as a
// dropped network login does. The target gets SIGHUP from the shell,
// which passes it to its jobs, through the runtime, and from the kernel,
// which signals the terminal's last foreground group when the shell
// exits. A bare program gets the same two, often merged into one.
func TestTerminalHangup(t *testing.T) {
	requireRoot(t)
	artifact := packSignalCounter(t)
	host := t.TempDir()
	r := &counterRun{log: filepath.Join(host, "signals.log"), stopFile: filepath.Join(host, "stop")}
	tok := token(t)

	sh := startShell(t, filepath.Dir(artifact))
	t.Cleanup(func() { killLeftovers(tok) })
	sh.send(fmt.Sprintf("%s ./counter-c %s %s\n", tok, r.log, r.stopFile))
	sh.expect(`\r\nready\r\n`)
	runtimePid := runtimeOf(t, tok, artifact)

	sh.master.Close()
	r.waitCount(t, syscall.SIGHUP, 1)
	time.Sleep(200 * time.Millisecond)
	got := r.counts(t)
	if n := got[int(syscall.SIGHUP)]; n > 2 {
		t.Errorf("target received SIGHUP %d times after the hangup, want once or twice", n)
	}
	delete(got, int(syscall.SIGHUP))
	delete(got, int(syscall.SIGCONT))
	if len(got) > 0 {
		t.Errorf("target received %v after the hangup, want only SIGHUP and SIGCONT", got)
	}

	writeFile(t, r.stopFile, "", 0o644)
	if err := unix.Kill(runtimePid, syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	assertNoLeftovers(t, tok, runtimePid)
}
