package payload

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"testing"
)

// benchSize is the length of the synthetic input of every benchmark.
const benchSize = 32 << 20

func BenchmarkCompress(b *testing.B) {
	data := mixedData(benchSize, 42)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		c := NewCompressor(io.Discard, CompressOptions{})
		if _, err := c.Write(data); err != nil {
			b.Fatal(err)
		}
		if _, err := c.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkChunkReader(b *testing.B) {
	data := mixedData(benchSize, 42)
	payload, chunks := compress(b, data, CompressOptions{}, len(data))
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		r := NewChunkReader(bytes.NewReader(payload), chunks, 0)
		n, err := io.Copy(io.Discard, r)
		r.Close()
		if err != nil || n != int64(len(data)) {
			b.Fatalf("io.Copy() = %d, %v; want %d, nil", n, err, len(data))
		}
	}
}

// benchTar returns a tar stream of about benchSize bytes: 16 directories of
// 32 files of 64 KiB each.
func benchTar(b *testing.B) []byte {
	data := mixedData(benchSize, 43)
	var entries []tarEntry
	const fileSize = 64 << 10
	for i := 0; i*fileSize < len(data); i++ {
		if i%32 == 0 {
			entries = append(entries, dir(fmt.Sprintf("d%02d/", i/32), 0o755))
		}
		content := string(data[i*fileSize : (i+1)*fileSize])
		entries = append(entries, reg(fmt.Sprintf("d%02d/f%03d", i/32, i), content, 0o644))
	}
	return buildTar(b, entries...)
}

// BenchmarkUnpack extracts into /dev/shm when it exists: the runtime unpacks
// into a tmpfs, and a disk would measure the disk rather than Unpack.
func BenchmarkUnpack(b *testing.B) {
	stream := benchTar(b)
	payload, chunks := compress(b, stream, CompressOptions{}, len(stream))
	b.SetBytes(int64(len(stream)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		out := tmpfsDir(b)
		b.StartTimer()
		r := NewChunkReader(bytes.NewReader(payload), chunks, 0)
		_, err := Unpack(r, out, UnpackOptions{MaxBytes: NoLimit, MaxEntries: NoLimit})
		r.Close()
		if err != nil {
			b.Fatal(err)
		}
	}
}

// tmpfsDir returns a new directory in /dev/shm, or in b.TempDir if that fails.
func tmpfsDir(b *testing.B) string {
	d, err := os.MkdirTemp("/dev/shm", "parker-bench-")
	if err != nil {
		return b.TempDir()
	}
	b.Cleanup(func() { os.RemoveAll(d) })
	return d
}
