package payload

import (
	"bytes"
	"errors"
	"fmt"
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
