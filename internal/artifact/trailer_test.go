package artifact

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/parkerpack/parker/internal/version"
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
	tests := []struct {
		err  *VersionError
		want string
	}{
		{&VersionError{Version: 2},
			"artifact: format version 2 needs a parker newer than this one (" + version.String() + "), which reads format 1"},
		{&VersionError{Version: 3, ParkerVersion: "2.5.0"},
			"artifact: format version 3 needs parker 2.5.0 or newer, which wrote it; this parker " + version.String() + " reads format 1"},
	}
	for _, tc := range tests {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("VersionError%+v.Error() = %q, want %q", *tc.err, got, tc.want)
		}
		if errors.Is(tc.err, ErrDamaged) {
			t.Errorf("errors.Is(VersionError%+v, ErrDamaged) = true, want false", *tc.err)
		}
	}
}
