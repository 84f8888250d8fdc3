package artifact

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
)

func TestOpenRoundTrip(t *testing.T) {
	b := validArtifact(t)
	a, err := openBytes(b)
	if err != nil {
		t.Fatalf("Open() error: %v", err)
	}
	want := testHeader()
	if !reflect.DeepEqual(a.Header, want) {
		t.Errorf("Open().Header = %+v, want %+v", a.Header, want)
	}
	if a.Size != int64(len(b)) {
		t.Errorf("Open().Size = %d, want %d", a.Size, len(b))
	}
	if got := a.StubSize(); got != int64(len(testStub)) {
		t.Errorf("StubSize() = %d, want %d", got, len(testStub))
	}
	if a.Trailer.UnpackedSize != 20 || a.Trailer.EntryCount != 3 {
		t.Errorf("Open().Trailer unpacked/entries = %d/%d, want 20/3", a.Trailer.UnpackedSize, a.Trailer.EntryCount)
	}
	got, err := io.ReadAll(a.Payload())
	if err != nil {
		t.Fatalf("reading Payload(): %v", err)
	}
	if !bytes.Equal(got, testPayload) {
		t.Errorf("Payload() = %q, want %q", got, testPayload)
	}
	if err := a.VerifyPayload(); err != nil {
		t.Errorf("VerifyPayload() error: %v", err)
	}
}

func TestOpenFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app-c")
	if err := os.WriteFile(path, validArtifact(t), 0o755); err != nil {
		t.Fatal(err)
	}
	a, f, err := OpenFile(path)
	if err != nil {
		t.Fatalf("OpenFile() error: %v", err)
	}
	defer f.Close()
	if err := a.VerifyPayload(); err != nil {
		t.Errorf("VerifyPayload() error: %v", err)
	}

	notArtifact := filepath.Join(t.TempDir(), "plain")
	if err := os.WriteFile(notArtifact, []byte("just text\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := OpenFile(notArtifact); !errors.Is(err, ErrNotArtifact) {
		t.Errorf("OpenFile(plain text) error = %v, want ErrNotArtifact", err)
	}
}

func TestOpenEmptyPayload(t *testing.T) {
	h := testHeader()
	h.Chunks, h.UnpackedSize, h.Entries, h.FileBytes = nil, 0, 0, 0
	b := assemble(testStub, nil, mustJSON(t, h), 0, 0, nil)
	a, err := openBytes(b)
	if err != nil {
		t.Fatalf("Open(empty payload) error: %v", err)
	}
	if err := a.VerifyPayload(); err != nil {
		t.Errorf("VerifyPayload() error: %v", err)
	}
}

type openCase struct {
	name string
	in   []byte
	want error
}

