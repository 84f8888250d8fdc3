package payload

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/parkerpack/parker/internal/artifact"
)

// unpackDir returns an empty directory for Unpack that cleanup can always remove.
func unpackDir(t testing.TB) string {
	t.Helper()
	d := t.TempDir()
	makeRemovable(t, d)
	return d
}

func TestUnpackRoundTrip(t *testing.T) {
	files := testTree()
	_, entries := makeTree(t, files)
	stream := writeTar(t, entries)
	payload, chunks := compress(t, stream, CompressOptions{ChunkSize: 4096, Workers: 2}, len(stream))

	r := NewChunkReader(bytes.NewReader(payload), chunks, 2)
	defer r.Close()
	out := unpackDir(t)
	var logged []string
	stats, err := Unpack(r, out, UnpackOptions{MaxBytes: NoLimit, MaxEntries: NoLimit, Log: func(f string, args ...any) {
		logged = append(logged, fmt.Sprintf(f, args...))
	}})
	if err != nil {
		t.Fatalf("Unpack() error: %v", err)
	}
	var wantFiles, wantBytes int64
	for _, f := range files {
		if f.mode.IsRegular() {
			wantFiles++
			wantBytes += int64(len(f.content))
		}
	}
	want := UnpackStats{Entries: int64(len(files)), Files: wantFiles, Bytes: wantBytes}
	if stats != want {
		t.Errorf("Unpack() stats = %+v, want %+v", stats, want)
	}
	for _, f := range files {
		checkUnpacked(t, out, f)
	}
	if len(logged) != 2 || !strings.Contains(logged[0], "setuid+setgid") || !strings.Contains(logged[1], "sticky") {
		t.Errorf("Log messages = %q, want one for bin/suid (setuid+setgid) and one for sticky", logged)
	}
}

// checkUnpacked compares one extracted item with its source description.
func checkUnpacked(t *testing.T, root string, f sourceFile) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(f.path))
	fi, err := os.Lstat(p)
	if err != nil {
		t.Errorf("Lstat(%q): %v", f.path, err)
		return
	}
	wantMode := f.mode &^ (fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
	if fi.Mode()&fs.ModeSymlink != 0 {
		wantMode = fs.ModeSymlink | fi.Mode().Perm() // symlink permissions are not kept on Linux
	}
	if fi.Mode() != wantMode {
		t.Errorf("%q mode = %v, want %v", f.path, fi.Mode(), wantMode)
	}
	switch {
	case f.mode&fs.ModeSymlink != 0:
		if got, err := os.Readlink(p); err != nil || got != f.link {
			t.Errorf("Readlink(%q) = %q, %v; want %q", f.path, got, err, f.link)
		}
	case f.mode.IsRegular():
		if got, err := os.ReadFile(p); err != nil || string(got) != f.content {
			t.Errorf("ReadFile(%q) = %q, %v; want %q", f.path, got, err, f.content)
		}
	}
}

func TestListRoundTrip(t *testing.T) {
	files := testTree()
	_, entries := makeTree(t, files)
	got, err := List(bytes.NewReader(writeTar(t, entries)))
	if err != nil {
		t.Fatalf("List() error: %v", err)
	}
	if len(got) != len(files) {
		t.Fatalf("List() returned %d entries, want %d", len(got), len(files))
	}
	for i, f := range files {
		want := ListEntry{Path: f.path, Mode: f.mode, Size: int64(len(f.content)), Link: f.link}
		if got[i] != want {
			t.Errorf("List()[%d] = %+v, want %+v", i, got[i], want)
		}
	}
}

func TestUnpackHardLink(t *testing.T) {
	stream := buildTar(t,
		dir("d/", 0o755),
		reg("d/f", "content", 0o640),
		hardlink("d/h", "d/f"),
		hardlink("h2", "d/h"),
	)
	out := unpackDir(t)
	stats, err := Unpack(bytes.NewReader(stream), out, unlimited)
	if err != nil {
		t.Fatalf("Unpack() error: %v", err)
	}
	if stats.Files != 1 || stats.Entries != 4 {
		t.Errorf("Unpack() stats = %+v, want 1 file in 4 entries", stats)
	}
	a, _ := os.Stat(filepath.Join(out, "d/f"))
	for _, name := range []string{"d/h", "h2"} {
		b, err := os.Stat(filepath.Join(out, name))
		if err != nil || !os.SameFile(a, b) {
			t.Errorf("%s is not a hard link to d/f (Stat error %v)", name, err)
		}
	}
}

