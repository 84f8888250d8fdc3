package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// listDocument is the part of "parker --list --json" the tests read.
type listDocument struct {
	Path          string `json:"path"`
	Size          int64  `json:"size"`
	StubSize      int64  `json:"stub_size"`
	PayloadSize   int64  `json:"payload_size"`
	PayloadSHA256 string `json:"payload_sha256"`
	HeaderSHA256  string `json:"header_sha256"`
	Files         int    `json:"files"`
	Header        struct {
		Format        int      `json:"format"`
		ParkerVersion string   `json:"parker_version"`
		Target        string   `json:"target"`
		Entries       int64    `json:"entries"`
		UnpackedSize  int64    `json:"unpacked_size"`
		FileBytes     int64    `json:"file_bytes"`
		Persist       []string `json:"persist"`
		Limits        struct {
			MemoryBytes int64   `json:"memory_bytes"`
			Pids        int64   `json:"pids"`
			CPUs        float64 `json:"cpus"`
		} `json:"limits"`
	} `json:"header"`
	Entries []struct {
		Path string `json:"path"`
		Type string `json:"type"`
		Mode string `json:"mode"`
		Size int64  `json:"size"`
		Link string `json:"link"`
	} `json:"entries"`
}

func decodeList(t *testing.T, out string) listDocument {
	t.Helper()
	var doc listDocument
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("decoding parker --list --json output: %v\n%s", err, out)
	}
	return doc
}

// listedFiles returns the regular files in "parker --list --json" output,
// sorted by path: the payload keeps them in the order that compresses best.
func listedFiles(t *testing.T, out string) []string {
	t.Helper()
	var files []string
	for _, e := range decodeList(t, out).Entries {
		if e.Type == "file" {
			files = append(files, e.Path)
		}
	}
	slices.Sort(files)
	return files
}

const inspectScript = "#!/bin/sh\necho inspected\n"

// inspectTree packs a small tree with options that --list must show and
// returns the workdir; the artifact is WORKDIR/app-c.
func inspectTree(t *testing.T) string {
	t.Helper()
	dir := workdir(t)
	writeFile(t, filepath.Join(dir, "app"), inspectScript, 0o755)
	writeFile(t, filepath.Join(dir, "data", "big.txt"), strings.Repeat("parker inspection ", 4000), 0o640)
	writeFile(t, filepath.Join(dir, "data", "secret"), "s\n", 0o600)
	if err := os.Symlink("data/big.txt", filepath.Join(dir, "big")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "empty"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, "empty"), 0o750); err != nil {
		t.Fatal(err)
	}
	pack(t, dir, "--persist", "logs", "--persist", "state/db", "--memory", "256M", "--pids", "64", "--cpus", "1.5", "app")
	return dir
}

