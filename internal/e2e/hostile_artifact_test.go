package e2e

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ulikunitz/xz"

	"github.com/parkerpack/parker/internal/artifact"
	"github.com/parkerpack/parker/internal/payload"
)

// targetMarker is what the forged artifacts' target prints. Its absence
// from a run's output shows that the target never started.
const targetMarker = "TARGET-RAN"

const markerScript = "#!/bin/sh\necho " + targetMarker + "\n"

// forgeChunkSize is small so that a forged payload has several chunks.
const forgeChunkSize = 16 << 10

var (
	stubOnce  sync.Once
	stubBytes []byte
	stubErr   error
)

// runtimeStub returns the contents of the runtime stub built by TestMain.
func runtimeStub(t *testing.T) []byte {
	t.Helper()
	stubOnce.Do(func() { stubBytes, stubErr = os.ReadFile(runtimeBin) })
	if stubErr != nil {
		t.Fatal(stubErr)
	}
	return stubBytes
}

// tarItem is one entry for tarStream; content is written after the header.
type tarItem struct {
	hdr     tar.Header
	content string
}

func tarFile(name, content string, mode int64) tarItem {
	return tarItem{hdr: tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(content))}, content: content}
}

func tarDir(name string) tarItem {
	return tarItem{hdr: tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755}}
}

func tarSymlink(name, target string) tarItem {
	return tarItem{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777}}
}

func tarHardlink(name, target string) tarItem {
	return tarItem{hdr: tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: target, Mode: 0o644}}
}

// tarStream writes the target script "app" followed by items.
func tarStream(t *testing.T, items ...tarItem) []byte {
	t.Helper()
	return tarEntries(t, append([]tarItem{tarFile("app", markerScript, 0o755)}, items...)...)
}

