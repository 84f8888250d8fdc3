package artifact

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

func TestTrailerRoundTrip(t *testing.T) {
	want := Trailer{
		Version: 1, PayloadOffset: 1, PayloadLength: 2, HeaderOffset: 3, HeaderLength: 4,
		UnpackedSize: 5, EntryCount: 6,
	}
	want.PayloadSHA256[0] = 0xaa
	want.HeaderSHA256[31] = 0xbb
	b := want.Marshal()
	if len(b) != TrailerSize {
		t.Fatalf("len(Marshal()) = %d, want %d", len(b), TrailerSize)
	}
	if !bytes.Equal(b[TrailerSize-8:], Magic[:]) {
		t.Errorf("Marshal() ends with %q, want magic %q", b[TrailerSize-8:], Magic[:])
	}
	got, err := ParseTrailer(b)
	if err != nil {
		t.Fatalf("ParseTrailer(Marshal()) error: %v", err)
	}
	if *got != want {
		t.Errorf("ParseTrailer(Marshal()) = %+v, want %+v", *got, want)
	}
}

func TestTrailerFieldOffsets(t *testing.T) {
	tr := Trailer{Version: 1, PayloadOffset: 0x1111, PayloadLength: 0x2222, HeaderOffset: 0x3333,
		HeaderLength: 0x4444, UnpackedSize: 0x5555, EntryCount: 0x6666}
	b := tr.Marshal()
	le := binary.LittleEndian
	for _, tc := range []struct {
		off  int
		want uint64
	}{{8, 0x1111}, {16, 0x2222}, {24, 0x3333}, {32, 0x4444}, {40, 0x5555}, {48, 0x6666}} {
		if got := le.Uint64(b[tc.off:]); got != tc.want {
			t.Errorf("trailer bytes %d..%d = %#x, want %#x", tc.off, tc.off+8, got, tc.want)
		}
	}
	if got := le.Uint32(b[0:]); got != 1 {
		t.Errorf("trailer version field = %d, want 1", got)
	}
}

type trailerCase struct {
	name    string
	in      []byte
	want    error
	version uint32 // nonzero: want *VersionError with this version
}

// parseTrailerCases returns trailers that ParseTrailer must reject.
func parseTrailerCases() []trailerCase {
	valid := (&Trailer{Version: 1}).Marshal()
	edit := func(f func(b []byte)) []byte {
		b := bytes.Clone(valid)
		f(b)
		return b
	}
	put64 := func(off int, v uint64) []byte {
		return edit(func(b []byte) { binary.LittleEndian.PutUint64(b[off:], v) })
	}
	return []trailerCase{
		{name: "short", in: valid[:127], want: ErrDamaged},
		{name: "long", in: append(bytes.Clone(valid), 0), want: ErrDamaged},
		{name: "bad magic", in: edit(func(b []byte) { b[127] ^= 1 }), want: ErrNotArtifact},
		{name: "version zero", in: edit(func(b []byte) { b[0] = 0 }), want: ErrDamaged},
		{name: "future version", in: edit(func(b []byte) { b[0] = 2 }), version: 2},
		{name: "flags", in: edit(func(b []byte) { b[4] = 1 }), want: ErrDamaged},
		{name: "payload offset overflow", in: put64(8, 1<<63), want: ErrDamaged},
		{name: "payload length overflow", in: put64(16, 1<<63), want: ErrDamaged},
		{name: "header offset overflow", in: put64(24, ^uint64(0)), want: ErrDamaged},
		{name: "header length overflow", in: put64(32, 1<<63), want: ErrDamaged},
		{name: "unpacked size overflow", in: put64(40, 1<<63), want: ErrDamaged},
		{name: "entry count overflow", in: put64(48, 1<<63), want: ErrDamaged},
	}
}

func TestParseTrailerRejects(t *testing.T) {
	for _, tc := range parseTrailerCases() {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseTrailer(tc.in)
			if tc.version != 0 {
				var ve *VersionError
				if !errors.As(err, &ve) || ve.Version != tc.version {
					t.Fatalf("ParseTrailer() error = %v, want *VersionError{%d}", err, tc.version)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("ParseTrailer() error = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestVersionErrorMessage(t *testing.T) {
	err := error(&VersionError{Version: 2})
	want := "artifact: format version 2 is newer than this parker supports (1); use a newer parker"
	if err.Error() != want {
		t.Errorf("VersionError.Error() = %q, want %q", err.Error(), want)
	}
	if errors.Is(err, ErrDamaged) {
		t.Error("errors.Is(VersionError, ErrDamaged) = true, want false")
	}
	if !strings.Contains(err.Error(), "newer parker") {
		t.Errorf("VersionError.Error() = %q, want it to name the fix", err.Error())
	}
}
