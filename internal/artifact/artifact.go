// Package artifact reads and writes the container layout of a parker artifact:
// a runtime stub, a compressed payload, a JSON header and a fixed-size trailer.
// docs/FORMAT.md describes the layout byte by byte.
package artifact

import (
	"errors"
	"fmt"

	"github.com/parkerpack/parker/internal/version"
)

// TrailerSize is the length in bytes of the trailer at the end of every artifact.
const TrailerSize = 128

// FormatVersion is the newest artifact format this package reads and the one it writes.
const FormatVersion = 1

// MaxHeaderLength bounds the header JSON so that a damaged length field cannot make
// Open allocate an arbitrary amount of memory.
const MaxHeaderLength = 16 << 20

// Magic ends every artifact.
var Magic = [8]byte{0x7f, 'P', 'A', 'R', 'K', 'E', 'R', '\n'}

var (
	// ErrNotArtifact is returned for a file that does not contain the magic.
	ErrNotArtifact = errors.New("artifact: not a parker artifact")
	// ErrDamaged is wrapped by every error that reports a truncated, extended or
	// corrupted artifact. The user's remedy is to copy the file again.
	ErrDamaged = errors.New("artifact: damaged")
)

// VersionError reports an artifact written in a format newer than FormatVersion.
// It does not match ErrDamaged: the file may be intact, but this parker is too old.
type VersionError struct {
	Version uint32
	// ParkerVersion is the version of the parker that wrote the artifact, read
	// from its header when the header passed its checksum; empty otherwise.
	ParkerVersion string
}

func (e *VersionError) Error() string {
	if e.ParkerVersion != "" {
		return fmt.Sprintf("artifact: format version %d needs parker %s or newer, which wrote it; this parker %s reads format %d",
			e.Version, e.ParkerVersion, version.String(), FormatVersion)
	}
	return fmt.Sprintf("artifact: format version %d needs a parker newer than this one (%s), which reads format %d",
		e.Version, version.String(), FormatVersion)
}

// damagedf returns an error that wraps ErrDamaged with the formatted detail.
func damagedf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrDamaged, fmt.Sprintf(format, args...))
}
