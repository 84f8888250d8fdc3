package e2e

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/parkerpack/parker/internal/artifact"
	"github.com/parkerpack/parker/internal/payload"
)

// reproNode is one file, directory or symlink of the reproducibility tree.
type reproNode struct {
	path    string
	mode    os.FileMode // permission bits; fs.ModeDir or fs.ModeSymlink for those
	content string      // file content, or the symlink target
}

var reproTree = []reproNode{
	{"app", 0o755, "#!/bin/sh\necho reproducible\n"},
	{"conf", fs.ModeDir | 0o750, ""},
	{"conf/app.ini", 0o640, "[app]\nname = repro\n"},
	{"conf/secret", 0o600, "hunter2\n"},
	{"data", fs.ModeDir | 0o755, ""},
	{"data/readonly.txt", 0o444, "read only\n"},
	{"data/" + strings.Repeat("long-name-", 12) + ".txt", 0o644, "a name that needs a PAX record\n"},
	{"data/grüße.txt", 0o644, "non-ASCII name\n"},
	{"data/big.bin", 0o644, strings.Repeat("0123456789abcdef", 1<<14)},
	{"empty", fs.ModeDir | 0o700, ""},
	{"latest", fs.ModeSymlink, "data/readonly.txt"},
	{"tool", 0o700, "#!/bin/sh\n"},
}