// openRejectCases returns artifacts that Open must reject, one per validation rule.
func openRejectCases(t testing.TB) []openCase {
	good := mustJSON(t, testHeader())
	withHeader := func(edit func(h *Header)) []byte {
		h := testHeader()
		edit(&h)
		return assemble(testStub, testPayload, mustJSON(t, h), 20, 3, nil)
	}
	withTrailer := func(edit func(tr *Trailer)) []byte {
		return assemble(testStub, testPayload, good, 20, 3, edit)
	}
	withChunks := func(chunks ...Chunk) []byte {
		return withHeader(func(h *Header) { h.Chunks = chunks })
	}
	flip := func(b []byte, i int) []byte {
		b = bytes.Clone(b)
		b[i] ^= 0x10
		return b
	}
	valid := validArtifact(t)
	headerStart := len(testStub) + len(testPayload)
	bare := tinyELF(append(append([]byte("runtime "), Magic[:]...), " data"...))

	return []openCase{
		{"empty file", nil, ErrNotArtifact},
		{"bare executable", bare, ErrNotArtifact},
		{"bare executable cut", bare[:len(bare)-1], ErrDamaged},
		{"bare executable extended", append(bytes.Clone(bare), 0), ErrDamaged},
		{"plain text", []byte("hello, world\n"), ErrNotArtifact},
		{"bad magic", flip(valid, len(valid)-1), ErrDamaged}, // the stub still holds the magic
		{"appended byte", append(bytes.Clone(valid), 0), ErrDamaged},
		{"appended trailer size", append(bytes.Clone(valid), make([]byte, TrailerSize)...), ErrDamaged},
		{"appended copy", append(bytes.Clone(valid), valid...), ErrDamaged},
		{"header checksum", flip(valid, headerStart+3), ErrDamaged},
		{"header sha field", flip(valid, len(valid)-TrailerSize+offHeaderSHA256), ErrDamaged},
		{"payload offset zero", withTrailer(func(tr *Trailer) { tr.PayloadOffset = 0 }), ErrDamaged},
		{"payload offset off by one", withTrailer(func(tr *Trailer) { tr.PayloadOffset++ }), ErrDamaged},
		{"payload longer", withTrailer(func(tr *Trailer) { tr.PayloadLength++ }), ErrDamaged},
		{"header offset past end", withTrailer(func(tr *Trailer) { tr.HeaderOffset = 1 << 40 }), ErrDamaged},
		{"header length short", withTrailer(func(tr *Trailer) { tr.HeaderLength-- }), ErrDamaged},
		{"header length zero", assemble(testStub, testPayload, nil, 20, 3, nil), ErrDamaged},
		{"overflow payload end", withTrailer(func(tr *Trailer) {
			tr.PayloadOffset = maxInt64
			tr.PayloadLength = maxInt64
		}), ErrDamaged},
		{"overflow wraps to header", withTrailer(func(tr *Trailer) {
			// PayloadOffset + PayloadLength equals HeaderOffset only modulo 2^64.
			tr.PayloadOffset += 1 << 63
			tr.PayloadLength = tr.HeaderOffset - tr.PayloadOffset
		}), ErrDamaged},
		{"unpacked size in trailer", withTrailer(func(tr *Trailer) { tr.UnpackedSize = 21 }), ErrDamaged},
		{"entry count in trailer", withTrailer(func(tr *Trailer) { tr.EntryCount = 4 }), ErrDamaged},
		{"flags", withTrailer(func(tr *Trailer) { tr.Flags = 1 }), ErrDamaged},
		{"invalid JSON", assemble(testStub, testPayload, []byte("{not json"), 20, 3, nil), ErrDamaged},
		{"JSON array", assemble(testStub, testPayload, []byte("[]"), 20, 3, nil), ErrDamaged},
		{"JSON trailing data", assemble(testStub, testPayload, append(bytes.Clone(good), "{}"...), 20, 3, nil), ErrDamaged},
		{"header format 2", withHeader(func(h *Header) { h.Format = 2 }), ErrDamaged},
		{"header format 0", withHeader(func(h *Header) { h.Format = 0 }), ErrDamaged},
		{"header entries", withHeader(func(h *Header) { h.Entries = 2 }), ErrDamaged},
		{"header unpacked size", withHeader(func(h *Header) { h.UnpackedSize = 19 }), ErrDamaged},
		{"file bytes above unpacked", withHeader(func(h *Header) { h.FileBytes = 21 }), ErrDamaged},
		{"negative file bytes", withHeader(func(h *Header) { h.FileBytes = -1 }), ErrDamaged},
		{"filters", withHeader(func(h *Header) { h.Filters = []string{"bcj"} }), ErrDamaged},
		{"negative memory limit", withHeader(func(h *Header) { h.Limits.MemoryBytes = -1 }), ErrDamaged},
		{"negative cpus", withHeader(func(h *Header) { h.Limits.CPUs = -1 }), ErrDamaged},
		{"chunk size zero", withHeader(func(h *Header) { h.ChunkSize = 0 }), ErrDamaged},
		{"chunk size negative", withHeader(func(h *Header) { h.ChunkSize = -1 }), ErrDamaged},
		{"no chunks", withChunks(), ErrDamaged},
		{"chunk gap", withChunks(Chunk{0, 9, 16}, Chunk{10, 6, 4}), ErrDamaged},
		{"chunk overlap", withChunks(Chunk{0, 10, 16}, Chunk{9, 7, 4}), ErrDamaged},
		{"chunk not at zero", withChunks(Chunk{1, 9, 16}, Chunk{10, 6, 4}), ErrDamaged},
		{"chunks out of order", withChunks(Chunk{10, 6, 4}, Chunk{0, 10, 16}), ErrDamaged},
		{"chunk past payload", withChunks(Chunk{0, 10, 16}, Chunk{10, 7, 4}), ErrDamaged},
		{"chunks short of payload", withChunks(Chunk{0, 10, 16}, Chunk{10, 5, 4}), ErrDamaged},
		{"zero length chunk", withChunks(Chunk{0, 10, 16}, Chunk{10, 0, 0}, Chunk{10, 6, 4}), ErrDamaged},
		{"negative length chunk", withChunks(Chunk{0, 17, 16}, Chunk{17, -1, 4}), ErrDamaged},
		{"zero unpacked chunk", withChunks(Chunk{0, 10, 20}, Chunk{10, 6, 0}), ErrDamaged},
		{"negative unpacked chunk", withChunks(Chunk{0, 10, 24}, Chunk{10, 6, -4}), ErrDamaged},
		{"unpacked sum short", withChunks(Chunk{0, 10, 16}, Chunk{10, 6, 3}), ErrDamaged},
		{"unpacked sum long", withChunks(Chunk{0, 10, 16}, Chunk{10, 6, 5}), ErrDamaged},
		{"chunk above chunk size", withChunks(Chunk{0, 10, 17}, Chunk{10, 6, 3}), ErrDamaged},
		{"chunk length overflow", withChunks(Chunk{0, 10, 16}, Chunk{10, maxInt64, 4}), ErrDamaged},
		{"chunk unpacked overflow", withChunks(Chunk{0, 10, 16}, Chunk{10, 6, maxInt64}), ErrDamaged},
		{"target empty", withHeader(func(h *Header) { h.Target = "" }), ErrDamaged},
		{"target absolute", withHeader(func(h *Header) { h.Target = "/bin/sh" }), ErrDamaged},
		{"target dotdot", withHeader(func(h *Header) { h.Target = "../../bin/sh" }), ErrDamaged},
		{"target dot element", withHeader(func(h *Header) { h.Target = "./bin/app" }), ErrDamaged},
		{"target trailing slash", withHeader(func(h *Header) { h.Target = "bin/" }), ErrDamaged},
		{"target NUL", withHeader(func(h *Header) { h.Target = "bin/app\x00" }), ErrDamaged},
		{"persist dotdot", withHeader(func(h *Header) { h.Persist = []string{"data", "../data"} }), ErrDamaged},
		{"persist absolute", withHeader(func(h *Header) { h.Persist = []string{"/etc"} }), ErrDamaged},
		{"version flipped", assemble(testStub, testPayload, good, 20, 3, func(tr *Trailer) { tr.Version = 3 }), ErrDamaged},
		{"future version", assemble(testStub, testPayload, good, 20, 3, func(tr *Trailer) { tr.Version = 2 }), ErrDamaged},
	}
}

