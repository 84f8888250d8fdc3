package payload

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"hash/crc64"
	"hash/maphash"
	"io"
	"runtime"
	"sync"

	"github.com/parkerpack/parker/internal/artifact"
	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"
)

// CompressOptions configures a Compressor. Zero values select the defaults.
type CompressOptions struct {
	ChunkSize int64 // uncompressed bytes per chunk; default DefaultChunkSize, at most 1 GiB
	Workers   int   // concurrent encoders; default runtime.NumCPU()
	DictCap   int   // LZMA2 dictionary bytes; default min(ChunkSize, 8 MiB), at most MaxDictCap
}

// DefaultChunkSize is the default number of uncompressed bytes per chunk.
const DefaultChunkSize = 8 << 20

// maxChunkSize bounds ChunkSize because a Compressor holds up to 2*Workers
// chunk buffers in memory.
const maxChunkSize = 1 << 30

// MaxDictCap is the largest LZMA2 dictionary a chunk may declare. The chunk
// reader rejects larger ones because the decoder allocates the whole dictionary
// before decoding.
const MaxDictCap = 64 << 20

// xzCheck is the integrity check in every xz stream. CRC64 is xz's default and
// costs little next to LZMA2 itself.
const xzCheck = xz.CRC64

// Compressor cuts the stream written into it into ChunkSize pieces and compresses each as an
// independent xz stream on Workers goroutines, writing them to w in order. Output bytes depend only
// on the input and ChunkSize/DictCap, never on Workers.
//
// At most 2*Workers chunks are buffered at a time; Write blocks while all are in
// use. The caller must call Close, which also stops the goroutines.
type Compressor struct {
	w      io.Writer
	config xz.WriterConfig
	size   int

	cur    *compressJob
	free   chan *compressJob // buffers not in use
	work   chan *compressJob // filled buffers for the workers
	order  chan *compressJob // filled buffers in stream order, for the output goroutine
	done   chan struct{}     // closed when the output goroutine exits
	wg     sync.WaitGroup
	closed bool

	mu     sync.Mutex
	err    error // first error, from any goroutine
	chunks []artifact.Chunk
}

// compressJob carries one chunk through a worker to the output goroutine.
type compressJob struct {
	in    []byte
	out   bytes.Buffer
	err   error
	ready chan struct{}
}

// NewCompressor starts the workers. Invalid options are reported by the first
// Write or by Close.
func NewCompressor(w io.Writer, opts CompressOptions) *Compressor {
	opts = compressDefaults(opts)
	slots := 2 * opts.Workers
	c := &Compressor{
		w:    w,
		size: int(opts.ChunkSize),
		config: xz.WriterConfig{
			DictCap:  opts.DictCap,
			CheckSum: xzCheck,
			Matcher:  lzma.HashTable4,
		},
		free:  make(chan *compressJob, slots),
		work:  make(chan *compressJob, slots),
		order: make(chan *compressJob, slots),
		done:  make(chan struct{}),
	}
	c.err = checkCompressOptions(opts, &c.config)
	for range slots {
		c.free <- &compressJob{}
	}
	for range opts.Workers {
		c.wg.Go(c.compressLoop)
	}
	go c.outputLoop()
	return c
}

func compressDefaults(opts CompressOptions) CompressOptions {
	if opts.ChunkSize == 0 {
		opts.ChunkSize = DefaultChunkSize
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.NumCPU()
	}
	if opts.DictCap == 0 {
		opts.DictCap = int(max(min(opts.ChunkSize, 8<<20), lzma.MinDictCap))
	}
	return opts
}

func checkCompressOptions(opts CompressOptions, config *xz.WriterConfig) error {
	if opts.ChunkSize <= 0 || opts.ChunkSize > maxChunkSize {
		return fmt.Errorf("payload: invalid chunk size %d, want 1 to %d bytes", opts.ChunkSize, maxChunkSize)
	}
	if opts.DictCap < lzma.MinDictCap || opts.DictCap > MaxDictCap {
		return fmt.Errorf("payload: invalid dictionary capacity %d, want %d to %d bytes", opts.DictCap, lzma.MinDictCap, MaxDictCap)
	}
	if err := config.Verify(); err != nil {
		return fmt.Errorf("payload: %w", err)
	}
	return nil
}

