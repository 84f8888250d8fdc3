package e2e

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// runResult is what one run of an artifact produced.
type runResult struct {
	stdout, stderr string
	status         int // exit status, or -1 when killed by a signal
	signal         syscall.Signal
	pid            int
}

// runArtifact runs path with args in dir, with tok added to the environment.
func runArtifact(t *testing.T, dir, path, tok, stdin string, args ...string) runResult {
	t.Helper()
	cmd := exec.Command(path, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), tok)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("running %s: %v", path, err)
	}
	res := runResult{stdout: stdout.String(), stderr: stderr.String(), pid: cmd.Process.Pid}
	ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
	res.status = ws.ExitStatus()
	if ws.Signaled() {
		res.signal = ws.Signal()
	}
	return res
}

const assetProgram = `#include <stdio.h>
int main(int argc, char **argv) {
	FILE *f = fopen("data/asset.txt", "r");
	if (!f) { perror("data/asset.txt"); return 1; }
	char buf[256]; size_t n = fread(buf, 1, sizeof buf - 1, f); buf[n] = 0;
	printf("asset=%s", buf);
	for (int i = 1; i < argc; i++) printf("arg%d=[%s]\n", i, argv[i]);
	return 3;
}
`

func TestCProgramReadsAssetAndExits3(t *testing.T) {
	requireRoot(t)
	dir := workdir(t)
	compileC(t, filepath.Join(dir, "app"), assetProgram)
	writeFile(t, filepath.Join(dir, "data", "asset.txt"), "hello asset\n", 0o644)
	pack(t, dir, "app")

	// The artifact is moved alone into an empty directory and run there.
	runDir := workdir(t)
	if err := os.Rename(filepath.Join(dir, "app-c"), filepath.Join(runDir, "app-c")); err != nil {
		t.Fatal(err)
	}
	tok := token(t)
	res := runArtifact(t, runDir, "./app-c", tok, "", "one", "two words")
	want := "asset=hello asset\narg1=[one]\narg2=[two words]\n"
	if res.stdout != want {
		t.Errorf("stdout = %q, want %q (stderr %q)", res.stdout, want, res.stderr)
	}
	if res.status != 3 {
		t.Errorf("exit status = %d, want 3 (stderr %q)", res.status, res.stderr)
	}
	if res.stderr != "" {
		t.Errorf("stderr = %q, want nothing from the runtime", res.stderr)
	}
	assertNoLeftovers(t, tok, res.pid)
	if entries, _ := os.ReadDir(runDir); len(entries) != 1 {
		t.Errorf("run directory holds %d entries after the run, want only app-c", len(entries))
	}
}

// echoScript prints its argv[0], arguments, one variable, stdin, then
// exits with the status in $EXIT or kills itself with $SIGNAL.
const echoScript = `#!/bin/sh
printf 'argv0=%s\n' "$0"
for a in "$@"; do printf 'arg=[%s]\n' "$a"; done
printf 'FOO=[%s]\n' "$FOO"
printf 'stdin=[%s]\n' "$(cat)"
if [ -n "$SIGNAL" ]; then kill -s "$SIGNAL" $$; sleep 5; fi
exit "${EXIT:-0}"
`

func TestPassThrough(t *testing.T) {
	requireRoot(t)
	dir := workdir(t)
	writeFile(t, filepath.Join(dir, "bin", "echo.sh"), echoScript, 0o755)
	pack(t, dir, "bin/echo.sh")
	artifact := filepath.Join(dir, "echo.sh-c")
	argv0 := filepath.Join(dir, "bin", "echo.sh")

	tests := []struct {
		name       string
		args       []string
		env        []string
		stdin      string
		wantOut    string
		wantStatus int
		wantSignal syscall.Signal
	}{
		{name: "no arguments", wantOut: "FOO=[]\nstdin=[]\n"},
		{name: "flags belong to the target", args: []string{"--help", "--version", "-v"},
			wantOut: "arg=[--help]\narg=[--version]\narg=[-v]\nFOO=[]\nstdin=[]\n"},
		{name: "empty and spaced arguments", args: []string{"", " a  b ", "tab\there"},
			wantOut: "arg=[]\narg=[ a  b ]\narg=[tab\there]\nFOO=[]\nstdin=[]\n"},
		{name: "non-ASCII argument", args: []string{"héllo wörld", "日本"},
			wantOut: "arg=[héllo wörld]\narg=[日本]\nFOO=[]\nstdin=[]\n"},
		{name: "environment", env: []string{"FOO=bar baz"}, wantOut: "FOO=[bar baz]\nstdin=[]\n"},
		{name: "stdin", stdin: "line one\nline two", wantOut: "FOO=[]\nstdin=[line one\nline two]\n"},
		{name: "exit 1", env: []string{"EXIT=1"}, wantOut: "FOO=[]\nstdin=[]\n", wantStatus: 1},
		{name: "exit 42", env: []string{"EXIT=42"}, wantOut: "FOO=[]\nstdin=[]\n", wantStatus: 42},
		{name: "exit 255", env: []string{"EXIT=255"}, wantOut: "FOO=[]\nstdin=[]\n", wantStatus: 255},
		{name: "killed by SIGTERM", env: []string{"SIGNAL=TERM"}, wantOut: "FOO=[]\nstdin=[]\n", wantStatus: -1, wantSignal: syscall.SIGTERM},
		{name: "killed by SIGKILL", env: []string{"SIGNAL=KILL"}, wantOut: "FOO=[]\nstdin=[]\n", wantStatus: -1, wantSignal: syscall.SIGKILL},
		{name: "killed by SIGQUIT", env: []string{"SIGNAL=QUIT"}, wantOut: "FOO=[]\nstdin=[]\n", wantStatus: -1, wantSignal: syscall.SIGQUIT},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok := token(t)
			cmd := exec.Command(artifact, tc.args...)
			cmd.Dir = dir
			cmd.Env = append(append(os.Environ(), tok), tc.env...)
			cmd.Stdin = strings.NewReader(tc.stdin)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			_ = cmd.Run()
			ws := cmd.ProcessState.Sys().(syscall.WaitStatus)

			wantOut := "argv0=" + argv0 + "\n" + tc.wantOut
			if got := stdout.String(); got != wantOut {
				t.Errorf("stdout = %q, want %q (stderr %q)", got, wantOut, stderr.String())
			}
			if got := ws.ExitStatus(); got != tc.wantStatus {
				t.Errorf("exit status = %d, want %d (stderr %q)", got, tc.wantStatus, stderr.String())
			}
			if tc.wantSignal != 0 && (!ws.Signaled() || ws.Signal() != tc.wantSignal) {
				t.Errorf("wait status = %v, want killed by %v", ws, tc.wantSignal)
			}
			if ws.CoreDump() {
				t.Errorf("runtime dumped core")
			}
			assertNoLeftovers(t, tok, cmd.Process.Pid)
		})
	}
}

