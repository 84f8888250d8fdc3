package pack

import (
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parkerpack/parker/internal/payload"
)

// testStub returns the test binary to use as the runtime stub: Pack only
// copies the stub's bytes, and checkSameMachine needs an ELF executable.
func testStub(t *testing.T) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return self
}

func writeTestFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

func entryPaths(entries []payload.Entry) []string {
	paths := make([]string, len(entries))
	for i, e := range entries {
		paths[i] = e.Path
	}
	return paths
}

func TestDryRunWritesNothing(t *testing.T) {
	dir := t.TempDir()
	writeTestFile(t, filepath.Join(dir, "app"), "#!/bin/sh\n", 0o755)
	writeTestFile(t, filepath.Join(dir, "data", "a.txt"), "a\n", 0o644)
	depfile := filepath.Join(dir, "deps", "app-c.d")
	if err := os.Mkdir(filepath.Dir(depfile), 0o755); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadDir(dir)

	res, err := Pack(context.Background(), Options{
		Workdir: dir, Target: "app", Stub: testStub(t), DryRun: true, Depfile: depfile,
	})
	if err != nil {
		t.Fatalf("Pack(dry run) error: %v", err)
	}
	want := []string{"app", "data", "data/a.txt", "deps"}
	if got := entryPaths(res.Entries); !slices.Equal(got, want) {
		t.Errorf("Pack(dry run) entries = %q, want %q", got, want)
	}
	if res.Output != filepath.Join(dir, "app-c") {
		t.Errorf("Pack(dry run) output = %q, want %q", res.Output, filepath.Join(dir, "app-c"))
	}
	after, _ := os.ReadDir(dir)
	if len(after) != len(before) {
		t.Errorf("directory holds %d names after a dry run, %d before", len(after), len(before))
	}
	if names, _ := os.ReadDir(filepath.Dir(depfile)); len(names) != 0 {
		t.Errorf("dry run wrote %d files beside the depfile, want none", len(names))
	}
}

func TestDropArtifactsKeepsOtherFiles(t *testing.T) {
	dir := t.TempDir()
	writeTestFile(t, filepath.Join(dir, "app"), "#!/bin/sh\n", 0o755)
	writeTestFile(t, filepath.Join(dir, "notes-c"), "not an artifact\n", 0o644)
	writeTestFile(t, filepath.Join(dir, ".tool-c.parker-tmp-123"), "half written", 0o600)
	if _, err := Pack(context.Background(), Options{Workdir: dir, Target: "app", Stub: testStub(t), Output: filepath.Join(dir, "tool-c")}); err != nil {
		t.Fatal(err)
	}

	res, err := Pack(context.Background(), Options{Workdir: dir, Target: "app", Stub: testStub(t)})
	if err != nil {
		t.Fatalf("Pack error: %v", err)
	}
	want := []string{"app", "notes-c"}
	if got := entryPaths(res.Entries); !slices.Equal(got, want) {
		t.Errorf("Pack entries = %q, want %q (no artifact, no temporary file)", got, want)
	}
}

func TestPackIgnoresVanishingTempFiles(t *testing.T) {
	dir := t.TempDir()
	writeTestFile(t, filepath.Join(dir, "app"), "#!/bin/sh\n", 0o755)
	// "+assets" sorts before the temporary files, so the walk spends time
	// there between reading the top directory and lstat()ing them.
	for i := range 500 {
		writeTestFile(t, filepath.Join(dir, "+assets", fmt.Sprintf("f%03d", i)), "x", 0o644)
	}

	// Other packs' temporary files appear and are renamed away while this
	// one walks the directory, as under make -j. Each rename can fail one
	// walk, so fewer renames than maxCollectAttempts can never fail a pack.
	const renames = 50
	if renames >= maxCollectAttempts {
		t.Fatalf("test needs maxCollectAttempts above %d, have %d", renames, maxCollectAttempts)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(done)
		for i := range renames {
			tmp := filepath.Join(dir, fmt.Sprintf(".other-c%s%d", tempMarker, i))
			if err := os.WriteFile(tmp, nil, 0o600); err != nil {
				return
			}
			time.Sleep(200 * time.Microsecond)
			os.Rename(tmp, filepath.Join(dir, "other.out"))
		}
	}()
	defer wg.Wait()

	for n := 0; ; n++ {
		select {
		case <-done:
			return
		default:
		}
		if _, err := Pack(context.Background(), Options{Workdir: dir, Target: "app", Stub: testStub(t), DryRun: true}); err != nil {
			t.Fatalf("Pack (run %d) error: %v", n, err)
		}
	}
}

