package payload

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"

	"github.com/parkerpack/parker/internal/artifact"
)

const (
	// decodeBlockSize is the unit in which decoded data passes from a chunk's
	// decoder to the reader.
	decodeBlockSize = 256 << 10
	// decodeBlocksAhead bounds the decoded blocks buffered per chunk (6 MiB).
	// While the reader drains one chunk as it is decoded, each chunk
	// ahead of it decodes this far and waits. With chunks of C bytes and
	// B buffered, the reader gets at most C/(C-B) times one decoder's
	// speed, so 6 MiB keeps 3 decoders of 8 MiB chunks busy; 8 MiB would
	// only cost memory.
	decodeBlocksAhead = 24
	// inputBufferSize is the bufio.Reader in front of each decoder, which
	// otherwise reads its input one byte per call.
	inputBufferSize = 128 << 10
)

var errReaderClosed = errors.New("payload: read from closed chunk reader")

// NewChunkReader decompresses chunks (read with positioned reads from r, a payload section)
// with up to workers concurrent decoders and returns the tar stream in order. It fails with an
// error wrapping artifact.ErrDamaged if any chunk decodes to more or fewer bytes than recorded,
// so an xz bomb stops at the declared size. Memory bound: about workers * (DictCap + ChunkSize).
//
// More precisely, each of the at most workers chunks in progress holds its
// dictionary (at most MaxDictCap) and up to 6 MiB of decoded data. Any invalid
// xz stream or chunk table entry also wraps artifact.ErrDamaged, while an error
// from r other than io.EOF is returned as is. A workers value below 1 means
// runtime.NumCPU(). Close stops all goroutines.
func NewChunkReader(r io.ReaderAt, chunks []artifact.Chunk, workers int) io.ReadCloser {
	if workers < 1 {
		workers = runtime.NumCPU()
	}
	c := &chunkReader{
		streams: make(chan *chunkStream, workers),
		slots:   make(chan struct{}, workers),
		stop:    make(chan struct{}),
	}
	c.wg.Go(func() { c.dispatch(r, chunks) })
	return c
}

type chunkReader struct {
	streams chan *chunkStream // chunks in order, as their decoders start
	slots   chan struct{}     // one token per chunk started and not yet fully read
	stop    chan struct{}
	wg      sync.WaitGroup

	cur     *chunkStream
	block   *[]byte // decoded block being read, returned to blockPool when done
	pending []byte  // unread part of *block
	err     error   // sticky
	closed  bool
}

// chunkStream carries one chunk's decoded blocks; err is valid once blocks is closed.
type chunkStream struct {
	blocks chan *[]byte
	err    error
}

var blockPool = sync.Pool{New: func() any {
	b := make([]byte, decodeBlockSize)
	return &b
}}

// dispatch starts one decoder per chunk, in order, while a slot is free.
func (c *chunkReader) dispatch(r io.ReaderAt, chunks []artifact.Chunk) {
	defer close(c.streams)
	for i, ch := range chunks {
		select {
		case c.slots <- struct{}{}:
		case <-c.stop:
			return
		}
		s := &chunkStream{blocks: make(chan *[]byte, decodeBlocksAhead)}
		c.wg.Go(func() { c.decode(r, i, ch, s) })
		select {
		case c.streams <- s:
		case <-c.stop:
			return
		}
	}
}

// decode sends the decoded blocks of one chunk and closes s.blocks.
func (c *chunkReader) decode(r io.ReaderAt, index int, ch artifact.Chunk, s *chunkStream) {
	defer close(s.blocks)
	err := c.decodeChunk(r, ch, s)
	if err == nil || errors.Is(err, errReaderClosed) {
		return
	}
	var re *sourceError
	if errors.As(err, &re) {
		s.err = fmt.Errorf("reading payload chunk %d: %w", index, re.err)
	} else {
		s.err = fmt.Errorf("%w: payload chunk %d (offset %d, length %d): %v",
			artifact.ErrDamaged, index, ch.Offset, ch.Length, err)
	}
}