// tarEntries writes items with archive/tar, which writes unsafe names and
// types without complaint.
func tarEntries(t *testing.T, items ...tarItem) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, it := range items {
		h := it.hdr
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatalf("tar.Writer.WriteHeader(%q): %v", h.Name, err)
		}
		if _, err := io.WriteString(tw, it.content); err != nil {
			t.Fatalf("tar.Writer.Write(%q): %v", h.Name, err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// rawTarBlock returns a USTAR header block with a valid checksum for what
// archive/tar refuses to write.
func rawTarBlock(name string, typeflag byte, size int64) []byte {
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

// tarStreamRaw returns the target script entry followed by raw blocks and
// the end-of-archive marker.
func tarStreamRaw(t *testing.T, blocks ...[]byte) []byte {
	t.Helper()
	s := tarStream(t)
	s = s[:len(s)-1024] // the end-of-archive marker tarStream wrote
	for _, b := range blocks {
		s = append(s, b...)
	}
	return append(s, make([]byte, 1024)...)
}

// paxRecordBlock returns a PAX extended header carrying records given as
// key, value pairs, padded to whole blocks, for the entry that follows it.
func paxRecordBlock(kv ...string) []byte {
	var recs string
	for i := 0; i+1 < len(kv); i += 2 {
		rec := kv[i] + "=" + kv[i+1] + "\n"
		for n := len(rec) + 2; ; n++ {
			if s := fmt.Sprintf("%d %s", n, rec); len(s) == n {
				recs += s
				break
			}
		}
	}
	b := rawTarBlock("PaxHeaders/x", tar.TypeXHeader, int64(len(recs)))
	b = append(b, recs...)
	return append(b, make([]byte, (512-len(recs)%512)%512)...)
}

// tarSummary counts the entries of a tar stream and the bytes of its
// regular files, stopping quietly at the first error, as a packer that
// believed the stream would have recorded them.
func tarSummary(stream []byte) (entries uint64, fileBytes int64) {
	tr := tar.NewReader(bytes.NewReader(stream))
	for {
		h, err := tr.Next()
		if err != nil {
			return entries, fileBytes
		}
		entries++
		if h.Typeflag == tar.TypeReg {
			fileBytes += h.Size
		}
	}
}

// forge packs stream as the payload of an artifact around the real runtime
// stub with the real Compressor and artifact.Writer. edit may change the
// header before Finish checks and writes it; Finish rejects an
// inconsistent header, so every forged artifact passes artifact.Open.
func forge(t *testing.T, stream []byte, edit func(*artifact.Header)) []byte {
	t.Helper()
	stub := runtimeStub(t)
	var out bytes.Buffer
	out.Write(stub)
	aw := artifact.NewWriter(&out, int64(len(stub)))
	comp := payload.NewCompressor(aw, payload.CompressOptions{ChunkSize: forgeChunkSize, Workers: 2})
	if _, err := comp.Write(stream); err != nil {
		t.Fatal(err)
	}
	chunks, err := comp.Close()
	if err != nil {
		t.Fatal(err)
	}
	entries, fileBytes := tarSummary(stream)
	h := &artifact.Header{
		ParkerVersion: "forged",
		Target:        "app",
		FileBytes:     min(fileBytes, int64(len(stream))),
		ChunkSize:     forgeChunkSize,
		Chunks:        chunks,
	}
	if edit != nil {
		edit(h)
	}
	if err := aw.Finish(h, uint64(len(stream)), entries); err != nil {
		t.Fatalf("forging artifact: %v", err)
	}
	return out.Bytes()
}

// trailerOf parses the trailer at the end of a forged artifact.
func trailerOf(t *testing.T, b []byte) *artifact.Trailer {
	t.Helper()
	tr, err := artifact.ParseTrailer(b[len(b)-artifact.TrailerSize:])
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// reseal replaces the header of a forged artifact (nil keeps it), fixes the
// trailer's header length and checksum, then lets edit change the trailer
// freely. Open's checks after the header checksum see the edited values.
func reseal(t *testing.T, good, header []byte, edit func(*artifact.Trailer)) []byte {
	t.Helper()
	tr := trailerOf(t, good)
	if header == nil {
		header = good[tr.HeaderOffset : tr.HeaderOffset+tr.HeaderLength]
	}
	front := good[:tr.HeaderOffset]
	tr.HeaderLength = uint64(len(header))
	tr.HeaderSHA256 = sha256.Sum256(header)
	if edit != nil {
		edit(tr)
	}
	return slices.Concat(front, header, tr.Marshal())
}

// headerJSON returns the header of a forged artifact after edit changed it.
func headerJSON(t *testing.T, good []byte, edit func(*artifact.Header)) []byte {
	t.Helper()
	tr := trailerOf(t, good)
	var h artifact.Header
	if err := json.Unmarshal(good[tr.HeaderOffset:tr.HeaderOffset+tr.HeaderLength], &h); err != nil {
		t.Fatal(err)
	}
	edit(&h)
	b, err := json.Marshal(&h)
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// flip returns a copy of b with bit 0 of the byte at off inverted.
func flip(b []byte, off int) []byte {
	c := bytes.Clone(b)
	c[off] ^= 0x01
	return c
}

// bomb returns an artifact of chunks identical chunks, each declaring
// declared unpacked bytes but decoding to a valid tar stream followed by
// zero padding, real bytes in all, compressed with an LZMA2 dictionary of
// dictCap bytes. The xz writer is used directly because the Compressor
// records the true sizes and would hold a whole chunk in memory.
func bomb(t *testing.T, chunks int, declared, real int64, dictCap int) []byte {
	t.Helper()
	var xzData bytes.Buffer
	w, err := xz.WriterConfig{DictCap: dictCap, CheckSum: xz.CRC64}.NewWriter(&xzData)
	if err != nil {
		t.Fatal(err)
	}
	stream := tarStream(t)
	if _, err := w.Write(stream); err != nil {
		t.Fatal(err)
	}
	zeros := make([]byte, 1<<20)
	for n := int64(len(stream)); n < real; n += int64(len(zeros)) {
		if _, err := w.Write(zeros[:min(int64(len(zeros)), real-n)]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	stub := runtimeStub(t)
	var out bytes.Buffer
	out.Write(stub)
	aw := artifact.NewWriter(&out, int64(len(stub)))
	h := &artifact.Header{
		ParkerVersion: "forged",
		Target:        "app",
		FileBytes:     int64(len(markerScript)),
		ChunkSize:     declared,
	}
	for i := range chunks {
		if _, err := aw.Write(xzData.Bytes()); err != nil {
			t.Fatal(err)
		}
		h.Chunks = append(h.Chunks, artifact.Chunk{Offset: int64(i * xzData.Len()), Length: int64(xzData.Len()), Unpacked: declared})
	}
	if err := aw.Finish(h, uint64(int64(chunks)*declared), 1); err != nil {
		t.Fatalf("forging bomb: %v", err)
	}
	return out.Bytes()
}

// hostileCase is an artifact that parker must refuse to run or read.
type hostileCase struct {
	name string
	// build returns the artifact; outside is a directory beside the one
	// the artifact runs in, which an escape would write into.
	build func(t *testing.T, outside string) []byte
	want  string // in the error line of the runtime and of --list, --verify and --extract
	// unrunnable marks an artifact the kernel cannot execute, such as one
	// cut inside the stub: only the absence of the target is checked.
	unrunnable bool
}

// validForged returns a well-formed forged artifact with a few entries, which
// the damage cases cut and flip.
func validForged(t *testing.T) []byte {
	t.Helper()
	return forge(t, tarStream(t,
		tarDir("data/"),
		tarFile("data/asset", strings.Repeat("hostile input ", 8000), 0o644),
	), nil)
}

func damageCases() []hostileCase {
	cut := func(at func(b []byte, tr *artifact.Trailer) int) func(*testing.T, string) []byte {
		return func(t *testing.T, _ string) []byte {
			b := validForged(t)
			return b[:at(b, trailerOf(t, b))]
		}
	}
	flipAt := func(at func(b []byte, tr *artifact.Trailer) int) func(*testing.T, string) []byte {
		return func(t *testing.T, _ string) []byte {
			b := validForged(t)
			return flip(b, at(b, trailerOf(t, b)))
		}
	}
	return []hostileCase{
		{name: "cut inside the stub", build: cut(func(b []byte, tr *artifact.Trailer) int { return int(tr.PayloadOffset) / 2 }),
			want: "not a parker artifact", unrunnable: true},
		{name: "cut at the end of the stub", build: cut(func(b []byte, tr *artifact.Trailer) int { return int(tr.PayloadOffset) }),
			want: "no parker payload"},
		{name: "cut in the payload's first xz header", build: cut(func(b []byte, tr *artifact.Trailer) int { return int(tr.PayloadOffset) + 5 }),
			want: "damaged"},
		{name: "cut in the middle of the payload", build: cut(func(b []byte, tr *artifact.Trailer) int { return int(tr.PayloadOffset + tr.PayloadLength/2) }),
			want: "damaged"},
		{name: "cut in the header", build: cut(func(b []byte, tr *artifact.Trailer) int { return int(tr.HeaderOffset) + 10 }),
			want: "damaged"},
		{name: "cut in the trailer", build: cut(func(b []byte, tr *artifact.Trailer) int { return len(b) - 64 }),
			want: "damaged"},
		{name: "cut by one byte", build: cut(func(b []byte, tr *artifact.Trailer) int { return len(b) - 1 }),
			want: "damaged"},
		{name: "one byte appended", build: func(t *testing.T, _ string) []byte { return append(validForged(t), 0) },
			want: "damaged"},
		{name: "copy of the trailer appended", build: func(t *testing.T, _ string) []byte {
			b := validForged(t)
			return append(b, b[len(b)-artifact.TrailerSize:]...)
		}, want: "damaged"},
		{name: "second artifact appended", build: func(t *testing.T, _ string) []byte {
			b := validForged(t)
			return append(b, b...)
		}, want: "damaged"},
		{name: "bit flipped in the first xz header", build: flipAt(func(b []byte, tr *artifact.Trailer) int { return int(tr.PayloadOffset) + 2 }),
			want: "checksum mismatch"},
		{name: "bit flipped in the middle of the payload", build: flipAt(func(b []byte, tr *artifact.Trailer) int { return int(tr.PayloadOffset + tr.PayloadLength/2) }),
			want: "checksum mismatch"},
		{name: "bit flipped in the header", build: flipAt(func(b []byte, tr *artifact.Trailer) int { return int(tr.HeaderOffset) + 20 }),
			want: "header checksum mismatch"},
		{name: "bit flipped in the version", build: flipAt(func(b []byte, tr *artifact.Trailer) int { return len(b) - artifact.TrailerSize + 1 }),
			want: "differs from header format"},
		{name: "bit flipped in the flags", build: flipAt(func(b []byte, tr *artifact.Trailer) int { return len(b) - artifact.TrailerSize + 4 }),
			want: "flags"},
		{name: "bit flipped in the payload offset", build: flipAt(func(b []byte, tr *artifact.Trailer) int { return len(b) - artifact.TrailerSize + 8 }),
			want: "damaged"},
		{name: "bit flipped in the payload checksum", build: flipAt(func(b []byte, tr *artifact.Trailer) int { return len(b) - artifact.TrailerSize + 60 }),
			want: "payload checksum mismatch"},
		{name: "bit flipped in the magic", build: flipAt(func(b []byte, tr *artifact.Trailer) int { return len(b) - 2 }),
			want: "damaged"},
	}
}

func trailerCases() []hostileCase {
	edit := func(e func(tr *artifact.Trailer, size uint64)) func(*testing.T, string) []byte {
		return func(t *testing.T, _ string) []byte {
			b := validForged(t)
			return reseal(t, b, nil, func(tr *artifact.Trailer) { e(tr, uint64(len(b))) })
		}
	}
	const maxInt64 = 1<<63 - 1
	return []hostileCase{
		{name: "payload offset past the end", build: edit(func(tr *artifact.Trailer, size uint64) { tr.PayloadOffset = size + 4096 }),
			want: "damaged"},
		{name: "payload length past the end", build: edit(func(tr *artifact.Trailer, size uint64) { tr.PayloadLength = size }),
			want: "damaged"},
		{name: "payload offset zero", build: edit(func(tr *artifact.Trailer, size uint64) {
			tr.PayloadLength += tr.PayloadOffset
			tr.PayloadOffset = 0
		}), want: "payload offset is 0"},
		{name: "payload overlapping the header", build: edit(func(tr *artifact.Trailer, size uint64) { tr.PayloadLength += 100 }),
			want: "does not end at header offset"},
		{name: "payload overlapping the stub", build: edit(func(tr *artifact.Trailer, size uint64) {
			tr.PayloadOffset -= 4096
			tr.PayloadLength += 4096
		}), want: "damaged"},
		{name: "header overlapping the trailer", build: edit(func(tr *artifact.Trailer, size uint64) { tr.HeaderLength += 64 }),
			want: "does not end at trailer offset"},
		{name: "offset and length overflowing int64", build: edit(func(tr *artifact.Trailer, size uint64) {
			tr.PayloadOffset, tr.PayloadLength = maxInt64, maxInt64
		}), want: "damaged"},
		{name: "offset and length wrapping uint64", build: edit(func(tr *artifact.Trailer, size uint64) {
			// The sum wraps around 2^64 to the header offset.
			tr.PayloadOffset = 1<<63 + 1000
			tr.PayloadLength = tr.HeaderOffset - 1000 + 1<<63
		}), want: "does not fit in int64"},
		{name: "header length above the maximum", build: edit(func(tr *artifact.Trailer, size uint64) {
			tr.HeaderLength = artifact.MaxHeaderLength + 1
			tr.HeaderOffset = size - artifact.TrailerSize - tr.HeaderLength
			tr.PayloadLength = tr.HeaderOffset - tr.PayloadOffset
		}), want: "damaged"},
		{name: "unpacked size overflowing int64", build: edit(func(tr *artifact.Trailer, size uint64) { tr.UnpackedSize = 1 << 63 }),
			want: "does not fit in int64"},
		{name: "format version 0", build: edit(func(tr *artifact.Trailer, size uint64) { tr.Version = 0 }),
			want: "version is 0"},
	}
}

func headerCases() []hostileCase {
	withHeader := func(header func(t *testing.T, good []byte) []byte, e func(*artifact.Trailer)) func(*testing.T, string) []byte {
		return func(t *testing.T, _ string) []byte {
			b := validForged(t)
			return reseal(t, b, header(t, b), e)
		}
	}
	raw := func(s string) func(*testing.T, []byte) []byte {
		return func(*testing.T, []byte) []byte { return []byte(s) }
	}
	edited := func(e func(*artifact.Header)) func(*testing.T, []byte) []byte {
		return func(t *testing.T, good []byte) []byte { return headerJSON(t, good, e) }
	}
	return []hostileCase{
		{name: "header not JSON", build: withHeader(raw("{\"format\": 1, not json"), nil), want: "invalid header JSON"},
		{name: "header a JSON array", build: withHeader(raw("[1, 2, 3]\n"), nil), want: "invalid header JSON"},
		{name: "header with trailing data", build: withHeader(raw("{\"format\":1}\n{}\n"), nil), want: "invalid header JSON"},
		{name: "header of NUL bytes", build: withHeader(raw(strings.Repeat("\x00", 300)), nil), want: "invalid header JSON"},
		{name: "future format version", build: withHeader(edited(func(h *artifact.Header) {
			h.Format = 2
			h.ParkerVersion = "9.8.7"
		}), func(tr *artifact.Trailer) { tr.Version = 2 }), want: "format version 2 needs parker 9.8.7 or newer"},
		{name: "chunks past the payload", build: withHeader(edited(func(h *artifact.Header) { h.Chunks[0].Length += 1 << 40 }), nil),
			want: "damaged"},
		{name: "chunk offsets overflowing", build: withHeader(edited(func(h *artifact.Header) {
			h.Chunks[0].Offset = 1<<63 - 1
		}), nil), want: "damaged"},
		{name: "chunk unpacked sizes overflowing", build: withHeader(edited(func(h *artifact.Header) {
			h.Chunks[0].Unpacked = 1<<63 - 1
		}), nil), want: "damaged"},
		{name: "target outside the payload", build: withHeader(edited(func(h *artifact.Header) { h.Target = "../../bin/sh" }), nil),
			want: "target"},
		{name: "absolute target", build: withHeader(edited(func(h *artifact.Header) { h.Target = "/bin/sh" }), nil),
			want: "target"},
		{name: "empty target", build: withHeader(edited(func(h *artifact.Header) { h.Target = "" }), nil),
			want: "target"},
		{name: "persist path outside", build: withHeader(edited(func(h *artifact.Header) { h.Persist = []string{"../.."} }), nil),
			want: "persist"},
	}
}

func payloadCases() []hostileCase {
	entries := func(items ...tarItem) func(*testing.T, string) []byte {
		return func(t *testing.T, _ string) []byte { return forge(t, tarStream(t, items...), nil) }
	}
	raw := func(blocks ...[]byte) func(*testing.T, string) []byte {
		return func(t *testing.T, _ string) []byte { return forge(t, tarStreamRaw(t, blocks...), nil) }
	}
	return []hostileCase{
		{name: "absolute name", build: func(t *testing.T, outside string) []byte {
			return forge(t, tarStream(t, tarFile(filepath.Join(outside, "pwned"), "x", 0o644)), nil)
		}, want: "absolute name"},
		{name: "dot-dot name", build: entries(tarFile("../../outside/pwned", "x", 0o644)), want: `contains ".."`},
		{name: "dot-dot inside a name", build: entries(tarDir("d/"), tarFile("d/../../../outside/pwned", "x", 0o644)),
			want: `contains ".."`},
		{name: "empty name", build: entries(tarFile("", "x", 0o644)), want: "empty name"},
		{name: "repeated name", build: entries(tarFile("twice", "1", 0o644), tarFile("twice", "2", 0o644)),
			want: "appears twice"},
		{name: "repeated target", build: entries(tarFile("app", "#!/bin/sh\necho other\n", 0o755)), want: "appears twice"},
		{name: "NUL in a PAX name", build: raw(paxRecordBlock("path", "a\x00b"), rawTarBlock("a", tar.TypeReg, 0)),
			want: "reading tar stream"},
		{name: "NUL in a PAX link target", build: raw(paxRecordBlock("linkpath", "x\x00y"), rawTarBlock("l", tar.TypeSymlink, 0)),
			want: "reading tar stream"},
		{name: "symlink out then a file through it", build: func(t *testing.T, outside string) []byte {
			return forge(t, tarStream(t, tarSymlink("esc", outside), tarFile("esc/pwned", "x", 0o644)), nil)
		}, want: "below symlink"},
		{name: "relative symlink out then a file through it",
			build: entries(tarSymlink("esc", "../../outside"), tarFile("esc/pwned", "x", 0o644)), want: "below symlink"},
		{name: "symlink out then a directory through it", build: func(t *testing.T, outside string) []byte {
			return forge(t, tarStream(t, tarSymlink("esc", outside), tarDir("esc/sub/")), nil)
		}, want: "below symlink"},
		{name: "symlink chain then a file through it", build: func(t *testing.T, outside string) []byte {
			return forge(t, tarStream(t, tarSymlink("a", outside), tarSymlink("b", "a"), tarFile("b/pwned", "x", 0o644)), nil)
		}, want: "below symlink"},
		{name: "file replacing a symlink", build: func(t *testing.T, outside string) []byte {
			return forge(t, tarStream(t, tarSymlink("esc", filepath.Join(outside, "canary")), tarFile("esc", "x", 0o644)), nil)
		}, want: "appears twice"},
		{name: "hard link to an absolute path", build: func(t *testing.T, outside string) []byte {
			return forge(t, tarStream(t, tarHardlink("h", filepath.Join(outside, "canary"))), nil)
		}, want: "hard link"},
		{name: "hard link by dot-dot", build: entries(tarHardlink("h", "../../outside/canary")), want: "hard link"},
		{name: "hard link through a symlink", build: func(t *testing.T, outside string) []byte {
			return forge(t, tarStream(t, tarSymlink("esc", outside), tarHardlink("h", "esc/canary")), nil)
		}, want: "hard link"},
		{name: "hard link to a later entry", build: entries(tarHardlink("h", "later"), tarFile("later", "x", 0o644)),
			want: "hard link"},
		{name: "character device", build: entries(tarItem{hdr: tar.Header{Typeflag: tar.TypeChar, Name: "null", Mode: 0o666, Devmajor: 1, Devminor: 3}}),
			want: "character device"},
		{name: "block device", build: entries(tarItem{hdr: tar.Header{Typeflag: tar.TypeBlock, Name: "sda", Mode: 0o660, Devmajor: 8}}),
			want: "block device"},
		{name: "FIFO", build: entries(tarItem{hdr: tar.Header{Typeflag: tar.TypeFifo, Name: "fifo", Mode: 0o644}}),
			want: "FIFO"},
		// Tar has no type for sockets; an unknown type flag stands for them.
		{name: "unknown type", build: raw(rawTarBlock("sock", 'Z', 0)), want: "unsupported type"},
		{name: "contiguous file type", build: raw(rawTarBlock("cont", tar.TypeCont, 0)), want: "unsupported type"},
		{name: "sparse file of 1 TiB", build: raw(
			paxRecordBlock("GNU.sparse.numblocks", "1", "GNU.sparse.offset", "1099511627775",
				"GNU.sparse.numbytes", "1", "GNU.sparse.map", "1099511627775,1", "GNU.sparse.size", "1099511627776"),
			rawTarBlock("sparse", tar.TypeReg, 1), make([]byte, 512)),
			want: "limit exceeded"},
		{name: "global PAX header", build: raw(rawTarBlock("g", tar.TypeXGlobalHeader, 0)),
			want: "PAX global header"},
	}
}

// malformedTarCases are payloads whose xz data decodes to the declared
// size but whose tar stream is broken.
func malformedTarCases() []hostileCase {
	stream := func(s func(t *testing.T) []byte) func(*testing.T, string) []byte {
		return func(t *testing.T, _ string) []byte { return forge(t, s(t), nil) }
	}
	return []hostileCase{
		{name: "not tar at all", build: stream(func(t *testing.T) []byte {
			return []byte(strings.Repeat("this is not a tar stream\n", 100))
		}), want: "reading tar stream"},
		{name: "bad header checksum", build: stream(func(t *testing.T) []byte {
			s := tarStream(t)
			s[148] ^= 0x01
			return s
		}), want: "reading tar stream"},
		{name: "size field not octal", build: stream(func(t *testing.T) []byte {
			return tarStreamRaw(t, corruptField(rawTarBlock("f", tar.TypeReg, 0), 124, "zzzzzzzzzzz\x00"))
		}), want: "reading tar stream"},
		{name: "content cut short", build: stream(func(t *testing.T) []byte {
			// Headers of app and big, app's content block, 4000 of big's 5000 bytes.
			s := tarStream(t, tarFile("big", strings.Repeat("x", 5000), 0o644))
			return s[:3*512+4000]
		}), want: "unexpected EOF"},
		{name: "data after the end-of-archive marker", build: stream(func(t *testing.T) []byte {
			return append(tarStream(t), "trailing junk"...)
		}), want: "data after the end of the tar archive"},
	}
}

// corruptField overwrites a field of a tar header block and fixes its checksum.
func corruptField(block []byte, off int, value string) []byte {
	b := bytes.Clone(block)
	copy(b[off:], value)
	copy(b[148:156], "        ")
	sum := 0
	for _, c := range b {
		sum += int(c)
	}
	copy(b[148:156], fmt.Sprintf("%06o\x00 ", sum))
	return b
}

// sizeCases are payloads that unpack to more than their header declares.
func sizeCases() []hostileCase {
	return []hostileCase{
		{name: "file bytes above the header's", build: func(t *testing.T, _ string) []byte {
			return forge(t, tarStream(t, tarFile("big", strings.Repeat("y", 100000), 0o644)), func(h *artifact.Header) {
				h.FileBytes = 1000
			})
		}, want: "limit exceeded"},
		{name: "entries above the header's", build: func(t *testing.T, _ string) []byte {
			b := forge(t, tarStream(t, tarFile("a", "", 0o644), tarFile("b", "", 0o644), tarFile("c", "", 0o644)), nil)
			return reseal(t, b, headerJSON(t, b, func(h *artifact.Header) { h.Entries = 2 }),
				func(tr *artifact.Trailer) { tr.EntryCount = 2 })
		}, want: "limit exceeded"},
		{name: "file bytes near the int64 maximum", build: func(t *testing.T, _ string) []byte {
			const huge = 1 << 61
			b := validForged(t)
			return reseal(t, b, headerJSON(t, b, func(h *artifact.Header) {
				h.ChunkSize = 2 * huge
				h.Chunks[len(h.Chunks)-1].Unpacked += huge
				h.UnpackedSize += huge
				h.FileBytes = h.UnpackedSize
			}), func(tr *artifact.Trailer) { tr.UnpackedSize += huge })
		}, want: "damaged"},
		{name: "chunk decoding to more than declared", build: func(t *testing.T, _ string) []byte {
			return bomb(t, 1, 8<<10, 1<<20, 1<<20)
		}, want: "decodes to more than the recorded"},
		{name: "chunk decoding to less than declared", build: func(t *testing.T, _ string) []byte {
			return bomb(t, 1, 2<<20, 1<<20, 1<<20)
		}, want: "want"},
	}
}

func TestHostileArtifacts(t *testing.T) {
	groups := []struct {
		name  string
		cases []hostileCase
	}{
		{"damage", damageCases()},
		{"trailer", trailerCases()},
		{"header", headerCases()},
		{"payload", payloadCases()},
		{"malformed tar", malformedTarCases()},
		{"sizes", sizeCases()},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.cases {
				t.Run(tc.name, func(t *testing.T) { checkHostile(t, tc) })
			}
		})
	}
}

// hostileDirs is the layout each hostile case runs in: the artifact alone
// in run/, a canary file in outside/, and extract/ for --extract.
type hostileDirs struct {
	base, run, outside, extract, artifact string
}

func newHostileDirs(t *testing.T) hostileDirs {
	t.Helper()
	base := workdir(t)
	d := hostileDirs{
		base:    base,
		run:     filepath.Join(base, "run"),
		outside: filepath.Join(base, "outside"),
		extract: filepath.Join(base, "extract"),
	}
	d.artifact = filepath.Join(d.run, "app-c")
	for _, dir := range []string{d.run, d.outside} {
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(d.outside, "canary"), "canary\n", 0o644)
	return d
}

// checkUntouched verifies that nothing was written beside the artifact or
// into the outside directory, and that the canary kept its only link.
func (d hostileDirs) checkUntouched(t *testing.T) {
	t.Helper()
	if names := dirNames(t, d.run); !slices.Equal(names, []string{"app-c"}) {
		t.Errorf("directory of the artifact holds %q, want only app-c", names)
	}
	if names := dirNames(t, d.outside); !slices.Equal(names, []string{"canary"}) {
		t.Errorf("outside directory holds %q, want only canary", names)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(d.outside, "canary"), &st); err != nil || st.Nlink != 1 {
		t.Errorf("canary has %d links (error %v), want 1", st.Nlink, err)
	}
	if b, err := os.ReadFile(filepath.Join(d.outside, "canary")); err != nil || string(b) != "canary\n" {
		t.Errorf("canary = %q (error %v), want it unchanged", b, err)
	}
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	return names
}

// checkErrorLine verifies that stderr is one line starting with "parker: "
// that names the artifact and contains want.
func checkErrorLine(t *testing.T, command, stderr, path, want string) {
	t.Helper()
	line, rest, _ := strings.Cut(stderr, "\n")
	t.Logf("%s: %s", command, line)
	if rest != "" || !strings.HasPrefix(line, "parker: ") {
		t.Errorf("%s stderr = %q, want one line starting with \"parker: \"", command, stderr)
		return
	}
	if !strings.Contains(line, path) {
		t.Errorf("%s error %q does not name the artifact %s", command, line, path)
	}
	if !strings.Contains(line, want) {
		t.Errorf("%s error %q does not contain %q", command, line, want)
	}
}

func checkHostile(t *testing.T, tc hostileCase) {
	d := newHostileDirs(t)
	writeFile(t, d.artifact, string(tc.build(t, d.outside)), 0o755)

	t.Run("run", func(t *testing.T) {
		requireRoot(t)
		tok := token(t)
		res := runArtifact(t, d.run, "./app-c", tok, "")
		if strings.Contains(res.stdout, targetMarker) {
			t.Errorf("the target ran: stdout %q", res.stdout)
		}
		if !tc.unrunnable {
			if res.status != 125 {
				t.Errorf("exit status = %d, want 125 (stderr %q)", res.status, res.stderr)
			}
			checkErrorLine(t, "runtime", res.stderr, d.artifact, tc.want)
		}
		d.checkUntouched(t)
		assertNoLeftovers(t, tok, res.pid)
	})
	for _, mode := range []string{"--list", "--verify", "--extract"} {
		t.Run(mode, func(t *testing.T) {
			args := []string{mode, d.artifact}
			if mode == "--extract" {
				args = append(args, d.extract)
			}
			stdout, stderr, err := parker(t, d.base, args...)
			if code := exitCode(err); code != 1 {
				t.Errorf("parker %s: exit status %d, want 1 (stdout %q, stderr %q)", mode, code, stdout, stderr)
			}
			checkErrorLine(t, "parker "+mode, stderr, d.artifact, tc.want)
			d.checkUntouched(t)
		})
	}
}

// exitCode returns the exit status in err from exec.Cmd.Run, 0 for nil
// and -1 for a command that did not run.
func exitCode(err error) int {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	}
	return -1
}

// maxRSSProbe runs a command and writes the maximum resident set size that
// wait4 reports for it, in KiB, to the file named by its first argument.
// Go starts commands with vfork and exec, and such a child inherits the
// maximum of the process that started it, so the test's own memory would
// count. The probe starts the command with fork from its own small image.
const maxRSSProbe = `#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
int main(int argc, char **argv) {
	pid_t pid = fork();
	if (pid == 0) { execv(argv[2], argv + 2); _exit(127); }
	int status;
	struct rusage ru;
	if (wait4(pid, &status, 0, &ru) < 0) return 200;
	FILE *f = fopen(argv[1], "w");
	if (!f) return 201;
	fprintf(f, "%ld\n", ru.ru_maxrss);
	fclose(f);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
`

// runMeasured runs argv in dir through the probe built at probe and returns
// the result and the maximum resident set size in bytes of argv[0] and the
// children it waited for, which for the runtime includes its init.
func runMeasured(t *testing.T, probe, dir, tok string, argv ...string) (runResult, int64) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "maxrss")
	cmd := exec.Command(probe, append([]string{out}, argv...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), tok, "PARKER_RUNTIME="+runtimeBin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("running %s: %v", argv[0], err)
	}
	res := runResult{stdout: stdout.String(), stderr: stderr.String(), pid: cmd.Process.Pid,
		status: cmd.ProcessState.ExitCode()}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("reading the max RSS of %s: %v (exit status %d)", argv[0], err, res.status)
	}
	var kib int64
	if _, err := fmt.Sscan(string(b), &kib); err != nil {
		t.Fatalf("parsing max RSS %q: %v", b, err)
	}
	return res, kib << 10
}

func TestXZBombStopsAtDeclaredSize(t *testing.T) {
	const maxRSS = 100 << 20
	tests := []struct {
		name    string
		chunks  int
		dictCap int
	}{
		{"one chunk with an 8 MiB dictionary", 1, 8 << 20},
		{"three chunks with 64 MiB dictionaries", 3, payload.MaxDictCap},
	}
	probe := filepath.Join(t.TempDir(), "maxrss")
	compileC(t, probe, maxRSSProbe)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Each chunk declares 1 MiB and decodes to 128 MiB.
			d := newHostileDirs(t)
			writeFile(t, d.artifact, string(bomb(t, tc.chunks, 1<<20, 128<<20, tc.dictCap)), 0o755)
			const want = "decodes to more than the recorded 1048576 bytes"

			t.Run("run", func(t *testing.T) {
				requireRoot(t)
				tok := token(t)
				res, rss := runMeasured(t, probe, d.run, tok, "./app-c")
				if strings.Contains(res.stdout, targetMarker) {
					t.Errorf("the target ran: stdout %q", res.stdout)
				}
				if res.status != 125 {
					t.Errorf("exit status = %d, want 125 (stderr %q)", res.status, res.stderr)
				}
				checkErrorLine(t, "runtime", res.stderr, d.artifact, want)
				if rss > maxRSS {
					t.Errorf("runtime max RSS = %d MiB, want below %d MiB", rss>>20, maxRSS>>20)
				}
				t.Logf("runtime max RSS %d MiB", rss>>20)
				d.checkUntouched(t)
				assertNoLeftovers(t, tok, res.pid)
			})
			for _, mode := range []string{"--verify", "--extract"} {
				t.Run(mode, func(t *testing.T) {
					args := []string{parkerBin, mode, d.artifact}
					if mode == "--extract" {
						args = append(args, d.extract)
					}
					res, rss := runMeasured(t, probe, d.base, token(t), args...)
					if res.status != 1 {
						t.Errorf("parker %s: exit status %d, want 1 (stderr %q)", mode, res.status, res.stderr)
					}
					checkErrorLine(t, "parker "+mode, res.stderr, d.artifact, want)
					if rss > maxRSS {
						t.Errorf("parker %s max RSS = %d MiB, want below %d MiB", mode, rss>>20, maxRSS>>20)
					}
					t.Logf("parker %s max RSS %d MiB", mode, rss>>20)
					d.checkUntouched(t)
				})
			}
		})
	}
}