func TestIsVanishedTemp(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"temp file gone", &fs.PathError{Op: "lstat", Path: "/w/.a-c.parker-tmp-1", Err: fs.ErrNotExist}, true},
		{"wrapped", fmt.Errorf("collecting %q: %w", "x", &fs.PathError{Op: "lstat", Path: "/w/.a-c.parker-tmp-1", Err: fs.ErrNotExist}), true},
		{"user file gone", &fs.PathError{Op: "lstat", Path: "/w/data.txt", Err: fs.ErrNotExist}, false},
		{"temp file unreadable", &fs.PathError{Op: "open", Path: "/w/.a-c.parker-tmp-1", Err: fs.ErrPermission}, false},
		{"marker in a parent", &fs.PathError{Op: "lstat", Path: "/w/.parker-tmp-x/data", Err: fs.ErrNotExist}, false},
		{"no path", errors.New("boom"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := isVanishedTemp(tc.err); got != tc.want {
				t.Errorf("isVanishedTemp(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

func TestWithBuiltTarget(t *testing.T) {
	built := filepath.Join(t.TempDir(), "main")
	writeTestFile(t, built, "program", 0o700)
	entries := []payload.Entry{
		{Path: "data", Mode: fs.ModeDir | 0o755},
		{Path: "data/a", Mode: 0o644},
		{Path: "web", Mode: 0o644, Size: 3},
	}
	got, err := withBuiltTarget(slices.Clone(entries), "web", built)
	if err != nil {
		t.Fatalf("withBuiltTarget error: %v", err)
	}
	if paths := entryPaths(got); !slices.Equal(paths, []string{"data", "data/a", "web"}) {
		t.Errorf("withBuiltTarget paths = %q, want data, data/a, web", paths)
	}
	if last := got[2]; last.Source != built || last.Mode != 0o755 || last.Size != int64(len("program")) {
		t.Errorf("withBuiltTarget target = %+v, want the built file, mode 0755, 7 bytes", last)
	}

	_, err = withBuiltTarget(slices.Clone(entries), "data", built)
	if !errors.Is(err, ErrTarget) || !strings.Contains(err.Error(), "directory") {
		t.Errorf("withBuiltTarget over a directory: error %v, want ErrTarget naming the directory", err)
	}
}

func TestCheckSameMachine(t *testing.T) {
	self := testStub(t)
	other := filepath.Join(t.TempDir(), "other")
	b, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	// e_machine is the little-endian uint16 at offset 18 of the ELF header.
	machine := elf.EM_AARCH64
	if elf.Machine(uint16(b[18])|uint16(b[19])<<8) == elf.EM_AARCH64 {
		machine = elf.EM_X86_64
	}
	b[18], b[19] = byte(machine), byte(machine>>8)
	writeTestFile(t, other, string(b), 0o755)
	script := filepath.Join(t.TempDir(), "script")
	writeTestFile(t, script, "#!/bin/sh\n", 0o755)

	tests := []struct {
		name, built, stub, wantErr string
	}{
		{"same machine", self, self, ""},
		{"no stub", self, "", ""},
		{"other machine", other, self, "set PARKER_RUNTIME"},
		{"not ELF", script, self, "checking the built program"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := checkSameMachine(tc.built, tc.stub)
			if tc.wantErr == "" {
				if err != nil {
					t.Errorf("checkSameMachine = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("checkSameMachine = %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}
