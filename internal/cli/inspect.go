package cli

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/parkerpack/parker/internal/artifact"
	"github.com/parkerpack/parker/internal/payload"
)

// artifactError is an artifact problem, prefixed with the file's path.
type artifactError struct {
	path string
	err  error
}

func (e *artifactError) Error() string {
	return fmt.Sprintf("%s: %v", e.path, e.err)
}

func (e *artifactError) Unwrap() error { return e.err }

func openArtifact(flags *parsedFlags, operands int) (*artifact.Artifact, *os.File, error) {
	if len(flags.operands) != operands {
		return nil, nil, usageErrorf("expected %d operands, got %d", operands, len(flags.operands))
	}
	path := flags.operands[0]
	art, f, err := artifact.OpenFile(path)
	if err != nil {
		return nil, nil, &artifactError{path: path, err: err}
	}
	return art, f, nil
}

func runVerify(flags *parsedFlags, stdout io.Writer) error {
	art, f, err := openArtifact(flags, 1)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := art.VerifyPayload(); err != nil {
		return &artifactError{path: flags.operands[0], err: err}
	}
	entries, err := listEntries(art)
	if err != nil {
		return &artifactError{path: flags.operands[0], err: err}
	}
	fmt.Fprintf(stdout, "%s: ok (%d entries, payload sha256 %s)\n", flags.operands[0], len(entries), hex.EncodeToString(art.Trailer.PayloadSHA256[:]))
	return nil
}

func listEntries(art *artifact.Artifact) ([]payload.ListEntry, error) {
	r := payload.NewChunkReader(art.Payload(), art.Header.Chunks, 2)
	defer r.Close()
	return payload.List(r)
}

// listing is the --list --json document.
type listing struct {
	Path          string              `json:"path"`
	Size          int64               `json:"size"`
	StubSize      int64               `json:"stub_size"`
	PayloadSize   int64               `json:"payload_size"`
	PayloadSHA256 string              `json:"payload_sha256"`
	Header        artifact.Header     `json:"header"`
	Files         []payload.ListEntry `json:"files"`
}

func runList(flags *parsedFlags, stdout io.Writer) error {
	art, f, err := openArtifact(flags, 1)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := art.VerifyPayload(); err != nil {
		return &artifactError{path: flags.operands[0], err: err}
	}
	entries, err := listEntries(art)
	if err != nil {
		return &artifactError{path: flags.operands[0], err: err}
	}
	l := listing{
		Path:          flags.operands[0],
		Size:          art.Size,
		StubSize:      art.StubSize(),
		PayloadSize:   int64(art.Trailer.PayloadLength),
		PayloadSHA256: hex.EncodeToString(art.Trailer.PayloadSHA256[:]),
		Header:        art.Header,
		Files:         entries,
	}
	if flags.bool("json") {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(l)
	}
	h := art.Header
	fmt.Fprintf(stdout, "artifact:       %s\n", l.Path)
	fmt.Fprintf(stdout, "parker version: %s (format %d)\n", h.ParkerVersion, h.Format)
	fmt.Fprintf(stdout, "target:         %s\n", h.Target)
	fmt.Fprintf(stdout, "entries:        %d\n", h.Entries)
	fmt.Fprintf(stdout, "unpacked:       %s (%d bytes of files)\n", humanBytes(h.UnpackedSize), h.FileBytes)
	fmt.Fprintf(stdout, "packed:         %s (runtime %s, payload %s in %d chunks)\n", humanBytes(l.Size), humanBytes(l.StubSize), humanBytes(l.PayloadSize), len(h.Chunks))
	fmt.Fprintf(stdout, "payload sha256: %s\n", l.PayloadSHA256)
	if len(h.Persist) > 0 {
		fmt.Fprintf(stdout, "persist:        %v\n", h.Persist)
	}
	if h.Limits != (artifact.Limits{}) {
		fmt.Fprintf(stdout, "limits:         memory=%d pids=%d cpus=%g\n", h.Limits.MemoryBytes, h.Limits.Pids, h.Limits.CPUs)
	}
	fmt.Fprintf(stdout, "cache:          %v\n\n", h.Cache)
	for _, e := range entries {
		name := e.Path
		if e.Mode.IsDir() {
			name += "/"
		}
		if e.Link != "" {
			name += " -> " + e.Link
		}
		fmt.Fprintf(stdout, "%s %10d %s\n", e.Mode.String(), e.Size, name)
	}
	return nil
}

func runExtract(flags *parsedFlags, stdout io.Writer) error {
	art, f, err := openArtifact(flags, 2)
	if err != nil {
		return err
	}
	defer f.Close()
	dir := flags.operands[1]
	if err := checkExtractDir(dir); err != nil {
		return err
	}
	if err := art.VerifyPayload(); err != nil {
		return &artifactError{path: flags.operands[0], err: err}
	}
	r := payload.NewChunkReader(art.Payload(), art.Header.Chunks, 2)
	defer r.Close()
	stats, err := payload.Unpack(r, dir, payload.UnpackOptions{MaxBytes: art.Header.FileBytes, MaxEntries: art.Header.Entries})
	if err != nil {
		return &artifactError{path: flags.operands[0], err: err}
	}
	fmt.Fprintf(stdout, "extracted %d entries (%s) into %s\n", stats.Entries, humanBytes(stats.Bytes), dir)
	return nil
}

// checkExtractDir accepts a missing or empty directory, creating it.
func checkExtractDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		return fmt.Errorf("extract directory: %w", err)
	}
	if len(entries) > 0 {
		return fmt.Errorf("extract directory %s is not empty; choose a new or empty directory", dir)
	}
	return nil
}
