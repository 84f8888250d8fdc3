package artifact

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func FuzzParseTrailer(f *testing.F) {
	f.Add((&Trailer{Version: 1}).Marshal())
	f.Fuzz(func(t *testing.T, b []byte) {
		tr, err := ParseTrailer(b)
		if err != nil {
			var ve *VersionError
			if !errors.Is(err, ErrDamaged) && !errors.Is(err, ErrNotArtifact) && !errors.As(err, &ve) {
				t.Fatalf("ParseTrailer() error = %v, want ErrDamaged, ErrNotArtifact or *VersionError", err)
			}
			return
		}
		if got := tr.Marshal(); !bytes.Equal(got, b) {
			t.Fatalf("Marshal(ParseTrailer(b)) = %x, want %x", got, b)
		}
	})
}

// FuzzOpen opens each input as is and again with the trailer's header checksum
// corrected, so that the fuzzer also reaches the header and chunk table checks.
func FuzzOpen(f *testing.F) {
	f.Add(validArtifact(f))
	f.Fuzz(func(t *testing.T, b []byte) {
		fuzzOpenOnce(t, b)
		if fixed := withHeaderChecksum(b); fixed != nil {
			fuzzOpenOnce(t, fixed)
		}
	})
}

func fuzzOpenOnce(t *testing.T, b []byte) {
	a, err := openBytes(b)
	if err != nil {
		var ve *VersionError
		if !errors.Is(err, ErrDamaged) && !errors.Is(err, ErrNotArtifact) && !errors.As(err, &ve) {
			t.Fatalf("Open() error = %v, want ErrDamaged, ErrNotArtifact or *VersionError", err)
		}
		return
	}
	checkOpened(t, a, b)
}

// withHeaderChecksum returns a copy of b whose trailer holds the SHA-256 of the
// header range it points to, or nil if that range is not inside b.
func withHeaderChecksum(b []byte) []byte {
	if len(b) < TrailerSize {
		return nil
	}
	tr := b[len(b)-TrailerSize:]
	off := binary.LittleEndian.Uint64(tr[offHeaderOffset:])
	n := binary.LittleEndian.Uint64(tr[offHeaderLength:])
	if off > uint64(len(b)) || n > uint64(len(b))-off {
		return nil
	}
	fixed := bytes.Clone(b)
	sum := sha256.Sum256(b[off : off+n])
	copy(fixed[len(b)-TrailerSize+offHeaderSHA256:], sum[:])
	return fixed
}

// checkOpened verifies the guarantees of a successful Open against the raw bytes.
func checkOpened(t *testing.T, a *Artifact, b []byte) {
	tr := a.Trailer
	if !bytes.Equal(tr.Marshal(), b[len(b)-TrailerSize:]) {
		t.Fatal("Open() accepted a trailer that does not re-encode to the file's last bytes")
	}
	if tr.PayloadOffset == 0 || tr.PayloadOffset+tr.PayloadLength != tr.HeaderOffset ||
		tr.HeaderOffset+tr.HeaderLength != uint64(len(b)-TrailerSize) {
		t.Fatalf("Open() accepted an inconsistent layout: %+v for %d bytes", tr, len(b))
	}
	var offset, unpacked int64
	for _, c := range a.Header.Chunks {
		if c.Offset != offset || c.Length <= 0 || c.Unpacked <= 0 {
			t.Fatalf("Open() accepted chunk %+v at offset %d", c, offset)
		}
		offset += c.Length
		unpacked += c.Unpacked
	}
	if offset != int64(tr.PayloadLength) || unpacked != a.Header.UnpackedSize {
		t.Fatalf("Open() accepted chunks covering %d/%d bytes, want %d/%d",
			offset, unpacked, tr.PayloadLength, a.Header.UnpackedSize)
	}
	if !localPath(a.Header.Target) {
		t.Fatalf("Open() accepted target %q outside the payload", a.Header.Target)
	}
	for _, p := range a.Header.Persist {
		if !localPath(p) {
			t.Fatalf("Open() accepted persist path %q outside the payload", p)
		}
	}
	if err := a.VerifyPayload(); err != nil && !errors.Is(err, ErrDamaged) {
		t.Fatalf("VerifyPayload() error = %v, want nil or ErrDamaged", err)
	}
}

// TestWriteFuzzSeeds regenerates the committed seed corpora under testdata/fuzz.
// Run it with PARKER_WRITE_FUZZ_SEEDS=1 after changing a rejection rule.
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("PARKER_WRITE_FUZZ_SEEDS") != "1" {
		t.Skip("set PARKER_WRITE_FUZZ_SEEDS=1 to rewrite testdata/fuzz")
	}
	valid := validArtifact(t)
	open := map[string][]byte{
		"valid":              valid,
		"truncated trailer":  valid[:len(valid)-1],
		"truncated header":   valid[:len(valid)-TrailerSize-1],
		"truncated payload":  valid[:len(testStub)+1],
		"truncated in magic": valid[:len(valid)-4],
	}
	for _, tc := range openRejectCases(t) {
		open[tc.name] = tc.in
	}
	trailer := map[string][]byte{"valid": (&Trailer{Version: 1}).Marshal()}
	for _, tc := range parseTrailerCases() {
		trailer[tc.name] = tc.in
	}
	writeSeeds(t, "FuzzOpen", open)
	writeSeeds(t, "FuzzParseTrailer", trailer)
}

func writeSeeds(t *testing.T, fuzzer string, seeds map[string][]byte) {
	dir := filepath.Join("testdata", "fuzz", fuzzer)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range seeds {
		if len(b) > 64<<10 {
			continue // keep the committed corpus small
		}
		file := filepath.Join(dir, "seed-"+strings.ReplaceAll(name, " ", "-"))
		content := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
		if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
