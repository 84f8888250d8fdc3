package payload

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

var packTime = time.Date(2024, 5, 6, 7, 8, 9, 987654321, time.UTC)

// sourceFile describes one item of a test tree, in the order it is packed.
type sourceFile struct {
	path    string
	mode    fs.FileMode
	content string // for regular files
	link    string // for symlinks
}

// longName is a 296-byte relative path, too long for a USTAR header.
var (
	longDir  = "long/" + strings.Repeat("d", 120)
	longName = longDir + "/" + strings.Repeat("n", 170)
)

// badUTF8 is a file name that is not valid UTF-8.
const badUTF8 = "bad\xff\xfename"

func testTree() []sourceFile {
	return []sourceFile{
		{path: "bin", mode: fs.ModeDir | 0o755},
		{path: "bin/app", mode: 0o755, content: "#!/bin/sh\necho hi\n"},
		{path: "bin/suid", mode: fs.ModeSetuid | fs.ModeSetgid | 0o755, content: "suid"},
		{path: "data", mode: fs.ModeDir | 0o700},
		{path: "data/empty", mode: 0o600},
		{path: "data/readonly", mode: 0o444, content: "ro"},
		{path: "data/world", mode: 0o666, content: "rw for all"},
		{path: "emptydir", mode: fs.ModeDir | 0o777},
		{path: "links", mode: fs.ModeDir | 0o755},
		{path: "links/abs", mode: fs.ModeSymlink | 0o777, link: "/etc/hostname"},
		{path: "links/dangling", mode: fs.ModeSymlink | 0o777, link: "../nowhere"},
		{path: "links/rel", mode: fs.ModeSymlink | 0o777, link: "../bin/app"},
		{path: "long", mode: fs.ModeDir | 0o755},
		{path: longDir, mode: fs.ModeDir | 0o755},
		{path: longName, mode: 0o644, content: "long name"},
		{path: "ro", mode: fs.ModeDir | 0o555},
		{path: "ro/inside", mode: 0o644, content: "written before ro became read-only"},
		{path: "sticky", mode: fs.ModeDir | fs.ModeSticky | 0o777},
		{path: badUTF8, mode: 0o644, content: "latin-1 name"},
	}
}