func TestOpenRejects(t *testing.T) {
	for _, tc := range openRejectCases(t) {
		if tc.want == nil {
			continue // covered by TestOpenFutureVersion
		}
		t.Run(tc.name, func(t *testing.T) {
			_, err := openBytes(tc.in)
			if !errors.Is(err, tc.want) {
				t.Errorf("Open() error = %v, want %v", err, tc.want)
			}
			if tc.want == ErrNotArtifact && errors.Is(err, ErrDamaged) {
				t.Errorf("Open() error = %v, want it not to match ErrDamaged", err)
			}
		})
	}
}

func TestOpenFutureVersion(t *testing.T) {
	h := testHeader()
	h.Format = 7
	h.ParkerVersion = "7.0.1"
	hb := mustJSON(t, h)
	tests := []struct {
		name          string
		in            []byte
		parkerVersion string
	}{
		{"header readable", assemble(testStub, testPayload, hb, 20, 3, func(tr *Trailer) { tr.Version = 7 }), "7.0.1"},
		{"header checksum differs", assemble(testStub, testPayload, hb, 20, 3, func(tr *Trailer) {
			tr.Version = 7
			tr.HeaderSHA256[0] ^= 1
		}), ""},
		{"header elsewhere", assemble(testStub, testPayload, hb, 20, 3, func(tr *Trailer) {
			tr.Version = 7
			tr.HeaderOffset, tr.HeaderLength = 0, 0
		}), ""},
		{"header not JSON", assemble(testStub, testPayload, []byte("format 7"), 20, 3, func(tr *Trailer) { tr.Version = 7 }), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := openBytes(tc.in)
			var ve *VersionError
			if !errors.As(err, &ve) || ve.Version != 7 {
				t.Fatalf("Open(version 7) error = %v, want *VersionError{7}", err)
			}
			if ve.ParkerVersion != tc.parkerVersion {
				t.Errorf("Open(version 7) VersionError.ParkerVersion = %q, want %q", ve.ParkerVersion, tc.parkerVersion)
			}
			if errors.Is(err, ErrDamaged) {
				t.Errorf("Open(version 7) error matches ErrDamaged, want not")
			}
		})
	}
}