func TestUnpackImplicitParents(t *testing.T) {
	stream := buildTar(t, reg("a/b/f", "x", 0o644), dir("a/", 0o750))
	out := unpackDir(t)
	if _, err := Unpack(bytes.NewReader(stream), out, unlimited); err != nil {
		t.Fatalf("Unpack() error: %v", err)
	}
	for name, want := range map[string]fs.FileMode{"a": fs.ModeDir | 0o750, "a/b": fs.ModeDir | 0o755} {
		fi, err := os.Stat(filepath.Join(out, name))
		if err != nil || fi.Mode() != want {
			t.Errorf("Stat(%q) mode = %v (error %v), want %v", name, fi.Mode(), err, want)
		}
	}
}

// unpackCase is a tar stream that Unpack must reject.
type unpackCase struct {
	name   string
	stream []byte
	opts   *UnpackOptions // nil: unlimited
	want   error          // nil: any error
}

// unlimited sets no limit on what Unpack extracts.
var unlimited = UnpackOptions{MaxBytes: NoLimit, MaxEntries: NoLimit}

// unpackRejectCases returns one case per rejection rule. outside is a
// directory that a symlink in the archive points to.
func unpackRejectCases(t testing.TB, outside string) []unpackCase {
	valid := buildTar(t, reg("f", "x", 0o644))
	truncated := buildTar(t, reg("f", strings.Repeat("x", 2000), 0o644))
	return []unpackCase{
		{name: "absolute", stream: buildTar(t, reg("/abs", "x", 0o644)), want: ErrInvalidEntry},
		{name: "absolute dir", stream: buildTar(t, dir("/", 0o755)), want: ErrInvalidEntry},
		{name: "dotdot", stream: buildTar(t, reg("../evil", "x", 0o644)), want: ErrInvalidEntry},
		{name: "dotdot inside", stream: buildTar(t, dir("a/", 0o755), reg("a/../../evil", "x", 0o644)), want: ErrInvalidEntry},
		{name: "dot prefix", stream: buildTar(t, reg("./f", "x", 0o644)), want: ErrInvalidEntry},
		{name: "dot", stream: buildTar(t, dir("./", 0o755)), want: ErrInvalidEntry},
		{name: "double slash", stream: buildTar(t, reg("a//f", "x", 0o644)), want: ErrInvalidEntry},
		{name: "empty name", stream: buildTar(t, reg("", "x", 0o644)), want: ErrInvalidEntry},
		{name: "NUL in name", stream: paxNULName()},
		{name: "duplicate file", stream: buildTar(t, reg("f", "1", 0o644), reg("f", "2", 0o644)), want: ErrInvalidEntry},
		{name: "duplicate dir", stream: buildTar(t, dir("d/", 0o755), dir("d/", 0o700)), want: ErrInvalidEntry},
		{name: "dir over file", stream: buildTar(t, reg("f", "1", 0o644), dir("f/", 0o755)), want: ErrInvalidEntry},
		{name: "file over symlink", stream: buildTar(t, symlink("l", "x"), reg("l", "2", 0o644)), want: ErrInvalidEntry},
		{name: "below file", stream: buildTar(t, reg("f", "1", 0o644), reg("f/x", "2", 0o644)), want: ErrInvalidEntry},
		{name: "symlink escape absolute", stream: buildTar(t, symlink("a", outside), reg("a/evil", "x", 0o644)), want: ErrInvalidEntry},
		{name: "symlink escape dotdot", stream: buildTar(t, symlink("a", "../.."), reg("a/evil", "x", 0o644)), want: ErrInvalidEntry},
		{name: "symlink escape dir", stream: buildTar(t, symlink("a", outside), dir("a/sub/", 0o755)), want: ErrInvalidEntry},
		{name: "symlink inside", stream: buildTar(t, dir("d/", 0o755), symlink("l", "d"), reg("l/f", "x", 0o644)), want: ErrInvalidEntry},
		{name: "empty symlink target", stream: buildTar(t, symlink("l", "")), want: ErrInvalidEntry},
		{name: "hardlink outside absolute", stream: buildTar(t, hardlink("h", "/etc/passwd")), want: ErrInvalidEntry},
		{name: "hardlink outside dotdot", stream: buildTar(t, hardlink("h", "../outside/f")), want: ErrInvalidEntry},
		{name: "hardlink to missing", stream: buildTar(t, hardlink("h", "missing")), want: ErrInvalidEntry},
		{name: "hardlink forward", stream: buildTar(t, hardlink("h", "f"), reg("f", "x", 0o644)), want: ErrInvalidEntry},
		{name: "hardlink to dir", stream: buildTar(t, dir("d/", 0o755), hardlink("h", "d")), want: ErrInvalidEntry},
		{name: "hardlink to symlink", stream: buildTar(t, symlink("l", outside), hardlink("h", "l")), want: ErrInvalidEntry},
		{name: "char device", stream: buildTar(t, tarEntry{hdr: tar.Header{Typeflag: tar.TypeChar, Name: "null", Devmajor: 1, Devminor: 3}}), want: ErrInvalidEntry},
		{name: "block device", stream: buildTar(t, tarEntry{hdr: tar.Header{Typeflag: tar.TypeBlock, Name: "sda", Devmajor: 8}}), want: ErrInvalidEntry},
		{name: "fifo", stream: buildTar(t, tarEntry{hdr: tar.Header{Typeflag: tar.TypeFifo, Name: "fifo"}}), want: ErrInvalidEntry},
		{name: "global header", stream: buildTar(t, tarEntry{hdr: tar.Header{Typeflag: tar.TypeXGlobalHeader, PAXRecords: map[string]string{"comment": "x"}}}), want: ErrInvalidEntry},
		{name: "oversize file", stream: buildTar(t, reg("big", strings.Repeat("x", 2000), 0o644)), opts: &UnpackOptions{MaxBytes: 1000, MaxEntries: NoLimit}, want: ErrLimit},
		{name: "oversize total", stream: buildTar(t, reg("a", strings.Repeat("x", 600), 0o644), reg("b", strings.Repeat("x", 600), 0o644)), opts: &UnpackOptions{MaxBytes: 1000, MaxEntries: NoLimit}, want: ErrLimit},
		{name: "too many entries", stream: buildTar(t, reg("a", "", 0o644), reg("b", "", 0o644), reg("c", "", 0o644)), opts: &UnpackOptions{MaxBytes: NoLimit, MaxEntries: 2}, want: ErrLimit},
		{name: "too many parents", stream: buildTar(t, reg("a/b/c/d/f", "", 0o644)), opts: &UnpackOptions{MaxBytes: NoLimit, MaxEntries: 3}, want: ErrLimit},
		{name: "data after archive", stream: append(bytes.Clone(valid), "junk"...), want: ErrInvalidEntry},
		{name: "truncated content", stream: truncated[:1000]},
		{name: "not tar", stream: []byte(strings.Repeat("not a tar stream ", 64))},
		{name: "symlink chain escape", stream: buildTar(t, symlink("a", outside), symlink("b", "a"), reg("b/evil", "x", 0o644)), want: ErrInvalidEntry},
		{name: "hardlink through symlink", stream: buildTar(t, symlink("l", outside), hardlink("h", "l/f")), want: ErrInvalidEntry},
		{name: "PAX path dotdot", stream: rawStream(paxHeader("path", "../../evil"), rawTarHeader("x", '0', 0)), want: ErrInvalidEntry},
		{name: "GNU long name dotdot", stream: buildTar(t, tarEntry{hdr: tar.Header{Typeflag: tar.TypeReg, Format: tar.FormatGNU,
			Name: "../" + strings.Repeat("n", 120)}}), want: ErrInvalidEntry},
		{name: "NUL in PAX linkpath", stream: rawStream(paxHeader("linkpath", "a\x00b"), rawTarHeader("l", '2', 0))},
		{name: "unknown type", stream: rawStream(rawTarHeader("sock", 'Z', 0)), want: ErrInvalidEntry},
		{name: "contiguous file", stream: rawStream(rawTarHeader("cont", '7', 0)), want: ErrInvalidEntry},
		{name: "sparse 1 TiB", stream: rawStream(
			paxHeader("GNU.sparse.numblocks", "1", "GNU.sparse.offset", "1099511627775", "GNU.sparse.numbytes", "1",
				"GNU.sparse.map", "1099511627775,1", "GNU.sparse.size", "1099511627776"),
			rawTarHeader("sparse", '0', 1), make([]byte, 512)),
			opts: &UnpackOptions{MaxBytes: 1 << 20, MaxEntries: NoLimit}, want: ErrLimit},
		{name: "bad header checksum", stream: corruptChecksum(valid)},
		{name: "size not octal", stream: rawStream(withField(rawTarHeader("f", '0', 0), 124, "zzzzzzzzzzz\x00"))},
		{name: "one zero block then data", stream: rawStream(make([]byte, 512), rawTarHeader("f", '0', 0))},
	}
}

