package payload

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"io"

	"github.com/ulikunitz/xz/lzma"
)

// xzReader decodes exactly one xz stream (xz file format 1.0.4) whose blocks
// use the single LZMA2 filter, and fails if any byte follows the stream.
//
// It parses the container itself and uses the xz module only for LZMA2 data:
// xz.ReaderConfig.DictCap is a lower bound in github.com/ulikunitz/xz v0.5.17,
// and the module allocates the dictionary a block header declares (up to
// 4 GiB) before decoding. Parsing each block header first lets xzReader reject
// a dictionary above MaxDictCap before anything is allocated.
type xzReader struct {
	r         countingReader
	check     byte // check type from the stream flags
	checkSize int
	block     *xzBlock // block being decoded; nil between blocks
	records   []xzRecord
	err       error // sticky; io.EOF after the footer and the end of input
}

type xzRecord struct {
	unpadded, uncompressed int64
}

type xzBlock struct {
	headerSize   int64
	dataStart    int64 // input offset of the LZMA2 data
	compressed   int64 // declared in the block header, or -1
	uncompressed int64 // declared in the block header, or -1
	decoded      int64
	lz           *lzma.Reader2
	hash         hash.Hash
}

const (
	xzLZMA2FilterID = 0x21
	xzHeaderSize    = 12 // stream header and stream footer
)

var (
	xzHeaderMagic = []byte{0xfd, '7', 'z', 'X', 'Z', 0}
	xzFooterMagic = []byte{'Y', 'Z'}
	crc64Table    = crc64.MakeTable(crc64.ECMA)
)

// newXZReader reads the stream header from r, which the caller buffers.
func newXZReader(r *bufio.Reader) (*xzReader, error) {
	x := &xzReader{r: countingReader{r: r}}
	var h [xzHeaderSize]byte
	if _, err := io.ReadFull(&x.r, h[:]); err != nil {
		return nil, fmt.Errorf("reading xz stream header: %w", noEOF(err))
	}
	if !bytes.Equal(h[:6], xzHeaderMagic) {
		return nil, errors.New("missing xz stream header magic")
	}
	if crc32.ChecksumIEEE(h[6:8]) != binary.LittleEndian.Uint32(h[8:]) {
		return nil, errors.New("xz stream header CRC32 mismatch")
	}
	if h[6] != 0 {
		return nil, fmt.Errorf("reserved xz stream flags %#x set", h[6])
	}
	size, ok := xzCheckSizes[h[7]]
	if !ok {
		return nil, fmt.Errorf("unsupported xz check type %#x", h[7])
	}
	x.check, x.checkSize = h[7], size
	return x, nil
}

// xzCheckSizes maps the supported check types (none, CRC32, CRC64, SHA-256) to their sizes.
var xzCheckSizes = map[byte]int{0x00: 0, 0x01: 4, 0x04: 8, 0x0a: 32}

func (x *xzReader) Read(p []byte) (int, error) {
	if x.err != nil {
		return 0, x.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if x.block == nil {
			if err := x.nextBlock(); err != nil {
				x.err = err
				return 0, err
			}
			continue
		}
		n, err := x.readBlock(p)
		if err != nil {
			x.err = err
		}
		if n > 0 || err != nil {
			return n, err
		}
	}
}

// readBlock decodes from the current block and finishes the block at its end.
func (x *xzReader) readBlock(p []byte) (int, error) {
	b := x.block
	n, err := b.lz.Read(p)
	b.hash.Write(p[:n])
	b.decoded += int64(n)
	if b.uncompressed >= 0 && b.decoded > b.uncompressed {
		return n, fmt.Errorf("xz block decodes to more than its declared %d bytes", b.uncompressed)
	}
	switch {
	case errors.Is(err, io.EOF):
		return n, x.finishBlock()
	case err != nil:
		return n, fmt.Errorf("decoding LZMA2 data: %w", noEOF(err))
	}
	return n, nil
}

// nextBlock starts the next block or, at the index indicator, reads index and
// footer and sets io.EOF.
func (x *xzReader) nextBlock() error {
	first, err := x.r.ReadByte()
	if err != nil {
		return fmt.Errorf("reading xz block header: %w", noEOF(err))
	}
	if first == 0 {
		return x.readEnd()
	}
	b, err := x.readBlockHeader(first)
	if err != nil {
		return err
	}
	x.block = b
	return nil
}