func TestListShowsMetadataAndFiles(t *testing.T) {
	dir := inspectTree(t)
	stdout, stderr, err := parker(t, dir, "--list", "app-c")
	if err != nil {
		t.Fatalf("parker --list: %v\n%s", err, stderr)
	}
	meta, table, ok := strings.Cut(stdout, "\n\n")
	if !ok {
		t.Fatalf("parker --list output has no blank line between metadata and files:\n%s", stdout)
	}
	art, err := os.ReadFile(filepath.Join(dir, "app-c"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"artifact:       app-c\n",
		"parker version: ",
		"target:         app\n",
		"files:          3 (6 entries",
		"unpacked:       ",
		"packed:         ",
		"payload sha256: " + sectionSHA256(art, 8) + "\n",
		"header sha256:  " + sectionSHA256(art, 24) + "\n",
		"persist:        logs, state/db\n",
		"limits:         memory 256.0 MiB, pids 64, cpus 1.5\n",
	} {
		if !strings.Contains(meta, want) {
			t.Errorf("parker --list metadata lacks %q:\n%s", want, meta)
		}
	}
	for _, want := range []string{
		fmt.Sprintf("-rwxr-xr-x %10d app\n", len(inspectScript)),
		"Lrwxrwxrwx          0 big -> data/big.txt\n",
		"drwxr-xr-x          0 data/\n",
		"-rw-r-----      72000 data/big.txt\n",
		"-rw-------          2 data/secret\n",
		"drwxr-x---          0 empty/\n",
	} {
		if !strings.Contains(table, want) {
			t.Errorf("parker --list file table lacks %q:\n%s", want, table)
		}
	}
}

// sectionSHA256 hashes the part of an artifact that the trailer locates
// with the offset and length fields at bytes field and field+8 of the
// trailer: 8 for the payload, 24 for the header.
func sectionSHA256(art []byte, field int) string {
	trailer := art[len(art)-128:]
	off := binary.LittleEndian.Uint64(trailer[field:])
	n := binary.LittleEndian.Uint64(trailer[field+8:])
	sum := sha256.Sum256(art[off : off+n])
	return hex.EncodeToString(sum[:])
}

func TestListJSON(t *testing.T) {
	dir := inspectTree(t)
	stdout, stderr, err := parker(t, dir, "--list", "--json", "app-c")
	if err != nil {
		t.Fatalf("parker --list --json: %v\n%s", err, stderr)
	}
	doc := decodeList(t, stdout)
	art, err := os.ReadFile(filepath.Join(dir, "app-c"))
	if err != nil {
		t.Fatal(err)
	}
	stub, err := os.Stat(runtimeBin)
	if err != nil {
		t.Fatal(err)
	}
	h := doc.Header
	checks := []struct {
		name      string
		got, want any
	}{
		{"path", doc.Path, "app-c"},
		{"size", doc.Size, int64(len(art))},
		{"stub_size", doc.StubSize, stub.Size()},
		{"payload_sha256", doc.PayloadSHA256, sectionSHA256(art, 8)},
		{"header_sha256", doc.HeaderSHA256, sectionSHA256(art, 24)},
		{"files", doc.Files, 3},
		{"header.format", h.Format, 1},
		{"header.target", h.Target, "app"},
		{"header.entries", h.Entries, int64(6)},
		{"header.file_bytes", h.FileBytes, int64(len(inspectScript) + 72000 + 2)},
		{"header.persist", strings.Join(h.Persist, ","), "logs,state/db"},
		{"header.limits.memory_bytes", h.Limits.MemoryBytes, int64(256 << 20)},
		{"header.limits.pids", h.Limits.Pids, int64(64)},
		{"header.limits.cpus", h.Limits.CPUs, 1.5},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("--list --json %s = %v, want %v", c.name, c.got, c.want)
		}
	}

	type entry struct{ path, typ, mode, link string }
	var got []entry
	for _, e := range doc.Entries {
		got = append(got, entry{e.Path, e.Type, e.Mode, e.Link})
	}
	slices.SortFunc(got, func(a, b entry) int { return strings.Compare(a.path, b.path) })
	want := []entry{
		{"app", "file", "0755", ""},
		{"big", "symlink", "0777", "data/big.txt"},
		{"data", "dir", "0755", ""},
		{"data/big.txt", "file", "0640", ""},
		{"data/secret", "file", "0600", ""},
		{"empty", "dir", "0750", ""},
	}
	if !slices.Equal(got, want) {
		t.Errorf("--list --json entries =\n  %+v\nwant\n  %+v", got, want)
	}
}