// makeTree creates files on disk and returns the entries a collector would
// produce for them, with ModTime from lstat.
func makeTree(t testing.TB, files []sourceFile) (string, []Entry) {
	t.Helper()
	root := t.TempDir()
	makeRemovable(t, root)
	for _, f := range files {
		p := filepath.Join(root, filepath.FromSlash(f.path))
		var err error
		switch {
		case f.mode.IsDir():
			err = os.Mkdir(p, 0o700)
		case f.mode&fs.ModeSymlink != 0:
			err = os.Symlink(f.link, p)
		default:
			err = os.WriteFile(p, []byte(f.content), 0o600)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	// Set modes deepest first so that read-only directories are filled already.
	for i := len(files) - 1; i >= 0; i-- {
		f := files[i]
		if f.mode&fs.ModeSymlink == 0 {
			if err := os.Chmod(filepath.Join(root, filepath.FromSlash(f.path)), f.mode); err != nil {
				t.Fatal(err)
			}
		}
	}
	return root, collectEntries(t, root, files)
}

func collectEntries(t testing.TB, root string, files []sourceFile) []Entry {
	t.Helper()
	var entries []Entry
	for _, f := range files {
		p := filepath.Join(root, filepath.FromSlash(f.path))
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		e := Entry{Path: f.path, Mode: fi.Mode(), ModTime: fi.ModTime(), Link: f.link}
		if fi.Mode().IsRegular() {
			e.Size, e.Source = fi.Size(), p
		}
		entries = append(entries, e)
	}
	return entries
}

func writeTar(t testing.TB, entries []Entry) []byte {
	t.Helper()
	var b bytes.Buffer
	stats, err := WriteTar(&b, entries, TarOptions{ModTime: packTime})
	if err != nil {
		t.Fatalf("WriteTar() error: %v", err)
	}
	if stats.TarBytes != int64(b.Len()) || stats.Entries != int64(len(entries)) {
		t.Errorf("WriteTar() stats = %+v, want TarBytes %d and Entries %d", stats, b.Len(), len(entries))
	}
	return b.Bytes()
}

func TestWriteTarHeaders(t *testing.T) {
	_, entries := makeTree(t, testTree())
	tr := tar.NewReader(bytes.NewReader(writeTar(t, entries)))
	for i := 0; ; i++ {
		h, err := tr.Next()
		if err == io.EOF {
			if i != len(entries) {
				t.Errorf("tar stream has %d entries, want %d", i, len(entries))
			}
			break
		}
		if err != nil {
			t.Fatalf("tar.Reader.Next() error: %v", err)
		}
		e := entries[i]
		wantName := e.Path
		if e.Mode.IsDir() {
			wantName += "/"
		}
		if h.Name != wantName {
			t.Errorf("entry %d name = %q, want %q", i, h.Name, wantName)
		}
		if h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" {
			t.Errorf("%q owner = %d:%d %q:%q, want 0:0 and empty names", h.Name, h.Uid, h.Gid, h.Uname, h.Gname)
		}
		if !h.ModTime.Equal(packTime.Truncate(time.Second)) || !h.AccessTime.IsZero() || !h.ChangeTime.IsZero() {
			t.Errorf("%q times = %v/%v/%v, want mtime %v only", h.Name, h.ModTime, h.AccessTime, h.ChangeTime, packTime.Truncate(time.Second))
		}
		if got := tarMode(e.Mode); h.Mode != got {
			t.Errorf("%q mode = %o, want %o", h.Name, h.Mode, got)
		}
		wantFormat := tar.FormatUSTAR
		if e.Path == longName || e.Path == longDir || e.Path == badUTF8 {
			wantFormat = tar.FormatPAX
		}
		if h.Format != wantFormat {
			t.Errorf("%q format = %v, want %v", h.Name, h.Format, wantFormat)
		}
	}
}

func TestWriteTarDeterministic(t *testing.T) {
	files := testTree()
	root, entries := makeTree(t, files)
	first := writeTar(t, entries)

	// Touching every file changes nothing in the stream once it is collected again.
	later := time.Now().Add(time.Hour)
	for _, e := range entries {
		if e.Mode&fs.ModeSymlink == 0 {
			if err := os.Chtimes(filepath.Join(root, filepath.FromSlash(e.Path)), later, later); err != nil {
				t.Fatal(err)
			}
		}
	}
	second := writeTar(t, collectEntries(t, root, files))
	if !bytes.Equal(first, second) {
		t.Error("WriteTar() output changed after touching the files")
	}

	var payloads [][]byte
	for _, workers := range []int{1, 4} {
		p, _ := compress(t, second, CompressOptions{ChunkSize: 4096, Workers: workers}, 1000)
		payloads = append(payloads, p)
	}
	if !bytes.Equal(payloads[0], payloads[1]) {
		t.Error("compressed tar stream differs between 1 and 4 workers")
	}
}

func TestWriteTarZeroModTime(t *testing.T) {
	_, entries := makeTree(t, testTree()[:2])
	var b bytes.Buffer
	if _, err := WriteTar(&b, entries, TarOptions{}); err != nil {
		t.Fatal(err)
	}
	h, err := tar.NewReader(&b).Next()
	if err != nil {
		t.Fatal(err)
	}
	if h.ModTime.Unix() != 0 || h.Format != tar.FormatUSTAR {
		t.Errorf("zero ModTime: header mtime %v format %v, want the Unix epoch in USTAR", h.ModTime, h.Format)
	}
}

func TestWriteTarChanged(t *testing.T) {
	root, entries := makeTree(t, testTree()[:2])
	app := entries[1]
	fifo := filepath.Join(root, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(root, "link")
	if err := os.Symlink(app.Source, link); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		edit func(e *Entry)
	}{
		{"size", func(e *Entry) { e.Size++ }},
		{"mtime", func(e *Entry) { e.ModTime = e.ModTime.Add(time.Nanosecond) }},
		{"now a FIFO", func(e *Entry) { e.Source = fifo }},
		{"now a symlink", func(e *Entry) { e.Source = link }},
		{"removed", func(e *Entry) { e.Source = filepath.Join(root, "removed") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := app
			tc.edit(&e)
			_, err := WriteTar(io.Discard, []Entry{entries[0], e}, TarOptions{})
			if !errors.Is(err, ErrChanged) {
				t.Fatalf("WriteTar() error = %v, want ErrChanged", err)
			}
			if !strings.Contains(err.Error(), `"bin/app"`) {
				t.Errorf("WriteTar() error = %v, want it to name bin/app", err)
			}
		})
	}
}

func TestWriteTarContentLengthDiffers(t *testing.T) {
	// Files in /proc and /sys report sizes that differ from their content,
	// like a file that is written to while being packed.
	tests := []struct {
		name, source string
		size         int64
	}{
		{"grows", "/proc/self/status", 0},
		{"ends early", "/sys/kernel/mm/transparent_hugepage/enabled", 4096},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fi, err := os.Stat(tc.source)
			if err != nil || fi.Size() != tc.size {
				t.Skipf("%s is not available with size %d", tc.source, tc.size)
			}
			e := Entry{Path: "f", Mode: 0o644, Size: tc.size, Source: tc.source}
			_, err = WriteTar(io.Discard, []Entry{e}, TarOptions{})
			if !errors.Is(err, ErrChanged) {
				t.Errorf("WriteTar(%s) error = %v, want ErrChanged", tc.source, err)
			}
		})
	}
}

