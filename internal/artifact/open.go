package artifact

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// Artifact is an opened artifact whose trailer and header passed validation.
type Artifact struct {
	Trailer Trailer
	Header  Header
	Size    int64 // file size
	r       io.ReaderAt
}

// Open parses and validates the trailer and the header, including the header
// checksum and that the chunk table tiles the payload exactly and sums to
// UnpackedSize. It does not hash the payload: VerifyPayload does.
func Open(r io.ReaderAt, size int64) (*Artifact, error) {
	if size < 0 {
		return nil, fmt.Errorf("opening artifact: negative size %d", size)
	}
	t, err := readTrailer(r, size)
	if err != nil {
		return nil, err
	}
	if err := checkLayout(t, size); err != nil {
		return nil, err
	}
	hb := make([]byte, t.HeaderLength)
	if _, err := r.ReadAt(hb, int64(t.HeaderOffset)); err != nil {
		return nil, readError("reading header", err)
	}
	if sha256.Sum256(hb) != t.HeaderSHA256 {
		return nil, damagedf("header checksum mismatch")
	}
	h, err := parseHeader(hb, t)
	if err != nil {
		return nil, err
	}
	return &Artifact{Trailer: *t, Header: *h, Size: size, r: r}, nil
}

// OpenFile opens the artifact at path. The caller closes the returned file,
// which backs the artifact's payload reads. Its errors do not repeat path, so
// that the caller names the file once, as in "PATH: artifact: damaged: ...".
func OpenFile(path string) (*Artifact, *os.File, error) {
	// O_NONBLOCK keeps the open from waiting for a writer when path is a FIFO,
	// which the mode check below then rejects.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, withoutPath(err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, withoutPath(err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, fmt.Errorf("%w: %s", ErrNotArtifact, fileType(fi.Mode()))
	}
	a, err := Open(f, fi.Size())
	if err != nil {
		f.Close()
		return nil, nil, withoutPath(err)
	}
	return a, f, nil
}

// withoutPath returns the errno inside err when err is an *fs.PathError,
// and err itself otherwise.
func withoutPath(err error) error {
	if pe, ok := err.(*fs.PathError); ok {
		return pe.Err
	}
	return err
}

func fileType(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "not a regular file"
}

// Payload returns a reader over the compressed payload.
func (a *Artifact) Payload() *io.SectionReader {
	return io.NewSectionReader(a.r, int64(a.Trailer.PayloadOffset), int64(a.Trailer.PayloadLength))
}

// StubSize returns the length of the runtime stub, which is the payload offset.
func (a *Artifact) StubSize() int64 {
	return int64(a.Trailer.PayloadOffset)
}

// VerifyPayload hashes the payload and compares it with the trailer's SHA-256.
func (a *Artifact) VerifyPayload() error {
	h := sha256.New()
	n, err := io.CopyBuffer(h, a.Payload(), make([]byte, 256<<10))
	if err != nil {
		return readError("reading payload", err)
	}
	if n != int64(a.Trailer.PayloadLength) {
		return damagedf("payload is %d bytes, want %d", n, a.Trailer.PayloadLength)
	}
	if !bytes.Equal(h.Sum(nil), a.Trailer.PayloadSHA256[:]) {
		return damagedf("payload checksum mismatch")
	}
	return nil
}

// readError wraps err, treating an unexpected end of file as damage.
func readError(context string, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%s: %w: file ends early", context, ErrDamaged)
	}
	return fmt.Errorf("%s: %w", context, err)
}