func TestUnpackRejects(t *testing.T) {
	outside := t.TempDir()
	for _, tc := range unpackRejectCases(t, outside) {
		t.Run(tc.name, func(t *testing.T) {
			out := unpackDir(t)
			opts := unlimited
			if tc.opts != nil {
				opts = *tc.opts
			}
			_, err := Unpack(bytes.NewReader(tc.stream), out, opts)
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Errorf("Unpack() error = %v, want %v", err, tc.want)
			}
			if names := dirNames(t, outside); len(names) > 0 {
				t.Errorf("Unpack() created %q outside its directory", names)
			}
			if _, err := List(bytes.NewReader(tc.stream)); tc.want != ErrLimit && err == nil {
				t.Errorf("List() error = nil, want the same rejection as Unpack")
			}
		})
	}
}

func dirNames(t testing.TB, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	return names
}

func TestUnpackLimitChecksSizeBeforeWriting(t *testing.T) {
	out := unpackDir(t)
	stream := buildTar(t, reg("small", "ok", 0o644), reg("big", strings.Repeat("x", 5000), 0o644))
	stats, err := Unpack(bytes.NewReader(stream), out, UnpackOptions{MaxBytes: 4096, MaxEntries: NoLimit})
	if !errors.Is(err, ErrLimit) {
		t.Fatalf("Unpack() error = %v, want ErrLimit", err)
	}
	if got := dirNames(t, out); !slices.Equal(got, []string{"small"}) {
		t.Errorf("directory holds %q after the limit, want only small", got)
	}
	if stats.Bytes != 2 {
		t.Errorf("Unpack() stats.Bytes = %d, want 2", stats.Bytes)
	}
}

