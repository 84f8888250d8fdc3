package depfile

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestWrite(t *testing.T) {
	tests := []struct {
		name    string
		target  string
		prereqs []string
		want    string
	}{
		{"no prerequisites", "out", nil, "out:\n"},
		{"plain", "out", []string{"a", "b/c"}, "out: \\\n  a \\\n  b/c\n\na:\n\nb/c:\n"},
		{"space", "my out", []string{"a b"}, "my\\ out: \\\n  a\\ b\n\na\\ b:\n"},
		{"dollar", "out", []string{"a$b"}, "out: \\\n  a$$b\n\na$$b:\n"},
		{"hash", "out", []string{"#a"}, "out: \\\n  \\#a\n\n\\#a:\n"},
		{"colon", "out", []string{"a:b"}, "out: \\\n  a\\:b\n\na\\:b:\n"},
		{"percent only escaped as target", "o%", []string{"a%"}, "o\\%: \\\n  a%\n\na\\%:\n"},
		{"backslash before space doubled", "out", []string{`a\ b`}, "out: \\\n  a\\\\\\ b\n\na\\\\\\ b:\n"},
		{"backslash elsewhere kept", "out", []string{`a\b`}, "out: \\\n  a\\b\n\na\\b:\n"},
		{"wildcards kept", "out", []string{"a*?[b]"}, "out: \\\n  a*?[b]\n\na*?[b]:\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := Write(&b, tc.target, tc.prereqs); err != nil {
				t.Fatalf("Write(%q, %q) error = %v", tc.target, tc.prereqs, err)
			}
			if got := b.String(); got != tc.want {
				t.Errorf("Write(%q, %q) = %q, want %q", tc.target, tc.prereqs, got, tc.want)
			}
		})
	}
}

func TestWriteUnrepresentable(t *testing.T) {
	names := []string{
		"", "a\tb", "a\nb", "a=b", "a;b", "a|b", "a ", `a\`, "a&", "~a",
		"lib(x.o)", "define", ".PHONY", ".SILENT",
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			var b bytes.Buffer
			err := Write(&b, "out", []string{"ok", name})
			if !errors.Is(err, ErrUnrepresentable) {
				t.Errorf("Write(%q) error = %v, want ErrUnrepresentable", name, err)
			}
			if b.Len() != 0 {
				t.Errorf("Write(%q) wrote %q, want nothing", name, b.String())
			}
			err = Write(&b, name, nil)
			if !errors.Is(err, ErrUnrepresentable) {
				t.Errorf("Write(target %q) error = %v, want ErrUnrepresentable", name, err)
			}
		})
	}
}

// makeNames are file names that need escaping or that make could misread.
var makeNames = []string{
	"plain", "with space", " leading space", "dollar$sign", "$(var)x", "hash#mark",
	"colon:name", "per%cent", `back\slash`, `back\ space`, `back\#hash`, `back\%cent`,
	"ünïcödé", "star*", "paren(x", "(x)", "quote'\"", "include", "sub/dir file",
	"-dash", ".hidden", "a,b",
}

// TestWriteGNUMake checks that GNU make reads the written depfile back:
// the target is up to date until a prerequisite is touched, and deleting a
// prerequisite does not stop make.
func TestWriteGNUMake(t *testing.T) {
	makePath, err := exec.LookPath("make")
	if err != nil {
		t.Skip("make is not installed")
	}
	dir := t.TempDir()
	const target = "out put%$#:x"
	old := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	built := old.Add(time.Hour)
	touched := built.Add(time.Hour)

	for _, name := range makeNames {
		writeFile(t, filepath.Join(dir, name), old)
	}
	writeFile(t, filepath.Join(dir, target), built)
	var deps bytes.Buffer
	if err := Write(&deps, target, makeNames); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "deps.d"), deps.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	// The pattern rule gives the target a recipe without naming it, and -r
	// keeps built-in rules away from the prerequisites.
	makefile := "include deps.d\nout%:\n\t@touch '$@'\n"
	if err := os.WriteFile(filepath.Join(dir, "Makefile"), []byte(makefile), 0o644); err != nil {
		t.Fatal(err)
	}
	runMake := func(flag string) (int, string) {
		cmd := exec.Command(makePath, "-r", flag, target)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			return exitErr.ExitCode(), string(out)
		}
		if err != nil {
			t.Fatalf("running make: %v", err)
		}
		return 0, string(out)
	}

	if code, out := runMake("-q"); code != 0 {
		t.Fatalf("make -q = %d, want 0 (up to date); output %q\ndepfile:\n%s", code, out, deps.String())
	}
	for _, name := range makeNames {
		path := filepath.Join(dir, name)
		setTime(t, path, touched)
		if code, out := runMake("-q"); code != 1 {
			t.Errorf("make -q after touching %q = %d, want 1; output %q", name, code, out)
		}
		setTime(t, path, old)

		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		if code, out := runMake("-n"); code != 0 {
			t.Errorf("make -n after deleting %q = %d, want 0; output %q", name, code, out)
		}
		writeFile(t, path, old)
	}
}

func writeFile(t *testing.T, path string, mtime time.Time) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	setTime(t, path, mtime)
}

func setTime(t *testing.T, path string, mtime time.Time) {
	t.Helper()
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

func TestWriteError(t *testing.T) {
	err := Write(failingWriter{}, "out", []string{strings.Repeat("a", 5000)})
	if !errors.Is(err, errWrite) {
		t.Errorf("Write to a failing writer error = %v, want %v", err, errWrite)
	}
}

var errWrite = errors.New("write failed")

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errWrite }
