package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestPackRejectsBadTargets(t *testing.T) {
	dir := workdir(t)
	writeFile(t, filepath.Join(dir, "data.txt"), "not a program\n", 0o644)
	writeFile(t, filepath.Join(dir, "sub", "ok"), "#!/bin/sh\n", 0o755)
	outside := filepath.Join(t.TempDir(), "prog")
	writeFile(t, outside, "#!/bin/sh\n", 0o755)

	tests := []struct {
		name, target, wantErr string
	}{
		{"missing", "nope", `"nope" not found`},
		{"directory", "sub", `"sub" is a directory`},
		{"not executable", "data.txt", `"data.txt" is not executable`},
		{"outside by dots", "../x", `outside the working directory`},
		{"outside by absolute path", outside, `outside the working directory`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, err := parker(t, dir, tc.target)
			if err == nil {
				t.Fatalf("parker %s succeeded, want an error", tc.target)
			}
			if !strings.HasPrefix(stderr, "parker: ") || !strings.Contains(stderr, tc.wantErr) {
				t.Errorf("stderr = %q, want it to contain %q", stderr, tc.wantErr)
			}
			matches, _ := filepath.Glob(filepath.Join(dir, "*-c"))
			if len(matches) > 0 {
				t.Errorf("artifact written despite the error: %v", matches)
			}
		})
	}
}

func TestPackReportAndRepack(t *testing.T) {
	dir := workdir(t)
	writeFile(t, filepath.Join(dir, "bin", "app"), "#!/bin/sh\necho hi\n", 0o755)
	for i := 0; i < 30; i++ {
		writeFile(t, filepath.Join(dir, "assets", "f"+strings.Repeat("x", i%3)+string(rune('a'+i%26))+".txt"), "x", 0o644)
	}
	if err := os.MkdirAll(filepath.Join(dir, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, ".git", "HEAD"), "ref: refs/heads/main\n", 0o644)
	writeFile(t, filepath.Join(dir, ".parkerignore"), "*.log\ncache/\n", 0o644)
	writeFile(t, filepath.Join(dir, "debug.log"), "noise\n", 0o644)
	writeFile(t, filepath.Join(dir, "cache", "blob"), "noise\n", 0o644)
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}

	stdout, stderr, err := parker(t, dir, "bin/app")
	if err != nil {
		t.Fatalf("parker bin/app: %v\n%s", err, stderr)
	}
	if !strings.Contains(stderr, `"fifo"`) {
		t.Errorf("stderr = %q, want a warning naming the FIFO", stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, "wrote ") || !strings.HasSuffix(last, "app-c") {
		t.Errorf("last line = %q, want \"wrote .../app-c\"", last)
	}
	if !strings.Contains(stdout, "assets/ (") {
		t.Errorf("report = %q, want a line for assets/ with its file count", stdout)
	}
	if len(lines) > 12 {
		t.Errorf("report has %d lines, want a short summary:\n%s", len(lines), stdout)
	}

	list, stderr, err := parker(t, dir, "--list", "app-c")
	if err != nil {
		t.Fatalf("parker --list: %v\n%s", err, stderr)
	}
	// The file table follows the metadata after a blank line.
	_, list, _ = strings.Cut(list, "\n\n")
	for _, absent := range []string{"debug.log", "cache/", ".git", "fifo", "app-c"} {
		if strings.Contains(list, absent) {
			t.Errorf("--list shows %q, which must not be packed:\n%s", absent, list)
		}
	}
	for _, present := range []string{"bin/app", "empty/", ".parkerignore"} {
		if !strings.Contains(list, present) {
			t.Errorf("--list lacks %q:\n%s", present, list)
		}
	}

	// Packing again must not pack the previous artifact and must replace it.
	first, _ := os.Stat(filepath.Join(dir, "app-c"))
	if _, stderr, err := parker(t, dir, "-q", "bin/app"); err != nil {
		t.Fatalf("second parker bin/app: %v\n%s", err, stderr)
	}
	second, _ := os.Stat(filepath.Join(dir, "app-c"))
	if first.Size() != second.Size() {
		t.Errorf("second artifact is %d bytes, first %d: the first was packed into the second", second.Size(), first.Size())
	}
}

func TestPackNeverOverwritesForeignFile(t *testing.T) {
	dir := workdir(t)
	writeFile(t, filepath.Join(dir, "app"), "#!/bin/sh\n", 0o755)
	writeFile(t, filepath.Join(dir, "app-c"), "precious\n", 0o644)
	_, stderr, err := parker(t, dir, "app")
	if err == nil || !strings.Contains(stderr, "--force") {
		t.Errorf("parker app over a foreign app-c: err %v, stderr %q; want an error suggesting --force", err, stderr)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "app-c")); string(b) != "precious\n" {
		t.Errorf("app-c was changed to %d bytes", len(b))
	}
	if _, stderr, err := parker(t, dir, "-q", "--force", "app"); err != nil {
		t.Fatalf("parker --force app: %v\n%s", err, stderr)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), "parker-tmp") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

func TestUsageErrors(t *testing.T) {
	dir := workdir(t)
	tests := [][]string{{"--no-such-flag"}, {}, {"a", "b"}, {"--memory", "lots", "x"}, {"-o"}}
	for _, args := range tests {
		_, stderr, err := parker(t, dir, args...)
		var code int
		if ee, ok := err.(interface{ ExitCode() int }); ok {
			code = ee.ExitCode()
		}
		if code != 2 || !strings.HasPrefix(stderr, "parker: ") {
			t.Errorf("parker %q: exit %d, stderr %q; want exit 2 and a parker: message", args, code, stderr)
		}
	}
	stdout, _, err := parker(t, dir, "--version")
	if err != nil || !strings.HasPrefix(stdout, "parker ") {
		t.Errorf("parker --version = %q, %v", stdout, err)
	}
	stdout, _, err = parker(t, dir, "--help")
	if err != nil || !strings.Contains(stdout, "Usage: parker") {
		t.Errorf("parker --help = %q, %v", stdout, err)
	}
}