func TestUnpackExistingFile(t *testing.T) {
	out := unpackDir(t)
	if err := os.WriteFile(filepath.Join(out, "f"), []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	outside := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(out, "link")); err != nil {
		t.Fatal(err)
	}
	for _, stream := range [][]byte{
		buildTar(t, reg("f", "overwritten", 0o644)),
		buildTar(t, reg("link/evil", "x", 0o644)),
		buildTar(t, reg("link", "x", 0o644)),
	} {
		if _, err := Unpack(bytes.NewReader(stream), out, unlimited); err == nil {
			t.Error("Unpack() over an existing name error = nil, want an error")
		}
	}
	if got, _ := os.ReadFile(filepath.Join(out, "f")); string(got) != "keep" {
		t.Errorf("existing file content = %q, want %q", got, "keep")
	}
	if names := dirNames(t, outside); len(names) > 0 {
		t.Errorf("Unpack() created %q through a pre-existing symlink", names)
	}
}

func TestUnpackXZBomb(t *testing.T) {
	stream := buildTar(t, reg("f", strings.Repeat("a", 300<<10), 0o644))
	payload, chunks := compress(t, stream, CompressOptions{ChunkSize: 128 << 10, Workers: 2}, len(stream))
	chunks[1].Unpacked -= 100 << 10 // the chunk decodes to more than recorded
	r := NewChunkReader(bytes.NewReader(payload), chunks, 2)
	defer r.Close()
	if _, err := Unpack(r, unpackDir(t), unlimited); !errors.Is(err, artifact.ErrDamaged) {
		t.Errorf("Unpack() error = %v, want artifact.ErrDamaged", err)
	}
}

func TestUnpackMissingDir(t *testing.T) {
	stream := buildTar(t, reg("f", "x", 0o644))
	if _, err := Unpack(bytes.NewReader(stream), filepath.Join(t.TempDir(), "missing"), unlimited); err == nil {
		t.Error("Unpack() into a missing directory error = nil, want an error")
	}
}
