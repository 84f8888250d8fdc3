package artifact

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"io"
)

// checkNewerVersion examines the header that the format-1 trailer fields of b,
// a trailer whose version is newer than FormatVersion, point to. When that
// header passes the checksum in b, its "format" field either confirms the
// version, and ve learns which parker wrote the artifact, or contradicts it,
// and the version field is damaged. Otherwise nothing more is known and ve is
// returned as is.
//
// NOTE: this assumes that newer formats keep the header offset, length and
// checksum where format 1 has them. A format that moves them only loses the
// writer's version from the message, because the checksum then fails.
func checkNewerVersion(r io.ReaderAt, size int64, b []byte, ve *VersionError) error {
	le := binary.LittleEndian
	off, n := le.Uint64(b[offHeaderOffset:]), le.Uint64(b[offHeaderLength:])
	end := uint64(size) - TrailerSize
	if n == 0 || n > MaxHeaderLength || off > end || n != end-off {
		return ve
	}
	hb := make([]byte, n)
	if _, err := r.ReadAt(hb, int64(off)); err != nil {
		return ve
	}
	if sha256.Sum256(hb) != [32]byte(b[offHeaderSHA256:offHeaderSHA256+32]) {
		return ve
	}
	var h struct {
		Format        *uint32 `json:"format"`
		ParkerVersion string  `json:"parker_version"`
	}
	if json.Unmarshal(hb, &h) != nil || h.Format == nil {
		return ve
	}
	if *h.Format != ve.Version {
		return damagedf("trailer format version %d differs from header format %d", ve.Version, *h.Format)
	}
	ve.ParkerVersion = h.ParkerVersion
	return ve
}