func (c *chunkReader) decodeChunk(r io.ReaderAt, ch artifact.Chunk, s *chunkStream) error {
	if ch.Offset < 0 || ch.Length <= 0 || ch.Unpacked <= 0 || ch.Offset > 1<<63-1-ch.Length {
		return errors.New("invalid chunk table entry")
	}
	section := io.NewSectionReader(sourceReaderAt{r}, ch.Offset, ch.Length)
	x, err := newXZReader(bufio.NewReaderSize(section, inputBufferSize))
	if err != nil {
		return err
	}
	// Reading at most one byte more than declared is enough to detect a chunk
	// that decodes to more, without decoding the rest of it.
	limited := io.LimitReader(x, ch.Unpacked+1)
	var total int64
	for {
		b := blockPool.Get().(*[]byte)
		n, err := fill(limited, *b)
		total += int64(n)
		if total > ch.Unpacked {
			blockPool.Put(b)
			return fmt.Errorf("decodes to more than the recorded %d bytes", ch.Unpacked)
		}
		if n > 0 {
			*b = (*b)[:n]
			if !c.send(s, b) {
				return errReaderClosed
			}
		} else {
			blockPool.Put(b)
		}
		switch {
		case errors.Is(err, io.EOF):
			if total < ch.Unpacked {
				return fmt.Errorf("decodes to %d bytes, want %d", total, ch.Unpacked)
			}
			if x.r.n != ch.Length {
				return fmt.Errorf("xz stream ends after %d bytes, want %d", x.r.n, ch.Length)
			}
			return nil
		case err != nil:
			return err
		}
	}
}

// fill reads into b until it is full or r returns an error, and returns that
// error unchanged. Unlike io.ReadFull, it does not turn io.EOF into io.ErrUnexpectedEOF.
func fill(r io.Reader, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		k, err := r.Read(b[n:])
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func (c *chunkReader) send(s *chunkStream, b *[]byte) bool {
	select {
	case s.blocks <- b:
		return true
	case <-c.stop:
		return false
	}
}

func (c *chunkReader) Read(p []byte) (int, error) {
	for {
		if c.closed {
			return 0, errReaderClosed
		}
		if c.err != nil {
			return 0, c.err
		}
		if len(c.pending) > 0 {
			n := copy(p, c.pending)
			c.pending = c.pending[n:]
			if len(c.pending) == 0 {
				c.recycle()
			}
			return n, nil
		}
		c.nextBlock()
	}
}

// nextBlock moves to the next decoded block, the next chunk, or the end.
func (c *chunkReader) nextBlock() {
	if c.cur == nil {
		s, ok := <-c.streams
		if !ok {
			c.err = io.EOF
			return
		}
		c.cur = s
	}
	b, ok := <-c.cur.blocks
	if !ok {
		if c.cur.err != nil {
			c.err = c.cur.err
			return
		}
		c.cur = nil
		<-c.slots
		return
	}
	c.block, c.pending = b, *b
}

func (c *chunkReader) recycle() {
	*c.block = (*c.block)[:cap(*c.block)]
	blockPool.Put(c.block)
	c.block = nil
}

// Close stops the decoders and waits for their goroutines to exit.
func (c *chunkReader) Close() error {
	if !c.closed {
		c.closed = true
		close(c.stop)
		c.wg.Wait()
	}
	return nil
}

// sourceError marks an error returned by the payload's ReaderAt, which is an
// I/O failure rather than damage, unless it is an unexpected end of file.
type sourceError struct{ err error }

func (e *sourceError) Error() string { return e.err.Error() }
func (e *sourceError) Unwrap() error { return e.err }

type sourceReaderAt struct{ r io.ReaderAt }

func (s sourceReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := s.r.ReadAt(p, off)
	if err != nil && !errors.Is(err, io.EOF) {
		err = &sourceError{err}
	}
	return n, err
}
