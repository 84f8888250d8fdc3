package artifact

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// readTrailer reads and parses the last TrailerSize bytes of the file. When the
// magic is not at the end, it distinguishes a damaged artifact from another
// file by looking for the magic elsewhere (see findMagic).
func readTrailer(r io.ReaderAt, size int64) (*Trailer, error) {
	if size >= TrailerSize {
		b := make([]byte, TrailerSize)
		if _, err := r.ReadAt(b, size-TrailerSize); err != nil {
			return nil, readError("reading trailer", err)
		}
		if bytes.Equal(b[offMagic:], Magic[:]) {
			t, err := ParseTrailer(b)
			var ve *VersionError
			if errors.As(err, &ve) {
				return nil, checkNewerVersion(r, size, b, ve)
			}
			return t, err
		}
	}
	found, err := findMagic(r, size)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, ErrNotArtifact
	}
	// The runtime stub, and the parker command that doubles as one, contain
	// the magic too. An ELF file that ends exactly where its image ends has
	// nothing appended: it is such an executable, not a damaged artifact.
	if n, ok := elfImageSize(r); ok && n == size {
		return nil, fmt.Errorf("%w: an executable with no parker payload", ErrNotArtifact)
	}
	return nil, damagedf("trailer not at end of file (file truncated or extended)")
}

// checkLayout verifies that payload, header and trailer are contiguous and end
// exactly at the end of the file. ParseTrailer has ensured every field fits in an
// int64, so the sums below cannot overflow an uint64.
func checkLayout(t *Trailer, size int64) error {
	end := uint64(size) - TrailerSize
	if t.PayloadOffset == 0 {
		return damagedf("payload offset is 0")
	}
	if t.PayloadOffset+t.PayloadLength != t.HeaderOffset {
		return damagedf("payload (offset %d, length %d) does not end at header offset %d",
			t.PayloadOffset, t.PayloadLength, t.HeaderOffset)
	}
	if t.HeaderOffset+t.HeaderLength != end {
		return damagedf("header (offset %d, length %d) does not end at trailer offset %d",
			t.HeaderOffset, t.HeaderLength, end)
	}
	if t.HeaderLength == 0 || t.HeaderLength > MaxHeaderLength {
		return damagedf("header length %d outside [1, %d]", t.HeaderLength, MaxHeaderLength)
	}
	return nil
}

// Regions searched for a misplaced magic. A parker runtime stub embeds the magic
// in its data, so an artifact cut short anywhere after the stub still contains
// it near the start, while bytes appended to an artifact leave the old trailer
// near the end.
const (
	magicSearchHead = 64 << 20
	magicSearchTail = 1 << 20
)

// findMagic reports whether Magic occurs in the first magicSearchHead or the last
// magicSearchTail bytes of the file.
func findMagic(r io.ReaderAt, size int64) (bool, error) {
	head := min(size, magicSearchHead)
	found, err := containsMagic(io.NewSectionReader(r, 0, head))
	if found || err != nil || head == size {
		return found, err
	}
	tailStart := max(head, size-magicSearchTail) - int64(len(Magic)-1)
	return containsMagic(io.NewSectionReader(r, tailStart, size-tailStart))
}

// containsMagic scans r for Magic, including occurrences that span two reads.
func containsMagic(r io.Reader) (bool, error) {
	const overlap = len(Magic) - 1
	buf := make([]byte, 256<<10)
	kept := 0
	for {
		n, err := r.Read(buf[kept:])
		total := kept + n
		if bytes.Contains(buf[:total], Magic[:]) {
			return true, nil
		}
		if err == io.EOF {
			return false, nil
		}
		if err != nil {
			return false, readError("searching for magic", err)
		}
		kept = min(overlap, total)
		copy(buf, buf[total-kept:total])
	}
}
