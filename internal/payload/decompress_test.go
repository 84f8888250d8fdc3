package payload

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"os/exec"
	"runtime"
	"testing"
	"time"

	"github.com/parkerpack/parker/internal/artifact"
)

// withDictByte returns a copy of a single-stream xz chunk whose first block
// header declares the LZMA2 dictionary size code dict, with a valid CRC32.
func withDictByte(t testing.TB, stream []byte, dict byte) []byte {
	t.Helper()
	s := bytes.Clone(stream)
	size := (int(s[12]) + 1) * 4
	h := s[12 : 12+size]
	if h[1] != 0 || h[2] != 0x21 || h[3] != 1 {
		t.Fatalf("unexpected block header %x: want no sizes and one LZMA2 filter", h)
	}
	h[4] = dict
	binary.LittleEndian.PutUint32(h[size-4:], crc32.ChecksumIEEE(h[:size-4]))
	return s
}

// damagedChunkCase is a one-chunk payload that the chunk reader must reject.
type damagedChunkCase struct {
	name    string
	payload []byte
	chunks  []artifact.Chunk
}

// damagedChunkCases returns one case per rule of the chunk reader.
func damagedChunkCases(t testing.TB) []damagedChunkCase {
	data := mixedData(40<<10, 5)
	payload, chunks := compress(t, data, CompressOptions{ChunkSize: 24 << 10, Workers: 1}, len(data))
	one := payload[:chunks[0].Length]
	c0 := chunks[0]
	with := func(p []byte, c artifact.Chunk) damagedChunkCase {
		return damagedChunkCase{payload: p, chunks: []artifact.Chunk{c}}
	}
	flip := func(i int) []byte {
		p := bytes.Clone(one)
		p[i] ^= 0x01
		return p
	}
	cases := []struct {
		name string
		c    damagedChunkCase
	}{
		{"xz bomb", with(one, artifact.Chunk{Length: c0.Length, Unpacked: c0.Unpacked - 10000})},
		{"declared one byte less", with(one, artifact.Chunk{Length: c0.Length, Unpacked: c0.Unpacked - 1})},
		{"declared more", with(one, artifact.Chunk{Length: c0.Length, Unpacked: c0.Unpacked + 1})},
		{"trailing garbage", with(append(bytes.Clone(one), 1, 2, 3), artifact.Chunk{Length: c0.Length + 3, Unpacked: c0.Unpacked})},
		{"trailing stream padding", with(append(bytes.Clone(one), 0, 0, 0, 0), artifact.Chunk{Length: c0.Length + 4, Unpacked: c0.Unpacked})},
		{"truncated", with(one[:len(one)-1], artifact.Chunk{Length: c0.Length - 1, Unpacked: c0.Unpacked})},
		{"length past payload", with(one, artifact.Chunk{Length: c0.Length + 1, Unpacked: c0.Unpacked})},
		{"two streams", with(append(bytes.Clone(one), one...), artifact.Chunk{Length: 2 * c0.Length, Unpacked: 2 * c0.Unpacked})},
		{"dictionary 96 MiB", with(withDictByte(t, one, 29), c0)},
		{"dictionary 4 GiB", with(withDictByte(t, one, 40), c0)},
		{"dictionary code invalid", with(withDictByte(t, one, 41), c0)},
		{"stream header magic", with(flip(0), c0)},
		{"stream flags", with(flip(7), c0)},
		{"block header", with(flip(14), c0)},
		{"lzma2 data", with(flip(40), c0)},
		{"lzma2 data end", with(flip(len(one)-40), c0)},
		{"block check", with(flip(len(one)-30), c0)},
		{"index", with(flip(len(one)-14), c0)},
		{"footer magic", with(flip(len(one)-1), c0)},
		{"footer flags", with(flip(len(one)-3), c0)},
		{"negative offset", with(one, artifact.Chunk{Offset: -1, Length: c0.Length, Unpacked: c0.Unpacked})},
		{"zero length", with(one, artifact.Chunk{Length: 0, Unpacked: c0.Unpacked})},
		{"zero unpacked", with(one, artifact.Chunk{Length: c0.Length, Unpacked: 0})},
		{"offset overflow", with(one, artifact.Chunk{Offset: 1<<63 - 1, Length: c0.Length, Unpacked: c0.Unpacked})},
		{"not xz", with([]byte("plain text, not xz at all"), artifact.Chunk{Length: 25, Unpacked: 25})},
	}
	var out []damagedChunkCase
	for _, c := range cases {
		c.c.name = c.name
		out = append(out, c.c)
	}
	return out
}

func TestChunkReaderRejects(t *testing.T) {
	for _, tc := range damagedChunkCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decompress(tc.payload, tc.chunks, 2)
			if !errors.Is(err, artifact.ErrDamaged) {
				t.Fatalf("reading chunks: error = %v, want one wrapping artifact.ErrDamaged", err)
			}
			if len(got) > int(max(tc.chunks[0].Unpacked, 0)) {
				t.Errorf("read %d bytes before the error, more than the declared %d", len(got), tc.chunks[0].Unpacked)
			}
		})
	}
}

func TestChunkReaderBombStopsEarly(t *testing.T) {
	// 8 MiB of zeros compress to about 1 KiB; declaring 1000 bytes must stop
	// decoding right after byte 1001 instead of producing all 8 MiB.
	data := make([]byte, 8<<20)
	payload, chunks := compress(t, data, CompressOptions{ChunkSize: 8 << 20, Workers: 1}, len(data))
	chunks[0].Unpacked = 1000
	r := NewChunkReader(&countingReaderAt{r: bytes.NewReader(payload)}, chunks, 1)
	defer r.Close()
	n, err := io.Copy(io.Discard, r)
	if !errors.Is(err, artifact.ErrDamaged) {
		t.Fatalf("io.Copy() error = %v, want artifact.ErrDamaged", err)
	}
	if n > 1000 {
		t.Errorf("io.Copy() delivered %d bytes, want at most 1000", n)
	}
}

