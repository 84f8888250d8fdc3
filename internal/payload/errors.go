package payload

import "errors"

var (
	// ErrInvalidEntry is wrapped by errors for a tar entry that List and Unpack
	// reject: an unsafe or repeated name, an unsupported type, a hard link to
	// something other than an earlier regular file, or a name below a symlink.
	ErrInvalidEntry = errors.New("payload: invalid entry")
	// ErrLimit is wrapped by errors for a payload above UnpackOptions.MaxBytes or
	// UnpackOptions.MaxEntries.
	ErrLimit = errors.New("payload: limit exceeded")
	// ErrMismatch is wrapped by ListMatching's error for a tar stream with fewer
	// entries or file bytes than the header records.
	ErrMismatch = errors.New("payload: tar stream does not match the header")
	// ErrChanged is wrapped by WriteTar's error for a file whose size or
	// modification time differs from its Entry, or whose content ended early or
	// grew while it was being read.
	ErrChanged = errors.New("payload: file changed while packing")
)
