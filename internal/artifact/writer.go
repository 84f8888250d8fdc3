package artifact

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
)

// Writer appends payload, header and trailer after a stub that the caller already wrote to w.
type Writer struct {
	w             io.Writer
	stubSize      int64
	payloadLength int64
	hash          hash.Hash
	finished      bool
}

// NewWriter returns a Writer whose payload starts at offset stubSize of the file.
func NewWriter(w io.Writer, stubSize int64) *Writer {
	return &Writer{w: w, stubSize: stubSize, hash: sha256.New()}
}

// Write writes payload bytes, counting and hashing them.
func (w *Writer) Write(p []byte) (int, error) {
	if w.finished {
		return 0, errors.New("artifact: write after Finish")
	}
	n, err := w.w.Write(p)
	w.hash.Write(p[:n])
	w.payloadLength += int64(n)
	return n, err
}

// Finish writes the header JSON and the trailer. It sets the header's Format,
// UnpackedSize and Entries from the arguments and fails without writing anything
// if the result would not pass Open, for example when the chunk table does not
// tile the payload written so far.
func (w *Writer) Finish(h *Header, unpackedSize, entries uint64) error {
	if w.finished {
		return errors.New("artifact: Finish called twice")
	}
	if w.stubSize <= 0 {
		return fmt.Errorf("artifact: stub size %d is not positive", w.stubSize)
	}
	hb, t, err := w.build(h, unpackedSize, entries)
	if err != nil {
		return fmt.Errorf("finishing artifact: %w", err)
	}

	w.finished = true
	if _, err := w.w.Write(hb); err != nil {
		return fmt.Errorf("writing header: %w", err)
	}
	if _, err := w.w.Write(t.Marshal()); err != nil {
		return fmt.Errorf("writing trailer: %w", err)
	}
	return nil
}

// build encodes a copy of h and the trailer that points to it, and validates both.
func (w *Writer) build(h *Header, unpackedSize, entries uint64) ([]byte, *Trailer, error) {
	hdr := *h
	hdr.Format = FormatVersion
	hdr.UnpackedSize = int64(unpackedSize)
	hdr.Entries = int64(entries)
	hb, err := json.Marshal(&hdr)
	if err != nil {
		return nil, nil, fmt.Errorf("encoding header: %w", err)
	}
	hb = append(hb, '\n')

	t := &Trailer{
		Version:       FormatVersion,
		PayloadOffset: uint64(w.stubSize),
		PayloadLength: uint64(w.payloadLength),
		HeaderOffset:  uint64(w.stubSize + w.payloadLength),
		HeaderLength:  uint64(len(hb)),
		UnpackedSize:  unpackedSize,
		EntryCount:    entries,
		HeaderSHA256:  sha256.Sum256(hb),
	}
	copy(t.PayloadSHA256[:], w.hash.Sum(nil))
	if err := w.check(t, hb); err != nil {
		return nil, nil, err
	}
	return hb, t, nil
}

// check applies Open's validation to the trailer and header about to be written.
func (w *Writer) check(t *Trailer, hb []byte) error {
	if err := t.check(); err != nil {
		return err
	}
	size := t.HeaderOffset + t.HeaderLength + TrailerSize
	if size > maxInt64 {
		return fmt.Errorf("artifact size %d does not fit in int64", size)
	}
	if err := checkLayout(t, int64(size)); err != nil {
		return err
	}
	_, err := parseHeader(hb, t)
	return err
}
