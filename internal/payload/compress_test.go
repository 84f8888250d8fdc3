package payload

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os/exec"
	"testing"

	"github.com/parkerpack/parker/internal/artifact"
)

func TestCompressRoundTrip(t *testing.T) {
	tests := []struct {
		name      string
		size      int
		chunkSize int64
		writeSize int
		workers   int
	}{
		{"empty", 0, 64 << 10, 1, 2},
		{"one byte", 1, 64 << 10, 1, 2},
		{"below one chunk", 1000, 64 << 10, 100, 2},
		{"exactly one chunk", 64 << 10, 64 << 10, 4096, 2},
		{"one chunk and a byte", 64<<10 + 1, 64 << 10, 7919, 3},
		{"many chunks", 1 << 20, 64 << 10, 1 << 20, 4},
		{"tiny chunks", 50000, 4096, 333, 8},
		{"chunk smaller than min dict", 10000, 1000, 999, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := mixedData(tc.size, 1)
			payload, chunks := compress(t, data, CompressOptions{ChunkSize: tc.chunkSize, Workers: tc.workers}, tc.writeSize)
			wantChunks := (int64(tc.size) + tc.chunkSize - 1) / tc.chunkSize
			if int64(len(chunks)) != wantChunks {
				t.Fatalf("Close() returned %d chunks, want %d", len(chunks), wantChunks)
			}
			checkTiling(t, chunks, len(payload), tc.size, tc.chunkSize)
			got, err := decompress(payload, chunks, tc.workers)
			if err != nil {
				t.Fatalf("reading chunks: %v", err)
			}
			if !bytes.Equal(got, data) {
				t.Errorf("decompressed %d bytes differ from the %d bytes compressed", len(got), len(data))
			}
		})
	}
}

func checkTiling(t *testing.T, chunks []artifact.Chunk, payloadLen, size int, chunkSize int64) {
	t.Helper()
	var off, unpacked int64
	for i, c := range chunks {
		if c.Offset != off {
			t.Errorf("chunk %d offset = %d, want %d", i, c.Offset, off)
		}
		if i < len(chunks)-1 && c.Unpacked != chunkSize {
			t.Errorf("chunk %d unpacked = %d, want %d", i, c.Unpacked, chunkSize)
		}
		off += c.Length
		unpacked += c.Unpacked
	}
	if off != int64(payloadLen) || unpacked != int64(size) {
		t.Errorf("chunks cover %d compressed and %d unpacked bytes, want %d and %d", off, unpacked, payloadLen, size)
	}
}

func TestCompressDeterministic(t *testing.T) {
	data := mixedData(600<<10, 2)
	opts := CompressOptions{ChunkSize: 64 << 10}
	var first []byte
	for _, workers := range []int{1, 2, 4, 7} {
		for _, writeSize := range []int{1 << 20, 4093} {
			opts.Workers = workers
			payload, _ := compress(t, data, opts, writeSize)
			if first == nil {
				first = payload
				continue
			}
			if !bytes.Equal(payload, first) {
				t.Errorf("output with %d workers and %d-byte writes differs from the first run", workers, writeSize)
			}
		}
	}
}

func TestCompressInvalidOptions(t *testing.T) {
	for _, opts := range []CompressOptions{
		{ChunkSize: -1},
		{ChunkSize: 2 << 30},
		{DictCap: 100},
		{DictCap: MaxDictCap + 1},
	} {
		c := NewCompressor(&bytes.Buffer{}, opts)
		_, werr := c.Write([]byte("x"))
		_, cerr := c.Close()
		if werr == nil || cerr == nil {
			t.Errorf("NewCompressor(%+v): Write error %v, Close error %v; want both non-nil", opts, werr, cerr)
		}
	}
}