// Write buffers p and hands every full chunk to the workers.
func (c *Compressor) Write(p []byte) (int, error) {
	if c.closed {
		return 0, errors.New("payload: write to closed Compressor")
	}
	n := 0
	for len(p) > 0 {
		if err := c.firstError(); err != nil {
			return n, err
		}
		if c.cur == nil {
			c.cur = <-c.free
			if cap(c.cur.in) < c.size {
				c.cur.in = make([]byte, 0, c.size)
			}
			c.cur.in = c.cur.in[:0]
		}
		k := min(len(p), c.size-len(c.cur.in))
		c.cur.in = append(c.cur.in, p[:k]...)
		n += k
		p = p[k:]
		if len(c.cur.in) == c.size {
			c.submit()
		}
	}
	return n, nil
}

func (c *Compressor) submit() {
	j := c.cur
	c.cur = nil
	j.ready = make(chan struct{})
	c.order <- j
	c.work <- j
}

// Close compresses the last, possibly shorter chunk, waits for all output and
// returns the chunk table.
func (c *Compressor) Close() ([]artifact.Chunk, error) {
	if c.closed {
		return nil, errors.New("payload: Compressor closed twice")
	}
	c.closed = true
	if c.cur != nil && len(c.cur.in) > 0 {
		c.submit()
	}
	close(c.work)
	close(c.order)
	c.wg.Wait()
	<-c.done
	if err := c.firstError(); err != nil {
		return nil, err
	}
	return c.chunks, nil
}

func (c *Compressor) compressLoop() {
	for j := range c.work {
		j.out.Reset()
		j.err = c.compress(j)
		close(j.ready)
	}
}

func (c *Compressor) compress(j *compressJob) error {
	if err := c.firstError(); err != nil {
		return err // skip the work; the stream has failed already
	}
	if incompressible(j.in) {
		return writeStored(&j.out, j.in, c.config.DictCap)
	}
	zw, err := c.config.NewWriter(&j.out)
	if err != nil {
		return err
	}
	if _, err := zw.Write(j.in); err != nil {
		return err
	}
	return zw.Close()
}

// outputLoop writes compressed chunks in stream order and recycles their buffers.
func (c *Compressor) outputLoop() {
	defer close(c.done)
	var offset int64
	for j := range c.order {
		<-j.ready
		err := j.err
		if err == nil && c.firstError() == nil {
			_, err = c.w.Write(j.out.Bytes())
		}
		if err != nil {
			c.setError(fmt.Errorf("compressing payload: %w", err))
		} else {
			c.addChunk(artifact.Chunk{Offset: offset, Length: int64(j.out.Len()), Unpacked: int64(len(j.in))})
			offset += int64(j.out.Len())
		}
		c.free <- j
	}
}

func (c *Compressor) addChunk(ch artifact.Chunk) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.chunks = append(c.chunks, ch)
	}
}

func (c *Compressor) setError(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.err = err
	}
}

func (c *Compressor) firstError() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Incompressible chunks, such as those of already compressed files, are
// stored in LZMA2 uncompressed chunks without running the encoder, which
// is slowest on exactly such data and would store them the same way.
const (
	sampleSize  = 64 << 10 // bytes in each sample compressed to decide
	sampleCount = 4        // samples at evenly spaced offsets
	tarBlock    = 512      // tar aligns every file's content to this
)

// incompressible reports whether LZMA would not shrink data: none of
// sampleCount slices of sampleSize bytes compresses, and no two 512-byte
// blocks at multiples of 512 are equal. The second check catches a file
// repeated within the chunk, which the samples cannot see. Both checks
// leave out the zero bytes at the end, so that the zero blocks that end
// a tar stream do not decide for the whole last chunk. Chunks shorter
// than all samples together are always compressed.
//
// NOTE: a chunk is stored only as a whole. One that holds a small
// compressible file where a sample falls, next to megabytes of random
// data, is compressed and costs the encoder's full time.
func incompressible(data []byte) bool {
	body := bytes.TrimRight(data, "\x00")
	if len(body) < sampleCount*sampleSize {
		return false
	}
	for i := range sampleCount {
		off := i * (len(body) - sampleSize) / (sampleCount - 1)
		if compresses(body[off : off+sampleSize]) {
			return false
		}
	}
	return !repeatsBlock(body)
}

