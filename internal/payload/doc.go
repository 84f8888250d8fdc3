// Package payload writes and reads the payload of a parker artifact.
//
// WriteTar writes a deterministic tar stream. A Compressor cuts it into
// fixed-size chunks and compresses each as an independent xz stream.
// NewChunkReader decodes the chunks in parallel, and Unpack extracts the tar
// stream below one directory while List only lists it. docs/FORMAT.md
// describes the format.
package payload