// TestOpenBareExecutable opens this test binary, an ELF file that contains
// the magic in its data like the runtime stub does.
func TestOpenBareExecutable(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, Magic[:]) {
		t.Fatalf("%s does not contain the magic", exe)
	}
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"whole", b, ErrNotArtifact},
		{"cut by one byte", b[:len(b)-1], ErrDamaged},
		{"cut after the magic", b[:bytes.Index(b, Magic[:])+len(Magic)+1], ErrDamaged},
		{"byte appended", append(bytes.Clone(b), 0), ErrDamaged},
		{"payload appended", append(bytes.Clone(b), validArtifact(t)[len(testStub):]...), ErrDamaged},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := openBytes(tc.in)
			if !errors.Is(err, tc.want) {
				t.Errorf("Open(%s test binary) error = %v, want %v", tc.name, err, tc.want)
			}
		})
	}
}

func TestOpenFileErrors(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path string
		want       error
	}{
		{"missing", filepath.Join(dir, "missing"), fs.ErrNotExist},
		{"directory", dir, ErrNotArtifact},
		{"FIFO", fifo, ErrNotArtifact},
		{"empty", empty, ErrNotArtifact},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := OpenFile(tc.path)
			if !errors.Is(err, tc.want) {
				t.Errorf("OpenFile(%s) error = %v, want %v", tc.name, err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), tc.path) {
				t.Errorf("OpenFile(%s) error = %q, want it without the path", tc.name, err)
			}
		})
	}
}

func TestOpenNoStubMagicTruncated(t *testing.T) {
	b := assemble([]byte("stub"), testPayload, mustJSON(t, testHeader()), 20, 3, nil)
	_, err := openBytes(b[:len(b)-1])
	if !errors.Is(err, ErrNotArtifact) {
		t.Errorf("Open(truncated, stub without magic) error = %v, want ErrNotArtifact", err)
	}
}

func TestOpenTruncatedEverywhere(t *testing.T) {
	b := validArtifact(t)
	stubMagicEnd := bytes.Index(testStub, Magic[:]) + len(Magic)
	for n := range len(b) {
		_, err := openBytes(b[:n])
		want := ErrDamaged
		if n < stubMagicEnd {
			want = ErrNotArtifact
		}
		if !errors.Is(err, want) {
			t.Errorf("Open(first %d of %d bytes) error = %v, want %v", n, len(b), err, want)
		}
	}
}