// setuidProbe prints the modes of itself, of a setuid file and of a
// setgid, sticky directory beside it, and the mount options of the
// directory it runs in.
const setuidProbe = `#!/bin/sh
dir=$(dirname "$0")
stat -c 'app=%a' "$0"
stat -c 'tool=%a' "$dir/tool"
stat -c 'shared=%a' "$dir/shared"
awk -v d="$dir" '$5 == d { opts = $6 } END { print "mount=" opts }' /proc/self/mountinfo
`

func TestSetuidBitsDropped(t *testing.T) {
	requireRoot(t)
	d := newHostileDirs(t)
	stream := tarEntries(t,
		tarFile("app", setuidProbe, 0o6755),
		tarItem{hdr: tar.Header{Typeflag: tar.TypeDir, Name: "shared/", Mode: 0o3777}},
		tarFile("tool", "#!/bin/sh\n", 0o4755),
	)
	writeFile(t, d.artifact, string(forge(t, stream, nil)), 0o755)
	tok := token(t)
	res := runArtifact(t, d.run, "./app-c", tok, "")
	if res.status != 0 {
		t.Fatalf("exit status = %d, want 0 (stderr %q)", res.status, res.stderr)
	}
	for _, want := range []string{"app=755\n", "tool=755\n", "shared=777\n"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("stdout = %q, want it to contain %q", res.stdout, want)
		}
	}
	_, opts, _ := strings.Cut(res.stdout, "mount=")
	if !slices.Contains(strings.Split(strings.TrimSpace(opts), ","), "nosuid") {
		t.Errorf("mount options of the artifact's directory = %q, want nosuid", strings.TrimSpace(opts))
	}
	d.checkUntouched(t)
	assertNoLeftovers(t, tok, res.pid)
}