func TestVerify(t *testing.T) {
	dir := inspectTree(t)
	good, err := os.ReadFile(filepath.Join(dir, "app-c"))
	if err != nil {
		t.Fatal(err)
	}
	stdout, stderr, err := parker(t, dir, "--verify", "app-c")
	if err != nil || !strings.HasPrefix(stdout, "app-c: ok (6 entries, payload sha256 ") {
		t.Errorf("parker --verify app-c = %q, %v (stderr %q); want exit 0 and \"app-c: ok (6 entries, ...\"", stdout, err, stderr)
	}

	stub, err := os.Stat(runtimeBin)
	if err != nil {
		t.Fatal(err)
	}
	damaged := bytes.Clone(good)
	damaged[stub.Size()+200] ^= 0x40
	writeFile(t, filepath.Join(dir, "damaged-c"), string(damaged), 0o755)
	writeFile(t, filepath.Join(dir, "short-c"), string(good[:len(good)-1]), 0o755)

	tests := []struct {
		file, want string
	}{
		{"damaged-c", "damaged"},
		{"short-c", "damaged"},
		{"/bin/true", "not a parker artifact"},
		{"missing-c", "no such file"},
	}
	for _, tc := range tests {
		for _, mode := range []string{"--verify", "--list"} {
			stdout, stderr, err := parker(t, dir, mode, tc.file)
			if code := exitStatus(err); code != 1 {
				t.Errorf("parker %s %s: exit status %d, want 1", mode, tc.file, code)
			}
			want := "parker: " + tc.file + ": "
			if !strings.HasPrefix(stderr, want) || !strings.Contains(stderr, tc.want) || strings.Count(stderr, "\n") != 1 {
				t.Errorf("parker %s %s stderr = %q, want one line starting %q and containing %q", mode, tc.file, stderr, want, tc.want)
			}
			if stdout != "" {
				t.Errorf("parker %s %s stdout = %q, want nothing", mode, tc.file, stdout)
			}
		}
	}
}

func TestExtract(t *testing.T) {
	dir := inspectTree(t)
	out := filepath.Join(t.TempDir(), "out")
	stdout, stderr, err := parker(t, dir, "--extract", "app-c", out)
	if err != nil {
		t.Fatalf("parker --extract: %v\n%s", err, stderr)
	}
	if !strings.HasPrefix(stdout, "extracted 6 entries") {
		t.Errorf("parker --extract stdout = %q, want \"extracted 6 entries ...\"", stdout)
	}
	for _, name := range []string{"app", "data/big.txt", "data/secret"} {
		want, _ := os.ReadFile(filepath.Join(dir, name))
		got, err := os.ReadFile(filepath.Join(out, name))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("extracted %s: %d bytes, error %v; want the packed %d bytes", name, len(got), err, len(want))
		}
		wantInfo, _ := os.Stat(filepath.Join(dir, name))
		gotInfo, err := os.Stat(filepath.Join(out, name))
		if err == nil && gotInfo.Mode() != wantInfo.Mode() {
			t.Errorf("extracted %s mode = %v, want %v", name, gotInfo.Mode(), wantInfo.Mode())
		}
	}
	if link, err := os.Readlink(filepath.Join(out, "big")); err != nil || link != "data/big.txt" {
		t.Errorf("extracted link big -> %q (error %v), want data/big.txt", link, err)
	}
	if fi, err := os.Stat(filepath.Join(out, "empty")); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o750 {
		t.Errorf("extracted empty/: %v, error %v; want a directory with mode 0750", fi, err)
	}

	emptyDir := t.TempDir()
	if _, stderr, err := parker(t, dir, "--extract", "app-c", emptyDir); err != nil {
		t.Errorf("parker --extract into an empty directory: %v\n%s", err, stderr)
	}

	_, stderr, err = parker(t, dir, "--extract", "app-c", out)
	if exitStatus(err) != 1 || !strings.Contains(stderr, "is not empty") {
		t.Errorf("parker --extract into a non-empty directory: exit %d, stderr %q; want 1 and \"is not empty\"", exitStatus(err), stderr)
	}

	_, stderr, err = parker(t, dir, "--extract", "app-c")
	if exitStatus(err) != 2 {
		t.Errorf("parker --extract without DIR: exit %d, stderr %q; want 2", exitStatus(err), stderr)
	}
	_, stderr, err = parker(t, dir, "--verify", "--json", "app-c")
	if exitStatus(err) != 2 || !strings.Contains(stderr, "--json works only with --list") {
		t.Errorf("parker --verify --json: exit %d, stderr %q; want 2 and a usage error", exitStatus(err), stderr)
	}
}