// readBlockHeader parses a block header and creates the LZMA2 decoder for it.
func (x *xzReader) readBlockHeader(first byte) (*xzBlock, error) {
	size := (int(first) + 1) * 4
	h := make([]byte, size)
	h[0] = first
	if _, err := io.ReadFull(&x.r, h[1:]); err != nil {
		return nil, fmt.Errorf("reading xz block header: %w", noEOF(err))
	}
	if crc32.ChecksumIEEE(h[:size-4]) != binary.LittleEndian.Uint32(h[size-4:]) {
		return nil, errors.New("xz block header CRC32 mismatch")
	}
	b := &xzBlock{headerSize: int64(size)}
	dictCap, err := parseBlockHeader(h[1:size-4], b)
	if err != nil {
		return nil, err
	}
	if dictCap > MaxDictCap {
		return nil, fmt.Errorf("xz block dictionary of %d bytes exceeds the %d bytes allowed", dictCap, MaxDictCap)
	}
	b.hash = newXZCheck(x.check)
	b.dataStart = x.r.n
	// NewReader2 reads the first LZMA2 chunk header, so dataStart is taken before.
	b.lz, err = lzma.Reader2Config{DictCap: int(max(dictCap, lzma.MinDictCap))}.NewReader2(&x.r)
	if err != nil {
		return nil, fmt.Errorf("starting LZMA2 decoder: %w", err)
	}
	return b, nil
}

// parseBlockHeader parses flags, optional sizes and the filter list of a block
// header without its size byte and CRC32, and returns the LZMA2 dictionary size.
func parseBlockHeader(h []byte, b *xzBlock) (int64, error) {
	r := bytes.NewReader(h)
	flags, _ := r.ReadByte()
	if flags&0x3c != 0 {
		return 0, fmt.Errorf("reserved xz block flags %#x set", flags)
	}
	if flags&0x03 != 0 {
		return 0, fmt.Errorf("xz block has %d filters, want only LZMA2", flags&0x03+1)
	}

	b.compressed, b.uncompressed = -1, -1
	var err error
	if flags&0x40 != 0 {
		if b.compressed, err = readXZSize(r); err == nil && b.compressed == 0 {
			err = errors.New("zero compressed size in xz block header")
		}
	}
	if err == nil && flags&0x80 != 0 {
		b.uncompressed, err = readXZSize(r)
	}
	if err != nil {
		return 0, err
	}

	dictCap, err := parseLZMA2Filter(r)
	if err != nil {
		return 0, err
	}
	for r.Len() > 0 {
		if c, _ := r.ReadByte(); c != 0 {
			return 0, errors.New("non-zero xz block header padding")
		}
	}
	return dictCap, nil
}

func parseLZMA2Filter(r *bytes.Reader) (int64, error) {
	id, err := readVarint(r)
	if err != nil {
		return 0, fmt.Errorf("reading xz filter ID: %w", err)
	}
	if id != xzLZMA2FilterID {
		return 0, fmt.Errorf("unsupported xz filter %#x, want LZMA2", id)
	}
	propsSize, err := readVarint(r)
	if err != nil || propsSize != 1 {
		return 0, fmt.Errorf("invalid LZMA2 filter properties size %d", propsSize)
	}
	prop, err := r.ReadByte()
	if err != nil {
		return 0, errors.New("missing LZMA2 dictionary size")
	}
	dictCap, err := lzma.DecodeDictCap(prop)
	if err != nil {
		return 0, fmt.Errorf("invalid LZMA2 dictionary size %#x", prop)
	}
	return dictCap, nil
}

// finishBlock checks sizes, padding and the check field after the LZMA2 data.
func (x *xzReader) finishBlock() error {
	b := x.block
	x.block = nil
	compressed := x.r.n - b.dataStart
	if b.compressed >= 0 && compressed != b.compressed {
		return fmt.Errorf("xz block has %d compressed bytes, its header declares %d", compressed, b.compressed)
	}
	if b.uncompressed >= 0 && b.decoded != b.uncompressed {
		return fmt.Errorf("xz block decodes to %d bytes, its header declares %d", b.decoded, b.uncompressed)
	}
	if err := x.readPadding(compressed); err != nil {
		return err
	}
	sum := make([]byte, x.checkSize)
	if _, err := io.ReadFull(&x.r, sum); err != nil {
		return fmt.Errorf("reading xz block check: %w", noEOF(err))
	}
	if !bytes.Equal(sum, xzCheckSum(b.hash)) {
		return errors.New("xz block check mismatch")
	}
	x.records = append(x.records, xzRecord{
		unpadded:     b.headerSize + compressed + int64(x.checkSize),
		uncompressed: b.decoded,
	})
	return nil
}

// readPadding reads the zero bytes that align n bytes to a multiple of four.
func (x *xzReader) readPadding(n int64) error {
	for range (4 - n%4) % 4 {
		c, err := x.r.ReadByte()
		if err != nil {
			return fmt.Errorf("reading xz padding: %w", noEOF(err))
		}
		if c != 0 {
			return errors.New("non-zero xz padding")
		}
	}
	return nil
}