// compresses reports whether LZMA2 encodes sample into fewer bytes than it
// has, which it also does with a dictionary of just the sample's size.
func compresses(sample []byte) bool {
	var n countingDiscard
	w, err := lzma.Writer2Config{DictCap: sampleSize, Matcher: lzma.HashTable4}.NewWriter2(&n)
	if err != nil {
		return true
	}
	if _, err := w.Write(sample); err != nil {
		return true
	}
	if err := w.Close(); err != nil {
		return true
	}
	return int(n) < len(sample)
}

type countingDiscard int

func (c *countingDiscard) Write(p []byte) (int, error) {
	*c += countingDiscard(len(p))
	return len(p), nil
}

// repeatsBlock reports whether two tarBlock-aligned blocks of data are equal.
func repeatsBlock(data []byte) bool {
	seed := maphash.MakeSeed()
	seen := make(map[uint64]int, len(data)/tarBlock)
	for off := 0; off+tarBlock <= len(data); off += tarBlock {
		block := data[off : off+tarBlock]
		h := maphash.Bytes(seed, block)
		// Blocks with equal hashes are compared, so the result does not
		// depend on the random seed.
		if prev, ok := seen[h]; ok && bytes.Equal(data[prev:prev+tarBlock], block) {
			return true
		}
		seen[h] = off
	}
	return false
}

// maxStoredChunk is the most data one LZMA2 uncompressed chunk holds.
const maxStoredChunk = 64 << 10

// writeStored writes data as one xz stream with a CRC64 check whose single
// LZMA2 block holds only uncompressed chunks. Its dictionary size property
// is dictCap, as in the encoder's streams, although uncompressed chunks do
// not use it.
func writeStored(w *bytes.Buffer, data []byte, dictCap int) error {
	prop, err := dictCapProperty(dictCap)
	if err != nil {
		return err
	}
	le32 := binary.LittleEndian.AppendUint32

	// Stream header: magic, flags (check type CRC64) and their CRC32.
	flags := []byte{0, 0x04}
	w.Write(xzHeaderMagic)
	w.Write(flags)
	w.Write(le32(nil, crc32.ChecksumIEEE(flags)))

	// Block header: size/4-1, no optional sizes, one filter (LZMA2 with its
	// dictionary property), padding and CRC32.
	header := []byte{3 - 1, 0x00, xzLZMA2FilterID, 1, prop, 0, 0, 0}
	w.Write(header)
	w.Write(le32(nil, crc32.ChecksumIEEE(header)))

	// LZMA2 data: uncompressed chunks, the first resetting the dictionary,
	// each with its size minus one, big-endian; then the end marker.
	start := w.Len()
	for off := 0; off < len(data); off += maxStoredChunk {
		chunk := data[off:min(off+maxStoredChunk, len(data))]
		control := byte(0x02)
		if off == 0 {
			control = 0x01
		}
		w.Write([]byte{control, byte((len(chunk) - 1) >> 8), byte(len(chunk) - 1)})
		w.Write(chunk)
	}
	w.WriteByte(0x00)
	compressed := w.Len() - start
	w.Write(make([]byte, (4-compressed%4)%4))
	w.Write(binary.LittleEndian.AppendUint64(nil, crc64.Checksum(data, crc64Table)))

	// Index: indicator, one record (unpadded block size, uncompressed
	// size), padding, CRC32.
	index := []byte{0x00, 1}
	index = appendVarint(index, uint64(len(header)+4+compressed+8))
	index = appendVarint(index, uint64(len(data)))
	index = append(index, make([]byte, (4-len(index)%4)%4)...)
	index = le32(index, crc32.ChecksumIEEE(index))
	w.Write(index)

	// Stream footer: CRC32, index size/4-1, flags, magic.
	footer := append(le32(nil, uint32(len(index)/4-1)), flags...)
	w.Write(le32(nil, crc32.ChecksumIEEE(footer)))
	w.Write(footer)
	w.Write(xzFooterMagic)
	return nil
}

// dictCapProperty returns the smallest LZMA2 dictionary size property
// that stands for at least dictCap bytes.
func dictCapProperty(dictCap int) (byte, error) {
	for p := byte(0); p < 40; p++ {
		if n, err := lzma.DecodeDictCap(p); err == nil && n >= int64(dictCap) {
			return p, nil
		}
	}
	return 0, fmt.Errorf("payload: no LZMA2 dictionary property for %d bytes", dictCap)
}

// appendVarint appends an xz multibyte integer.
func appendVarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}