type countingReaderAt struct {
	r io.ReaderAt
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) { return c.r.ReadAt(p, off) }

func TestChunkReaderWorkers(t *testing.T) {
	data := mixedData(1<<20, 6)
	payload, chunks := compress(t, data, CompressOptions{ChunkSize: 32 << 10, Workers: 2}, len(data))
	for _, workers := range []int{0, 1, 2, 5, 64} {
		got, err := decompress(payload, chunks, workers)
		if err != nil {
			t.Fatalf("workers=%d: reading chunks: %v", workers, err)
		}
		if !bytes.Equal(got, data) {
			t.Errorf("workers=%d: output differs from the input", workers)
		}
	}
}

func TestChunkReaderSmallReads(t *testing.T) {
	data := mixedData(200<<10, 7)
	payload, chunks := compress(t, data, CompressOptions{ChunkSize: 16 << 10, Workers: 2}, len(data))
	r := NewChunkReader(bytes.NewReader(payload), chunks, 3)
	defer r.Close()
	var got []byte
	buf := make([]byte, 777)
	for {
		n, err := r.Read(buf)
		got = append(got, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("Read() error: %v", err)
		}
	}
	if !bytes.Equal(got, data) {
		t.Error("output read in 777-byte pieces differs from the input")
	}
}

func TestChunkReaderErrorAfterGoodChunks(t *testing.T) {
	data := mixedData(256<<10, 8)
	payload, chunks := compress(t, data, CompressOptions{ChunkSize: 64 << 10, Workers: 2}, len(data))
	payload = bytes.Clone(payload)
	payload[chunks[2].Offset+30] ^= 0xff
	got, err := decompress(payload, chunks, 4)
	if !errors.Is(err, artifact.ErrDamaged) {
		t.Fatalf("error = %v, want artifact.ErrDamaged", err)
	}
	if len(got) < 128<<10 || !bytes.Equal(got[:128<<10], data[:128<<10]) {
		t.Errorf("got %d good bytes before the error, want the first two chunks intact", len(got))
	}
}

type failingReaderAt struct{}

var errIO = errors.New("input/output error")

func (failingReaderAt) ReadAt([]byte, int64) (int, error) { return 0, errIO }

func TestChunkReaderIOError(t *testing.T) {
	_, err := decompress(nil, []artifact.Chunk{{Length: 100, Unpacked: 100}}, 1)
	if !errors.Is(err, artifact.ErrDamaged) {
		t.Errorf("reading past the end: error = %v, want artifact.ErrDamaged", err)
	}
	r := NewChunkReader(failingReaderAt{}, []artifact.Chunk{{Length: 100, Unpacked: 100}}, 1)
	defer r.Close()
	_, err = io.ReadAll(r)
	if !errors.Is(err, errIO) || errors.Is(err, artifact.ErrDamaged) {
		t.Errorf("failing ReaderAt: error = %v, want %v and not artifact.ErrDamaged", err, errIO)
	}
}

func TestChunkReaderCloseStopsGoroutines(t *testing.T) {
	data := mixedData(2<<20, 9)
	payload, chunks := compress(t, data, CompressOptions{ChunkSize: 32 << 10, Workers: 2}, len(data))
	before := runtime.NumGoroutine()
	for range 5 {
		r := NewChunkReader(bytes.NewReader(payload), chunks, 4)
		if _, err := io.ReadFull(r, make([]byte, 100<<10)); err != nil {
			t.Fatalf("ReadFull() error: %v", err)
		}
		if err := r.Close(); err != nil {
			t.Fatalf("Close() error: %v", err)
		}
		if _, err := r.Read(make([]byte, 1)); err == nil {
			t.Fatal("Read() after Close() error = nil, want an error")
		}
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("runtime.NumGoroutine() = %d after Close, want at most %d", n, before)
	}
}

func TestChunkReaderEmpty(t *testing.T) {
	got, err := decompress(nil, nil, 2)
	if err != nil || len(got) != 0 {
		t.Errorf("reading no chunks = %d bytes, %v; want 0 bytes, nil", len(got), err)
	}
}

// TestChunkReaderReadsRealXZ decodes streams written by the xz tool with other
// check types and several blocks per stream.
func TestChunkReaderReadsRealXZ(t *testing.T) {
	xzPath, err := exec.LookPath("xz")
	if err != nil {
		t.Skip("xz not installed")
	}
	data := mixedData(200<<10, 10)
	for _, args := range [][]string{
		{"-0", "--check=none"},
		{"-0", "--check=crc32"},
		{"-1", "--check=crc64", "--block-size=30000"},
		{"-0", "--check=sha256", "--block-size=50000", "-T2"},
	} {
		cmd := exec.Command(xzPath, append(args, "-c")...)
		cmd.Stdin = bytes.NewReader(data)
		stream, err := cmd.Output()
		if err != nil {
			t.Fatalf("xz %v: %v", args, err)
		}
		chunks := []artifact.Chunk{{Length: int64(len(stream)), Unpacked: int64(len(data))}}
		got, err := decompress(stream, chunks, 1)
		if err != nil {
			t.Errorf("reading output of xz %v: %v", args, err)
			continue
		}
		if !bytes.Equal(got, data) {
			t.Errorf("reading output of xz %v: content differs", args)
		}
	}
}