func TestBackgroundChildrenDoNotSurvive(t *testing.T) {
	requireRoot(t)
	dir := workdir(t)
	// Plain background jobs, a setsid daemon and a double fork, then exit.
	writeFile(t, filepath.Join(dir, "spawn"), `#!/bin/sh
sleep 1000 &
setsid sleep 1000 &
( sleep 1000 & ) &
nohup sleep 1000 >/dev/null 2>&1 &
echo spawned
exit 0
`, 0o755)
	pack(t, dir, "spawn")
	tok := token(t)
	res := runArtifact(t, dir, "./spawn-c", tok, "")
	if res.stdout != "spawned\n" || res.status != 0 {
		t.Fatalf("run = %q status %d, want \"spawned\" status 0 (stderr %q)", res.stdout, res.status, res.stderr)
	}
	assertNoLeftovers(t, tok, res.pid)
}

func TestArgv0CwdAndHostFiles(t *testing.T) {
	requireRoot(t)
	dir := workdir(t)
	writeFile(t, filepath.Join(dir, "tool"), `#!/bin/sh
printf 'argv0=%s\n' "$0"
printf 'pwd=%s\n' "$(pwd)"
cat payload.txt host.txt "$@"
echo written >new.txt
`, 0o755)
	writeFile(t, filepath.Join(dir, "payload.txt"), "from payload\n", 0o644)
	pack(t, dir, "tool")

	// Installed elsewhere next to a host file, run from a third directory.
	svc := workdir(t)
	if err := os.Rename(filepath.Join(dir, "tool-c"), filepath.Join(svc, "tool-c")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(svc, "host.txt"), "from host\n", 0o644)
	writeFile(t, filepath.Join(svc, "payload.txt"), "host copy loses\n", 0o644)
	caller := workdir(t)
	writeFile(t, filepath.Join(caller, "input.txt"), "from caller\n", 0o644)

	t.Run("from the artifact's directory", func(t *testing.T) {
		tok := token(t)
		res := runArtifact(t, svc, "./tool-c", tok, "")
		want := "argv0=" + filepath.Join(svc, "tool") + "\npwd=" + svc + "\nfrom payload\nfrom host\n"
		if res.stdout != want || res.status != 0 {
			t.Errorf("run = %q status %d, want %q status 0 (stderr %q)", res.stdout, res.status, want, res.stderr)
		}
		if _, err := os.Stat(filepath.Join(svc, "new.txt")); err == nil {
			t.Errorf("new.txt written by the target is visible on the host")
		}
		assertNoLeftovers(t, tok, res.pid)
	})
	t.Run("from another directory", func(t *testing.T) {
		tok := token(t)
		res := runArtifact(t, caller, filepath.Join(svc, "tool-c"), tok, "", "input.txt")
		if !strings.Contains(res.stdout, "pwd="+caller+"\n") || !strings.HasSuffix(res.stdout, "from caller\n") {
			t.Errorf("run = %q (stderr %q), want pwd %s and input.txt read from it", res.stdout, res.stderr, caller)
		}
		assertNoLeftovers(t, tok, res.pid)
	})
}

func TestStartedThroughSymlinkPathAndExecA(t *testing.T) {
	requireRoot(t)
	dir := workdir(t)
	writeFile(t, filepath.Join(dir, "hello"), "#!/bin/sh\necho hello \"$@\"\n", 0o755)
	pack(t, dir, "hello")
	linkDir := workdir(t)
	link := filepath.Join(linkDir, "renamed")
	if err := os.Symlink(filepath.Join(dir, "hello-c"), link); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cmd  *exec.Cmd
	}{
		{"symlink", exec.Command(link, "x")},
		{"PATH", exec.Command("sh", "-c", "PATH="+linkDir+":$PATH exec renamed x")},
		{"relative path", exec.Command("sh", "-c", "cd "+linkDir+" && exec ./renamed x")},
		{"exec -a", exec.Command("bash", "-c", "exec -a not-the-name "+filepath.Join(dir, "hello-c")+" x")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := tc.cmd.CombinedOutput()
			if err != nil || string(out) != "hello x\n" {
				t.Errorf("output = %q, err %v, want \"hello x\\n\"", out, err)
			}
		})
	}
}
