package artifact

import (
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/binary"
	"encoding/json"
	"testing"
)

// testStub is a fake runtime stub. Like the real runtime it contains the magic,
// so that a truncated artifact is reported as damaged.
var testStub = append([]byte("#!/fake/stub\n"), append(Magic[:], "\nend of stub\n"...)...)

var testPayload = []byte("0123456789abcdef")

// testHeader returns a header that matches testPayload: two chunks covering 16
// compressed bytes and 20 unpacked bytes.
func testHeader() Header {
	return Header{
		Format:        FormatVersion,
		ParkerVersion: "test",
		Target:        "bin/app",
		Entries:       3,
		UnpackedSize:  20,
		FileBytes:     5,
		ChunkSize:     16,
		Chunks:        []Chunk{{Offset: 0, Length: 10, Unpacked: 16}, {Offset: 10, Length: 6, Unpacked: 4}},
		Persist:       []string{"data"},
		Limits:        Limits{MemoryBytes: 1 << 20, Pids: 10, CPUs: 0.5},
	}
}

func mustJSON(t testing.TB, h Header) []byte {
	t.Helper()
	b, err := json.Marshal(h)
	if err != nil {
		t.Fatalf("json.Marshal: %v", err)
	}
	return b
}

// assemble concatenates the parts with a trailer that is correct for them,
// then applies edit to the trailer before encoding it.
func assemble(stub, payload, header []byte, unpacked, entries uint64, edit func(*Trailer)) []byte {
	tr := Trailer{
		Version:       FormatVersion,
		PayloadOffset: uint64(len(stub)),
		PayloadLength: uint64(len(payload)),
		HeaderOffset:  uint64(len(stub) + len(payload)),
		HeaderLength:  uint64(len(header)),
		UnpackedSize:  unpacked,
		EntryCount:    entries,
		PayloadSHA256: sha256.Sum256(payload),
		HeaderSHA256:  sha256.Sum256(header),
	}
	if edit != nil {
		edit(&tr)
	}
	var b bytes.Buffer
	b.Write(stub)
	b.Write(payload)
	b.Write(header)
	b.Write(tr.Marshal())
	return b.Bytes()
}

// validArtifact returns a small artifact written by Writer.
func validArtifact(t testing.TB) []byte {
	t.Helper()
	var b bytes.Buffer
	b.Write(testStub)
	w := NewWriter(&b, int64(len(testStub)))
	if _, err := w.Write(testPayload); err != nil {
		t.Fatalf("Writer.Write: %v", err)
	}
	h := testHeader()
	if err := w.Finish(&h, 20, 3); err != nil {
		t.Fatalf("Writer.Finish: %v", err)
	}
	return b.Bytes()
}

func openBytes(b []byte) (*Artifact, error) {
	return Open(bytes.NewReader(b), int64(len(b)))
}

// tinyELF returns a minimal little-endian ELF64 executable whose one loadable
// segment covers the whole file, data included.
func tinyELF(data []byte) []byte {
	const ehSize, phSize, base = 64, 56, 0x400000
	size := uint64(ehSize + phSize + len(data))
	h := elf.Header64{
		Ident:     [elf.EI_NIDENT]byte{0x7f, 'E', 'L', 'F', byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)},
		Type:      uint16(elf.ET_EXEC),
		Machine:   uint16(elf.EM_X86_64),
		Version:   uint32(elf.EV_CURRENT),
		Entry:     base + ehSize + phSize,
		Phoff:     ehSize,
		Ehsize:    ehSize,
		Phentsize: phSize,
		Phnum:     1,
	}
	p := elf.Prog64{Type: uint32(elf.PT_LOAD), Flags: uint32(elf.PF_R | elf.PF_X), Vaddr: base, Paddr: base,
		Filesz: size, Memsz: size, Align: 0x1000}
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, &h)
	binary.Write(&b, binary.LittleEndian, &p)
	b.Write(data)
	return b.Bytes()
}
