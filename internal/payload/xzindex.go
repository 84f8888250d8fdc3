package payload

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// readEnd reads the index after its indicator byte and the stream footer,
// compares them with the decoded blocks, and requires the input to end there.
// It returns io.EOF when all of that holds.
func (x *xzReader) readEnd() error {
	size, sum, err := x.readIndex()
	if err != nil {
		return err
	}

	var tail [4 + xzHeaderSize]byte // index CRC32 and stream footer
	if _, err := io.ReadFull(&x.r, tail[:]); err != nil {
		return fmt.Errorf("reading xz index CRC32 and footer: %w", noEOF(err))
	}
	if binary.LittleEndian.Uint32(tail[:4]) != sum {
		return errors.New("xz index CRC32 mismatch")
	}
	if err := x.checkFooter(tail[4:], size+4); err != nil {
		return err
	}

	if _, err := x.r.ReadByte(); !errors.Is(err, io.EOF) {
		if err != nil {
			return err
		}
		return errors.New("data after the xz stream")
	}
	return io.EOF
}

// readIndex reads the index records and padding, compares the records with the
// decoded blocks, and returns the index size without its CRC32 and the CRC32
// computed over it.
func (x *xzReader) readIndex() (int64, uint32, error) {
	crc := crc32.NewIEEE()
	crc.Write([]byte{0}) // the indicator, read by the caller
	r := &teeByteReader{r: &x.r, w: crc}
	count, err := readVarint(r)
	if err != nil {
		return 0, 0, fmt.Errorf("reading xz index: %w", err)
	}
	if count != uint64(len(x.records)) {
		return 0, 0, fmt.Errorf("xz index lists %d blocks, stream has %d", count, len(x.records))
	}

	for i, want := range x.records {
		unpadded, err := readVarint(r)
		if err != nil {
			return 0, 0, fmt.Errorf("reading xz index: %w", err)
		}
		uncompressed, err := readVarint(r)
		if err != nil {
			return 0, 0, fmt.Errorf("reading xz index: %w", err)
		}
		if unpadded != uint64(want.unpadded) || uncompressed != uint64(want.uncompressed) {
			return 0, 0, fmt.Errorf("xz index record %d is (%d, %d), block has (%d, %d)",
				i, unpadded, uncompressed, want.unpadded, want.uncompressed)
		}
	}

	size := 1 + r.n
	for range (4 - size%4) % 4 {
		if c, err := r.ReadByte(); err != nil || c != 0 {
			return 0, 0, errors.New("invalid xz index padding")
		}
		size++
	}
	return size, crc.Sum32(), nil
}

// checkFooter validates the stream footer against the stream flags and the index size.
func (x *xzReader) checkFooter(f []byte, indexSize int64) error {
	if !bytes.Equal(f[10:], xzFooterMagic) {
		return errors.New("missing xz stream footer magic")
	}
	if crc32.ChecksumIEEE(f[4:10]) != binary.LittleEndian.Uint32(f[:4]) {
		return errors.New("xz stream footer CRC32 mismatch")
	}
	if f[8] != 0 || f[9] != x.check {
		return errors.New("xz stream footer flags differ from the header")
	}
	if backward := (int64(binary.LittleEndian.Uint32(f[4:8])) + 1) * 4; backward != indexSize {
		return fmt.Errorf("xz stream footer gives index size %d, index has %d bytes", backward, indexSize)
	}
	return nil
}