func TestInspectNonArtifacts(t *testing.T) {
	dir := workdir(t)
	empty := filepath.Join(dir, "empty")
	writeFile(t, empty, "", 0o755)
	text := filepath.Join(dir, "notes.txt")
	writeFile(t, text, "just text\n", 0o644)
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	elf, err := exec.LookPath("true")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path, want string
	}{
		{"zero-length file", empty, "not a parker artifact"},
		{"text file", text, "not a parker artifact"},
		{"other executable", elf, "not a parker artifact"},
		{"runtime stub", runtimeBin, "no parker payload"},
		{"parker itself", parkerBin, "no parker payload"},
		{"directory", dir, "a directory"},
		{"FIFO", fifo, "FIFO"},
		{"missing file", filepath.Join(dir, "missing"), "no such file or directory"},
	}
	for _, tc := range tests {
		for _, mode := range []string{"--list", "--verify", "--extract"} {
			t.Run(tc.name+" "+mode, func(t *testing.T) {
				args := []string{mode, tc.path}
				if mode == "--extract" {
					args = append(args, filepath.Join(t.TempDir(), "x"))
				}
				done := make(chan struct{})
				var stdout, stderr string
				var err error
				go func() {
					defer close(done)
					stdout, stderr, err = parker(t, dir, args...)
				}()
				select {
				case <-done:
				case <-time.After(10 * time.Second):
					t.Fatalf("parker %s %s still running after 10s", mode, tc.path)
				}
				if code := exitCode(err); code != 1 {
					t.Errorf("parker %s: exit status %d, want 1 (stdout %q, stderr %q)", mode, code, stdout, stderr)
				}
				checkErrorLine(t, "parker "+mode, stderr, tc.path, tc.want)
				if n := strings.Count(stderr, tc.path); n != 1 {
					t.Errorf("parker %s error %q names the file %d times, want once", mode, stderr, n)
				}
			})
		}
	}
}