func TestCompressWithRealXZ(t *testing.T) {
	xzPath, err := exec.LookPath("xz")
	if err != nil {
		t.Skip("xz not installed")
	}
	data := mixedData(300<<10, 3)
	payload, chunks := compress(t, data, CompressOptions{ChunkSize: 64 << 10, Workers: 3}, 1<<20)
	if len(chunks) < 2 {
		t.Fatalf("got %d chunks, want several to test a multi-stream file", len(chunks))
	}

	test := exec.Command(xzPath, "-t")
	test.Stdin = bytes.NewReader(payload)
	if out, err := test.CombinedOutput(); err != nil {
		t.Fatalf("xz -t: %v\n%s", err, out)
	}

	dec := exec.Command(xzPath, "-dc")
	dec.Stdin = bytes.NewReader(payload)
	got, err := dec.Output()
	if err != nil {
		t.Fatalf("xz -dc: %v", err)
	}
	if !bytes.Equal(got, data) {
		t.Errorf("xz -dc output (%d bytes) differs from the input (%d bytes)", len(got), len(data))
	}

	// Each chunk alone is a complete .xz file too.
	one := exec.Command(xzPath, "-dc")
	one.Stdin = bytes.NewReader(payload[chunks[1].Offset : chunks[1].Offset+chunks[1].Length])
	got, err = one.Output()
	if err != nil {
		t.Fatalf("xz -dc of chunk 1: %v", err)
	}
	if !bytes.Equal(got, data[64<<10:128<<10]) {
		t.Error("xz -dc of chunk 1 differs from the second 64 KiB of input")
	}
}

type errWriter struct{}

func (errWriter) Write([]byte) (int, error) { return 0, errFull }

var errFull = errors.New("disk full")

func TestCompressWriteError(t *testing.T) {
	c := NewCompressor(errWriter{}, CompressOptions{ChunkSize: 4096, Workers: 2})
	data := mixedData(1<<20, 4)
	var werr error
	for p := data; len(p) > 0 && werr == nil; p = p[min(len(p), 10000):] {
		_, werr = c.Write(p[:min(len(p), 10000)])
	}
	_, cerr := c.Close()
	if cerr == nil {
		t.Fatal("Close() error = nil after the output failed, want the write error")
	}
	if !errors.Is(cerr, errFull) {
		t.Errorf("Close() error = %v, want it to wrap %v", cerr, errFull)
	}
}

func TestCompressIncompressible(t *testing.T) {
	const chunkSize = 512 << 10
	random := func(n int, seed uint64) []byte {
		rng := rand.New(rand.NewPCG(seed, 1))
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	// A stored chunk is the data plus 3 bytes per 64 KiB, and for these
	// sizes 60 bytes of xz framing: stream header and footer 24, block
	// header 12, LZMA2 end marker and padding 4, check 8, index 12.
	stored := int64(chunkSize + 3*(chunkSize>>16) + 60)
	repeated := random(chunkSize/2, 2)
	repeated = append(repeated, repeated...)
	tests := []struct {
		name       string
		data       []byte
		wantStored bool
	}{
		{"random", random(2*chunkSize, 1), true},
		// The zero blocks that end a tar stream leave a chunk stored.
		{"random ending in zeros", append(random(chunkSize-1024, 4), make([]byte, 1024)...), true},
		{"random repeated once", repeated, false},
		{"mixed", mixedData(chunkSize, 3), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			payload, chunks := compress(t, tc.data, CompressOptions{ChunkSize: chunkSize, Workers: 2}, 1<<20)
			for i, c := range chunks {
				if got := c.Length == stored; got != tc.wantStored {
					t.Errorf("chunk %d is %d bytes; stored = %v, want %v", i, c.Length, got, tc.wantStored)
				}
			}
			got, err := decompress(payload, chunks, 2)
			if err != nil || !bytes.Equal(got, tc.data) {
				t.Fatalf("decompress() = %d bytes, %v; want the %d bytes compressed", len(got), err, len(tc.data))
			}
			xzPath, err := exec.LookPath("xz")
			if err != nil {
				return
			}
			dec := exec.Command(xzPath, "-dc")
			dec.Stdin = bytes.NewReader(payload)
			if got, err := dec.Output(); err != nil || !bytes.Equal(got, tc.data) {
				t.Errorf("xz -dc = %d bytes, %v; want the %d bytes compressed", len(got), err, len(tc.data))
			}
		})
	}
}
