package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

const python = "/usr/bin/python3.11"

const serverPy = `import http.server, socketserver, sys
socketserver.TCPServer.allow_reuse_address = True
with socketserver.TCPServer(("127.0.0.1", int(sys.argv[1])), http.server.SimpleHTTPRequestHandler) as httpd:
    print("serving", flush=True)
    httpd.serve_forever()
`

func requirePython(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(python); err != nil {
		skipOrFail(t, python+" not installed")
	}
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func copyFile(t *testing.T, src, dst string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dst, string(b), mode)
}

func TestPythonServerServesPackedFiles(t *testing.T) {
	requireRoot(t)
	requirePython(t)
	dir := workdir(t)
	copyFile(t, python, filepath.Join(dir, "python"), 0o755)
	writeFile(t, filepath.Join(dir, "server.py"), serverPy, 0o644)
	writeFile(t, filepath.Join(dir, "foo.txt"), "foo contents\n", 0o644)
	png := make([]byte, 3000)
	for i := range png {
		png[i] = byte(i * 7)
	}
	writeFile(t, filepath.Join(dir, "bar.png"), string(png), 0o644)
	pack(t, dir, "python")

	runDir := workdir(t)
	if err := os.Rename(filepath.Join(dir, "python-c"), filepath.Join(runDir, "python-c")); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	tok := token(t)
	cmd := exec.Command("./python-c", "server.py", fmt.Sprint(port))
	cmd.Dir = runDir
	cmd.Env = append(os.Environ(), tok)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	for _, name := range []string{"foo.txt", "bar.png"} {
		got := fetch(t, fmt.Sprintf("http://127.0.0.1:%d/%s", port, name))
		want, _ := os.ReadFile(filepath.Join(dir, name))
		if !bytes.Equal(got, want) {
			t.Errorf("GET /%s returned %d bytes, want the %d packed bytes", name, len(got), len(want))
		}
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != syscall.SIGTERM {
		t.Errorf("wait status = %v, want killed by SIGTERM as python is (stderr %q)", ws, stderr.String())
	}
	assertNoLeftovers(t, tok, cmd.Process.Pid)
	if entries, _ := os.ReadDir(runDir); len(entries) != 1 {
		t.Errorf("run directory holds %d entries after the run, want only python-c", len(entries))
	}
}

// fetch GETs url, retrying while the server starts.
func fetch(t *testing.T, url string) []byte {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := client.Get(url)
		if err == nil {
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatalf("GET %s: %v", url, err)
			}
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET %s: %s", url, resp.Status)
			}
			return b
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v", url, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