func TestWriteTarRejectsBadEntries(t *testing.T) {
	for _, e := range []Entry{
		{Path: "/abs", Mode: fs.ModeDir | 0o755},
		{Path: "./x", Mode: fs.ModeDir | 0o755},
		{Path: "a/../b", Mode: fs.ModeDir | 0o755},
		{Path: "", Mode: fs.ModeDir | 0o755},
		{Path: "dev", Mode: fs.ModeDevice | 0o600},
		{Path: "fifo", Mode: fs.ModeNamedPipe | 0o600},
		{Path: "link", Mode: fs.ModeSymlink | 0o777},
		{Path: "link", Mode: fs.ModeSymlink | 0o777, Link: "a\x00b"},
		{Path: "file", Mode: 0o644, Size: -1, Source: "/dev/null"},
	} {
		if _, err := WriteTar(io.Discard, []Entry{e}, TarOptions{}); err == nil {
			t.Errorf("WriteTar(%+v) error = nil, want an error", e)
		}
	}
}

// capWriter keeps the first limit bytes and then fails, to stop a large stream.
type capWriter struct {
	buf   bytes.Buffer
	limit int
}

var errCapReached = errors.New("enough")

func (c *capWriter) Write(p []byte) (int, error) {
	n := min(len(p), c.limit-c.buf.Len())
	c.buf.Write(p[:n])
	if n < len(p) {
		return n, errCapReached
	}
	return n, nil
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func TestWriteTarLargeFile(t *testing.T) {
	const size = 8<<30 + 1 // one byte more than USTAR's 11 octal digits hold
	path := filepath.Join(t.TempDir(), "big")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		f.Close()
		t.Skipf("cannot create a sparse %d-byte file: %v", int64(size), err)
	}
	f.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	e := Entry{Path: "big", Mode: 0o644, Size: size, Source: path, ModTime: fi.ModTime()}

	// Keep the PAX header, its records and the USTAR header; the content is zeros.
	w := &capWriter{limit: 3 * 512}
	if _, err := WriteTar(w, []Entry{e}, TarOptions{ModTime: packTime}); !errors.Is(err, errCapReached) {
		t.Fatalf("WriteTar() error = %v, want the writer's error", err)
	}
	h, err := tar.NewReader(bytes.NewReader(w.buf.Bytes())).Next()
	if err != nil {
		t.Fatalf("reading header: %v", err)
	}
	if h.Size != size || h.Format != tar.FormatPAX {
		t.Fatalf("header size %d format %v, want %d and PAX", h.Size, h.Format, int64(size))
	}

	// The whole stream is the headers followed by zeros: content, padding, end blocks.
	stream := io.MultiReader(bytes.NewReader(w.buf.Bytes()), io.LimitReader(zeroReader{}, size+511+1024))
	list, err := List(stream)
	if err != nil {
		t.Fatalf("List() error: %v", err)
	}
	if len(list) != 1 || list[0].Size != size {
		t.Errorf("List() = %+v, want one entry of %d bytes", list, int64(size))
	}

	stream = io.MultiReader(bytes.NewReader(w.buf.Bytes()), io.LimitReader(zeroReader{}, size+511+1024))
	out := t.TempDir()
	if _, err := Unpack(stream, out, UnpackOptions{MaxBytes: 1 << 30, MaxEntries: NoLimit}); !errors.Is(err, ErrLimit) {
		t.Errorf("Unpack(MaxBytes 1 GiB) error = %v, want ErrLimit", err)
	}
	if _, err := os.Lstat(filepath.Join(out, "big")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Unpack created big despite the limit: Lstat error = %v", err)
	}
}
