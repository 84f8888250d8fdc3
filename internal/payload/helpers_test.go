package payload

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/parkerpack/parker/internal/artifact"
)

// mixedData returns n deterministic bytes that alternate between compressible
// text and incompressible random runs.
func mixedData(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	words := []string{"parker ", "payload ", "chunk ", "stream ", "\n", "tar ", "xz ", "0123456789 "}
	out := make([]byte, 0, n)
	for len(out) < n {
		run := 1 + rng.IntN(8192)
		if rng.IntN(3) == 0 {
			for range run {
				out = append(out, byte(rng.Uint32()))
			}
		} else {
			for i := 0; i < run; {
				w := words[rng.IntN(len(words))]
				out = append(out, w...)
				i += len(w)
			}
		}
	}
	return out[:n]
}

// compress runs data through a Compressor, writing it in pieces of writeSize bytes.
func compress(t testing.TB, data []byte, opts CompressOptions, writeSize int) ([]byte, []artifact.Chunk) {
	t.Helper()
	var out bytes.Buffer
	c := NewCompressor(&out, opts)
	for p := data; len(p) > 0; {
		k := min(writeSize, len(p))
		if n, err := c.Write(p[:k]); err != nil || n != k {
			t.Fatalf("Compressor.Write() = %d, %v; want %d, nil", n, err, k)
		}
		p = p[k:]
	}
	chunks, err := c.Close()
	if err != nil {
		t.Fatalf("Compressor.Close() error: %v", err)
	}
	return out.Bytes(), chunks
}

// decompress reads all of a chunk reader over payload.
func decompress(payload []byte, chunks []artifact.Chunk, workers int) ([]byte, error) {
	r := NewChunkReader(bytes.NewReader(payload), chunks, workers)
	defer r.Close()
	return io.ReadAll(r)
}

// tarEntry is one entry for buildTar; content is written for regular files.
type tarEntry struct {
	hdr     tar.Header
	content string
}

func reg(name, content string, mode int64) tarEntry {
	return tarEntry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(content))}, content: content}
}

func dir(name string, mode int64) tarEntry {
	return tarEntry{hdr: tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: mode}}
}

func symlink(name, target string) tarEntry {
	return tarEntry{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777}}
}

func hardlink(name, target string) tarEntry {
	return tarEntry{hdr: tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: target, Mode: 0o644}}
}

// buildTar writes entries with archive/tar, which does not validate names.
func buildTar(t testing.TB, entries ...tarEntry) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range entries {
		h := e.hdr
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatalf("tar.Writer.WriteHeader(%q): %v", h.Name, err)
		}
		if _, err := io.WriteString(tw, e.content); err != nil {
			t.Fatalf("tar.Writer.Write(%q): %v", h.Name, err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// rawTarHeader returns a USTAR header block with a correct checksum, for
// entries that archive/tar refuses to write.
func rawTarHeader(name string, typeflag byte, size int64) []byte {
	b := make([]byte, 512)
	copy(b[0:100], name)
	copy(b[100:108], "0000644\x00")
	copy(b[108:116], "0000000\x00")
	copy(b[116:124], "0000000\x00")
	copy(b[124:136], fmt.Sprintf("%011o\x00", size))
	copy(b[136:148], "00000000000\x00")
	b[156] = typeflag
	copy(b[257:265], "ustar\x0000")
	copy(b[148:156], "        ")
	sum := 0
	for _, c := range b {
		sum += int(c)
	}
	copy(b[148:156], fmt.Sprintf("%06o\x00 ", sum))
	return b
}

// paxHeader returns a PAX extended header block carrying records given as
// key, value pairs, padded to whole blocks.
func paxHeader(kv ...string) []byte {
	var recs string
	for i := 0; i+1 < len(kv); i += 2 {
		rec := kv[i] + "=" + kv[i+1] + "\n"
		for n := len(rec) + 2; ; n++ {
			if r := fmt.Sprintf("%d %s", n, rec); len(r) == n {
				recs += r
				break
			}
		}
	}
	b := rawTarHeader("PaxHeaders.0/x", 'x', int64(len(recs)))
	b = append(b, recs...)
	return append(b, make([]byte, (512-len(recs)%512)%512)...)
}

// rawStream concatenates blocks and the end-of-archive marker.
func rawStream(blocks ...[]byte) []byte {
	var b bytes.Buffer
	for _, block := range blocks {
		b.Write(block)
	}
	b.Write(make([]byte, 1024))
	return b.Bytes()
}

// withField overwrites a field of a header block and fixes its checksum.
func withField(block []byte, off int, value string) []byte {
	b := bytes.Clone(block)
	copy(b[off:], value)
	return fixChecksum(b)
}

// corruptChecksum returns stream with one bit of its first header's checksum flipped.
func corruptChecksum(stream []byte) []byte {
	b := bytes.Clone(stream)
	b[148] ^= 0x01
	return b
}

func fixChecksum(b []byte) []byte {
	copy(b[148:156], "        ")
	sum := 0
	for _, c := range b[:512] {
		sum += int(c)
	}
	copy(b[148:156], fmt.Sprintf("%06o\x00 ", sum))
	return b
}

// paxNULName returns a tar stream whose PAX header gives a name with a NUL byte.
func paxNULName() []byte {
	rec := "path=a\x00b\n"
	rec = fmt.Sprintf("%d %s", len(rec)+3, rec)
	var b bytes.Buffer
	b.Write(rawTarHeader("PaxHeaders.0/a", 'x', int64(len(rec))))
	b.WriteString(rec)
	b.Write(make([]byte, 512-len(rec)))
	b.Write(rawTarHeader("a", '0', 0))
	b.Write(make([]byte, 1024))
	return b.Bytes()
}

// makeRemovable gives every directory below root owner rwx permission, so that
// t.TempDir's cleanup can remove trees that Unpack made read-only.
func makeRemovable(t testing.TB, root string) {
	t.Cleanup(func() {
		filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				os.Chmod(path, 0o700)
			}
			return nil
		})
	})
}