func TestOpenBitFlips(t *testing.T) {
	b := validArtifact(t)
	for i := len(testStub); i < len(b); i++ {
		for bit := range 8 {
			c := bytes.Clone(b)
			c[i] ^= 1 << bit
			a, err := openBytes(c)
			if err == nil {
				err = a.VerifyPayload()
			}
			if err == nil {
				t.Fatalf("Open+VerifyPayload with bit %d of byte %d flipped: no error", bit, i)
			}
			var ve *VersionError
			if !errors.Is(err, ErrDamaged) && !errors.Is(err, ErrNotArtifact) && !errors.As(err, &ve) {
				t.Errorf("bit %d of byte %d flipped: error = %v, want ErrDamaged, ErrNotArtifact or *VersionError", bit, i, err)
			}
		}
	}
}

func TestVerifyPayloadMismatch(t *testing.T) {
	b := validArtifact(t)
	b[len(testStub)+2] ^= 1
	a, err := openBytes(b)
	if err != nil {
		t.Fatalf("Open() error: %v (the payload is not hashed by Open)", err)
	}
	if err := a.VerifyPayload(); !errors.Is(err, ErrDamaged) {
		t.Errorf("VerifyPayload() error = %v, want ErrDamaged", err)
	}
}

// shrinkingReader simulates a file that became shorter after its size was taken.
type shrinkingReader struct {
	b    []byte
	size int
}

func (s *shrinkingReader) ReadAt(p []byte, off int64) (int, error) {
	return bytes.NewReader(s.b[:s.size]).ReadAt(p, off)
}

func TestVerifyPayloadFileShrank(t *testing.T) {
	b := validArtifact(t)
	r := &shrinkingReader{b: b, size: len(b)}
	a, err := Open(r, int64(len(b)))
	if err != nil {
		t.Fatalf("Open() error: %v", err)
	}
	r.size = len(testStub) + 3
	if err := a.VerifyPayload(); !errors.Is(err, ErrDamaged) {
		t.Errorf("VerifyPayload() after shrinking error = %v, want ErrDamaged", err)
	}
}

func TestOpenHeaderTooLarge(t *testing.T) {
	// A sparse file whose trailer claims a 17 MiB header of zeros.
	path := filepath.Join(t.TempDir(), "big")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	headerLength := uint64(MaxHeaderLength + 1<<20)
	stub := uint64(len(testStub))
	tr := Trailer{Version: 1, PayloadOffset: stub, HeaderOffset: stub, HeaderLength: headerLength}
	if _, err := f.Write(testStub); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(tr.Marshal(), int64(stub+headerLength)); err != nil {
		t.Fatal(err)
	}
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(f, fi.Size()); !errors.Is(err, ErrDamaged) {
		t.Errorf("Open(header of %d bytes) error = %v, want ErrDamaged", headerLength, err)
	}
}

func TestOpenHeaderAtLimit(t *testing.T) {
	// A header padded with JSON whitespace to exactly MaxHeaderLength is accepted.
	hb := mustJSON(t, testHeader())
	hb = append(hb, bytes.Repeat([]byte{' '}, MaxHeaderLength-len(hb))...)
	b := assemble(testStub, testPayload, hb, 20, 3, nil)
	if _, err := openBytes(b); err != nil {
		t.Errorf("Open(header of MaxHeaderLength bytes) error: %v", err)
	}
}

func TestOpenChecksHeaderBeforeParsing(t *testing.T) {
	b := validArtifact(t)
	tr, err := ParseTrailer(b[len(b)-TrailerSize:])
	if err != nil {
		t.Fatal(err)
	}
	hb := b[tr.HeaderOffset : tr.HeaderOffset+tr.HeaderLength]
	if sha256.Sum256(hb) != tr.HeaderSHA256 {
		t.Fatal("Writer wrote a header checksum that does not match the header")
	}
	if binary.LittleEndian.Uint64(b[len(b)-TrailerSize+offHeaderLength:]) != uint64(len(hb)) {
		t.Fatal("header length field does not match")
	}
}
