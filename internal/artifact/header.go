package artifact

import (
	"encoding/json"
	"math"
	"strings"
)

// Chunk locates one independent xz stream of the payload and the part of the
// tar stream it decodes to.
type Chunk struct {
	Offset   int64 `json:"offset"`   // of the chunk's xz stream, relative to payload start
	Length   int64 `json:"length"`   // compressed bytes
	Unpacked int64 `json:"unpacked"` // uncompressed bytes of tar stream in this chunk
}

// Limits are the resource limits the runtime applies to the target's cgroup.
// Zero means no limit.
type Limits struct {
	MemoryBytes int64   `json:"memory_bytes,omitempty"`
	Pids        int64   `json:"pids,omitempty"`
	CPUs        float64 `json:"cpus,omitempty"`
}

// Header is the JSON document between the payload and the trailer.
type Header struct {
	Format        uint32   `json:"format"`
	ParkerVersion string   `json:"parker_version"`
	Target        string   `json:"target"` // slash path relative to workdir, e.g. "bin/app"
	Entries       int64    `json:"entries"`
	UnpackedSize  int64    `json:"unpacked_size"` // tar stream bytes (same as trailer)
	FileBytes     int64    `json:"file_bytes"`    // sum of regular file sizes
	ChunkSize     int64    `json:"chunk_size"`
	Chunks        []Chunk  `json:"chunks"`
	Filters       []string `json:"filters,omitempty"` // reserved for reversible pre-compression filters
	Persist       []string `json:"persist,omitempty"` // slash paths relative to workdir
	Limits        Limits   `json:"limits,omitempty"`
	Cache         bool     `json:"cache,omitempty"`
}

// parseHeader decodes the header JSON and checks it against the trailer.
// Unknown fields are ignored so that a format-1 reader accepts additions that
// do not change how the payload is read.
func parseHeader(b []byte, t *Trailer) (*Header, error) {
	var h Header
	if err := json.Unmarshal(b, &h); err != nil {
		return nil, damagedf("invalid header JSON: %v", err)
	}
	if err := h.check(t); err != nil {
		return nil, err
	}
	return &h, nil
}

// check validates h against the trailer t that points to it.
func (h *Header) check(t *Trailer) error {
	if uint64(h.Format) != uint64(t.Version) {
		return damagedf("header format %d differs from trailer version %d", h.Format, t.Version)
	}
	if h.Entries < 0 || uint64(h.Entries) != t.EntryCount {
		return damagedf("header entries %d differ from trailer entry count %d", h.Entries, t.EntryCount)
	}
	if h.UnpackedSize < 0 || uint64(h.UnpackedSize) != t.UnpackedSize {
		return damagedf("header unpacked size %d differs from trailer unpacked size %d",
			h.UnpackedSize, t.UnpackedSize)
	}
	if h.FileBytes < 0 || h.FileBytes > h.UnpackedSize {
		return damagedf("header file bytes %d outside [0, %d]", h.FileBytes, h.UnpackedSize)
	}
	if !localPath(h.Target) {
		return damagedf("header target %q is not a relative path inside the payload", h.Target)
	}
	for _, p := range h.Persist {
		if !localPath(p) {
			return damagedf("header persist path %q is not a relative path inside the payload", p)
		}
	}
	if len(h.Filters) > 0 {
		return damagedf("header lists payload filters %q, which format %d does not define", h.Filters, h.Format)
	}
	if err := h.Limits.check(); err != nil {
		return err
	}
	return checkChunks(h.Chunks, h.ChunkSize, int64(t.PayloadLength), h.UnpackedSize)
}

func (l *Limits) check() error {
	if l.MemoryBytes < 0 || l.Pids < 0 {
		return damagedf("negative limit in header: memory %d, pids %d", l.MemoryBytes, l.Pids)
	}
	if l.CPUs < 0 || math.IsNaN(l.CPUs) || math.IsInf(l.CPUs, 0) {
		return damagedf("invalid cpus limit %v in header", l.CPUs)
	}
	return nil
}

// checkChunks verifies that the chunks tile the payload exactly, in order and
// without gaps, and that their unpacked sizes add up to unpackedSize.
func checkChunks(chunks []Chunk, chunkSize, payloadLength, unpackedSize int64) error {
	if chunkSize <= 0 {
		return damagedf("header chunk size %d is not positive", chunkSize)
	}
	var offset, unpacked int64
	for i, c := range chunks {
		if c.Offset != offset {
			return damagedf("chunk %d starts at %d, want %d", i, c.Offset, offset)
		}
		if c.Length <= 0 || c.Unpacked <= 0 {
			return damagedf("chunk %d has length %d and unpacked size %d, want both positive",
				i, c.Length, c.Unpacked)
		}
		if c.Unpacked > chunkSize {
			return damagedf("chunk %d unpacks to %d bytes, more than chunk size %d", i, c.Unpacked, chunkSize)
		}
		if c.Length > payloadLength-offset {
			return damagedf("chunk %d (offset %d, length %d) ends past the payload length %d",
				i, c.Offset, c.Length, payloadLength)
		}
		if c.Unpacked > unpackedSize-unpacked {
			return damagedf("chunks unpack to more than the unpacked size %d", unpackedSize)
		}
		offset += c.Length
		unpacked += c.Unpacked
	}
	if offset != payloadLength {
		return damagedf("chunks cover %d bytes, want payload length %d", offset, payloadLength)
	}
	if unpacked != unpackedSize {
		return damagedf("chunks unpack to %d bytes, want unpacked size %d", unpacked, unpackedSize)
	}
	return nil
}

// localPath reports whether p is a clean, relative slash path that stays
// inside the payload: not empty, no leading slash, no empty, "." or ".."
// element and no NUL byte. The payload package applies the same rule to
// entry names.
func localPath(p string) bool {
	if p == "" || strings.IndexByte(p, 0) >= 0 || strings.HasPrefix(p, "/") {
		return false
	}
	for elem := range strings.SplitSeq(p, "/") {
		if elem == "" || elem == "." || elem == ".." {
			return false
		}
	}
	return true
}
