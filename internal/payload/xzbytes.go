package payload

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"io"
)

// countingReader counts the bytes read through it, which the xz container
// needs for block sizes.
type countingReader struct {
	r *bufio.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *countingReader) ReadByte() (byte, error) {
	b, err := c.r.ReadByte()
	if err == nil {
		c.n++
	}
	return b, err
}

// teeByteReader writes every byte it reads to w and counts them.
type teeByteReader struct {
	r io.ByteReader
	w io.Writer
	n int64
}

func (t *teeByteReader) ReadByte() (byte, error) {
	b, err := t.r.ReadByte()
	if err == nil {
		t.w.Write([]byte{b})
		t.n++
	}
	return b, err
}

var errVarint = errors.New("invalid xz variable-length integer")

// readVarint reads an xz multibyte integer: at most 9 bytes, 7 bits each,
// least significant first, without a redundant trailing zero byte.
func readVarint(r io.ByteReader) (uint64, error) {
	var v uint64
	for i := range 9 {
		b, err := r.ReadByte()
		if err != nil {
			return 0, noEOF(err)
		}
		v |= uint64(b&0x7f) << (7 * i)
		if b&0x80 == 0 {
			if i > 0 && b == 0 {
				return 0, errVarint
			}
			return v, nil
		}
	}
	return 0, errVarint
}

// readXZSize reads a block header size field, which must fit in an int64.
func readXZSize(r io.ByteReader) (int64, error) {
	v, err := readVarint(r)
	if err != nil {
		return 0, err
	}
	if v > 1<<63-1 {
		return 0, errVarint
	}
	return int64(v), nil
}

// newXZCheck returns the hash for a supported check type.
func newXZCheck(check byte) hash.Hash {
	switch check {
	case 0x01:
		return crc32.NewIEEE()
	case 0x04:
		return crc64.New(crc64Table)
	case 0x0a:
		return sha256.New()
	}
	return noCheck{}
}

// xzCheckSum returns the check field as stored in the stream: CRC32 and CRC64
// little-endian, SHA-256 as is.
func xzCheckSum(h hash.Hash) []byte {
	switch h := h.(type) {
	case hash.Hash32:
		return binary.LittleEndian.AppendUint32(nil, h.Sum32())
	case hash.Hash64:
		return binary.LittleEndian.AppendUint64(nil, h.Sum64())
	}
	return h.Sum(nil)
}

// noCheck is the hash for xz check type none.
type noCheck struct{}

func (noCheck) Write(p []byte) (int, error) { return len(p), nil }
func (noCheck) Sum(b []byte) []byte         { return b }
func (noCheck) Reset()                      {}
func (noCheck) Size() int                   { return 0 }
func (noCheck) BlockSize() int              { return 1 }

// noEOF turns io.EOF inside a structure into io.ErrUnexpectedEOF.
func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
