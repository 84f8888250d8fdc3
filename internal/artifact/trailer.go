package artifact

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// Trailer is the fixed-size record in the last TrailerSize bytes of an artifact.
// All offsets count bytes from the start of the file.
type Trailer struct {
	Version, Flags uint32

	PayloadOffset, PayloadLength uint64
	HeaderOffset, HeaderLength   uint64
	UnpackedSize                 uint64 // length of the uncompressed tar stream
	EntryCount                   uint64 // number of tar entries

	PayloadSHA256, HeaderSHA256 [32]byte
}

// Byte offsets of the trailer fields; all integers are little-endian.
const (
	offVersion       = 0
	offFlags         = 4
	offPayloadOffset = 8
	offPayloadLength = 16
	offHeaderOffset  = 24
	offHeaderLength  = 32
	offUnpackedSize  = 40
	offEntryCount    = 48
	offPayloadSHA256 = 56
	offHeaderSHA256  = 88
	offMagic         = 120
)

// Marshal encodes t into TrailerSize bytes, including the magic.
func (t *Trailer) Marshal() []byte {
	b := make([]byte, TrailerSize)
	le := binary.LittleEndian
	le.PutUint32(b[offVersion:], t.Version)
	le.PutUint32(b[offFlags:], t.Flags)
	le.PutUint64(b[offPayloadOffset:], t.PayloadOffset)
	le.PutUint64(b[offPayloadLength:], t.PayloadLength)
	le.PutUint64(b[offHeaderOffset:], t.HeaderOffset)
	le.PutUint64(b[offHeaderLength:], t.HeaderLength)
	le.PutUint64(b[offUnpackedSize:], t.UnpackedSize)
	le.PutUint64(b[offEntryCount:], t.EntryCount)
	copy(b[offPayloadSHA256:], t.PayloadSHA256[:])
	copy(b[offHeaderSHA256:], t.HeaderSHA256[:])
	copy(b[offMagic:], Magic[:])
	return b
}

// ParseTrailer decodes a trailer and checks the fields that do not depend on the
// file size: magic, version, flags and that every integer fits in an int64.
// Open checks the layout against the file.
func ParseTrailer(b []byte) (*Trailer, error) {
	if len(b) != TrailerSize {
		return nil, fmt.Errorf("parsing trailer: %w: got %d bytes, want %d", ErrDamaged, len(b), TrailerSize)
	}
	if !bytes.Equal(b[offMagic:], Magic[:]) {
		return nil, ErrNotArtifact
	}
	le := binary.LittleEndian
	t := &Trailer{
		Version:       le.Uint32(b[offVersion:]),
		Flags:         le.Uint32(b[offFlags:]),
		PayloadOffset: le.Uint64(b[offPayloadOffset:]),
		PayloadLength: le.Uint64(b[offPayloadLength:]),
		HeaderOffset:  le.Uint64(b[offHeaderOffset:]),
		HeaderLength:  le.Uint64(b[offHeaderLength:]),
		UnpackedSize:  le.Uint64(b[offUnpackedSize:]),
		EntryCount:    le.Uint64(b[offEntryCount:]),
	}
	copy(t.PayloadSHA256[:], b[offPayloadSHA256:])
	copy(t.HeaderSHA256[:], b[offHeaderSHA256:])
	if err := t.check(); err != nil {
		return nil, err
	}
	return t, nil
}

// check validates the fields of a version-1 trailer in isolation.
func (t *Trailer) check() error {
	if t.Version > FormatVersion {
		return &VersionError{Version: t.Version}
	}
	if t.Version == 0 {
		return damagedf("trailer format version is 0")
	}
	if t.Flags != 0 {
		return damagedf("trailer flags are %#x, want 0", t.Flags)
	}
	fields := []struct {
		name  string
		value uint64
	}{
		{"payload offset", t.PayloadOffset},
		{"payload length", t.PayloadLength},
		{"header offset", t.HeaderOffset},
		{"header length", t.HeaderLength},
		{"unpacked size", t.UnpackedSize},
		{"entry count", t.EntryCount},
	}
	for _, f := range fields {
		if f.value > maxInt64 {
			return damagedf("trailer %s %d does not fit in int64", f.name, f.value)
		}
	}
	return nil
}

const maxInt64 = 1<<63 - 1