// buildReproTree creates the tree under root, in reverse order when
// reversed is set, so that directories list their names in another order
// on disk. Modes are set with chmod, so the umask only changes what
// mkdir and open create in between.
func buildReproTree(t *testing.T, root string, reversed bool) {
	t.Helper()
	nodes := slices.Clone(reproTree)
	if reversed {
		slices.Reverse(nodes)
	}
	for _, n := range nodes {
		path := filepath.Join(root, n.path)
		if err := os.MkdirAll(filepath.Dir(path), 0o777); err != nil {
			t.Fatal(err)
		}
		switch {
		case n.mode&fs.ModeSymlink != 0:
			if err := os.Symlink(n.content, path); err != nil {
				t.Fatal(err)
			}
		case n.mode.IsDir():
			if err := os.MkdirAll(path, 0o777); err != nil {
				t.Fatal(err)
			}
		default:
			if err := os.WriteFile(path, []byte(n.content), 0o666); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Modes are set once every entry exists, deepest first, so that a
	// restrictive directory mode never blocks creating what is below it.
	for _, n := range slices.Backward(slices.Clone(reproTree)) {
		if n.mode&fs.ModeSymlink == 0 {
			if err := os.Chmod(filepath.Join(root, n.path), n.mode.Perm()); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
}

// disturbMetadata gives every path under root its own access and
// modification time and another owner for some of them, none of which
// the artifact may depend on.
func disturbMetadata(t *testing.T, root string) {
	t.Helper()
	base := time.Date(2019, 6, 1, 12, 0, 0, 0, time.UTC)
	for i, n := range reproTree {
		path := filepath.Join(root, n.path)
		when := base.Add(time.Duration(i) * 7919 * time.Second)
		ts := []unix.Timespec{unix.NsecToTimespec(when.UnixNano()), unix.NsecToTimespec(when.UnixNano() + 123456789)}
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, path, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			t.Fatalf("setting times of %s: %v", path, err)
		}
		if i%3 == 0 {
			if err := os.Lchown(path, 4321, 8765); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// packRepro packs root into out from the directory cwd with -C and
// returns the artifact's SHA-256.
func packRepro(t *testing.T, cwd, root, out string) string {
	t.Helper()
	if _, stderr, err := parker(t, cwd, "-q", "-C", root, "-o", out, "app"); err != nil {
		t.Fatalf("parker -C %s: %v\n%s", root, err, stderr)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// withUmask runs fn with the process umask set to mask; parker started by
// fn inherits it.
func withUmask(mask int, fn func()) {
	old := syscall.Umask(mask)
	defer syscall.Umask(old)
	fn()
}

func TestArtifactIsReproducible(t *testing.T) {
	requireRoot(t)
	out := t.TempDir()
	first := filepath.Join(workdir(t), "first")
	buildReproTree(t, first, false)
	want := packRepro(t, first, first, filepath.Join(out, "first-c"))

	disturbMetadata(t, first)
	if got := packRepro(t, first, first, filepath.Join(out, "touched-c")); got != want {
		t.Errorf("after new times and owners: artifact sha256 %s, want %s", got, want)
	}

	// The same files created elsewhere in reverse order under another
	// umask, packed at another second of the day, in another time zone,
	// from another current directory.
	second := filepath.Join(workdir(t), "another", "place", "for", "the", "tree")
	withUmask(0o077, func() { buildReproTree(t, second, true) })
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
	t.Setenv("TZ", "Pacific/Kiritimati")
	var got string
	withUmask(0o027, func() { got = packRepro(t, t.TempDir(), second, filepath.Join(out, "second-c")) })
	if got != want {
		t.Errorf("tree recreated at %s: artifact sha256 %s, want %s", second, got, want)
	}

	raw, stream := readArtifactParts(t, filepath.Join(out, "second-c"))
	for _, leak := range []string{first, second, filepath.Dir(second), out} {
		if bytes.Contains(raw, []byte(leak)) || bytes.Contains(stream, []byte(leak)) {
			t.Errorf("artifact contains the host path %s", leak)
		}
	}
	checkHeaderIsHostFree(t, raw)
	checkTarIsNormalized(t, stream, time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC))
}

func TestSourceDateEpochSetsPayloadTimes(t *testing.T) {
	requireRoot(t)
	out := t.TempDir()
	root := filepath.Join(workdir(t), "tree")
	buildReproTree(t, root, false)
	plain := packRepro(t, root, root, filepath.Join(out, "plain-c"))

	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	withEpoch := packRepro(t, root, root, filepath.Join(out, "epoch-c"))
	if withEpoch == plain {
		t.Errorf("SOURCE_DATE_EPOCH=1700000000 gave the same artifact as the default time")
	}
	disturbMetadata(t, root)
	if again := packRepro(t, root, root, filepath.Join(out, "again-c")); again != withEpoch {
		t.Errorf("SOURCE_DATE_EPOCH artifact after new times and owners: sha256 %s, want %s", again, withEpoch)
	}
	_, stream := readArtifactParts(t, filepath.Join(out, "epoch-c"))
	checkTarIsNormalized(t, stream, time.Unix(1700000000, 0))

	t.Setenv("SOURCE_DATE_EPOCH", "yesterday")
	_, stderr, err := parker(t, root, "-q", "-o", filepath.Join(out, "bad-c"), "app")
	if err == nil || !strings.Contains(stderr, `invalid SOURCE_DATE_EPOCH "yesterday"`) {
		t.Errorf("SOURCE_DATE_EPOCH=yesterday: error %v, stderr %q; want an error naming the value", err, stderr)
	}
}

// readArtifactParts returns the raw artifact and its decompressed tar
// stream.
func readArtifactParts(t *testing.T, path string) (raw, stream []byte) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	art, f, err := artifact.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := payload.NewChunkReader(art.Payload(), art.Header.Chunks, 1)
	defer r.Close()
	if stream, err = io.ReadAll(r); err != nil {
		t.Fatal(err)
	}
	return raw, stream
}

// headerKeys are the only fields the header may have: none of them holds
// a time, a host name, a user or an absolute path.
var headerKeys = []string{
	"format", "parker_version", "target", "entries", "unpacked_size", "file_bytes",
	"chunk_size", "chunks", "filters", "persist", "limits", "cache",
}

func checkHeaderIsHostFree(t *testing.T, raw []byte) {
	t.Helper()
	trailer, err := artifact.ParseTrailer(raw[len(raw)-artifact.TrailerSize:])
	if err != nil {
		t.Fatal(err)
	}
	headerJSON := raw[trailer.HeaderOffset : trailer.HeaderOffset+trailer.HeaderLength]
	var header map[string]any
	if err := json.Unmarshal(headerJSON, &header); err != nil {
		t.Fatal(err)
	}
	for key := range header {
		if !slices.Contains(headerKeys, key) {
			t.Errorf("header has field %q, want only %q", key, headerKeys)
		}
	}
	host, _ := os.Hostname()
	for _, leak := range []string{host, time.Now().Format("2006-01-02"), "/tmp", "/root"} {
		if leak != "" && bytes.Contains(headerJSON, []byte(leak)) {
			t.Errorf("header contains %q: %s", leak, headerJSON)
		}
	}
}

// checkTarIsNormalized checks that every tar header carries mtime and
// nothing else that depends on the host: no owner, no access or change
// time, and PAX records only for long or non-ASCII names.
func checkTarIsNormalized(t *testing.T, stream []byte, mtime time.Time) {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(stream))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if !h.ModTime.Equal(mtime) {
			t.Errorf("%s: mtime %v, want %v", h.Name, h.ModTime, mtime)
		}
		if !h.AccessTime.IsZero() || !h.ChangeTime.IsZero() {
			t.Errorf("%s: access time %v, change time %v; want neither", h.Name, h.AccessTime, h.ChangeTime)
		}
		if h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" {
			t.Errorf("%s: owner %d:%d (%q:%q), want 0:0 without names", h.Name, h.Uid, h.Gid, h.Uname, h.Gname)
		}
		for key := range h.PAXRecords {
			if key != "path" && key != "linkpath" {
				t.Errorf("%s: PAX record %q, want only path and linkpath", h.Name, key)
			}
		}
	}
}
