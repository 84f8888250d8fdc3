package cli

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/parkerpack/parker/internal/artifact"
	"github.com/parkerpack/parker/internal/payload"
)

// decodeWorkers is the number of chunks decoded at once by --list,
// --verify and --extract.
const decodeWorkers = 2

// artifactError is an artifact problem, prefixed with the file's path.
type artifactError struct {
	path string
	err  error
}

func (e *artifactError) Error() string {
	return fmt.Sprintf("%s: %v", e.path, e.err)
}

func (e *artifactError) Unwrap() error { return e.err }

// openVerified opens the artifact named by the first operand and checks
// its trailer, header and payload checksum.
func openVerified(flags *parsedFlags, operands int) (*artifact.Artifact, *os.File, error) {
	if len(flags.operands) != operands {
		return nil, nil, usageErrorf("%s: expected %d operands (%s), got %d", modeFlag(flags), operands, operandNames[operands], len(flags.operands))
	}
	path := flags.operands[0]
	art, f, err := artifact.OpenFile(path)
	if err != nil {
		return nil, nil, &artifactError{path: path, err: err}
	}
	if err := art.VerifyPayload(); err != nil {
		f.Close()
		return nil, nil, &artifactError{path: path, err: err}
	}
	return art, f, nil
}

// listEntries decodes the payload and returns its entries. Decoding checks
// every chunk's declared size and the tar names, as unpacking does.
// operandNames spells out what each inspection mode takes.
var operandNames = map[int]string{1: "FILE", 2: "FILE DIR"}

// modeFlag names the inspection flag given, for usage errors.
func modeFlag(flags *parsedFlags) string {
	for _, m := range []string{"list", "verify", "extract"} {
		if flags.bool(m) {
			return "--" + m
		}
	}
	return "parker"
}

func listEntries(art *artifact.Artifact) ([]payload.ListEntry, error) {
	r := payload.NewChunkReader(art.Payload(), art.Header.Chunks, decodeWorkers)
	defer r.Close()
	return payload.ListMatching(r, art.Header.Entries, art.Header.FileBytes)
}

func runVerify(flags *parsedFlags, stdout io.Writer) error {
	if flags.bool("json") {
		return usageErrorf("--json works only with --list")
	}
	art, f, err := openVerified(flags, 1)
	if err != nil {
		return err
	}
	defer f.Close()
	entries, err := listEntries(art)
	if err != nil {
		return &artifactError{path: flags.operands[0], err: err}
	}
	fmt.Fprintf(stdout, "%s: ok (%d entries, payload sha256 %s)\n",
		flags.operands[0], len(entries), hex.EncodeToString(art.Trailer.PayloadSHA256[:]))
	return nil
}

// listing is the --list --json document.
type listing struct {
	Path          string          `json:"path"`
	Size          int64           `json:"size"`
	StubSize      int64           `json:"stub_size"`
	PayloadSize   int64           `json:"payload_size"`
	PayloadSHA256 string          `json:"payload_sha256"`
	HeaderSHA256  string          `json:"header_sha256"`
	Files         int             `json:"files"` // regular files, hard links included
	Header        artifact.Header `json:"header"`
	Entries       []listedEntry   `json:"entries"`
}

// listedEntry is one payload entry in the --list --json document.
type listedEntry struct {
	Path string `json:"path"`
	Type string `json:"type"` // "file", "dir", "symlink" or "hardlink"
	Mode string `json:"mode"` // permission, setuid, setgid and sticky bits in octal, such as "0755"
	Size int64  `json:"size"`
	Link string `json:"link,omitempty"` // symlink target, or the earlier entry a hard link names
}

func newListing(path string, art *artifact.Artifact, entries []payload.ListEntry) *listing {
	l := &listing{
		Path:          path,
		Size:          art.Size,
		StubSize:      art.StubSize(),
		PayloadSize:   int64(art.Trailer.PayloadLength),
		PayloadSHA256: hex.EncodeToString(art.Trailer.PayloadSHA256[:]),
		HeaderSHA256:  hex.EncodeToString(art.Trailer.HeaderSHA256[:]),
		Header:        art.Header,
		Entries:       make([]listedEntry, len(entries)),
	}
	for i, e := range entries {
		l.Entries[i] = listedEntry{Path: e.Path, Type: entryType(e), Mode: octalMode(e.Mode), Size: e.Size, Link: e.Link}
		if t := l.Entries[i].Type; t == "file" || t == "hardlink" {
			l.Files++
		}
	}
	return l
}

func entryType(e payload.ListEntry) string {
	switch {
	case e.Mode.IsDir():
		return "dir"
	case e.Mode&fs.ModeSymlink != 0:
		return "symlink"
	case e.Link != "":
		return "hardlink"
	default:
		return "file"
	}
}

func octalMode(m fs.FileMode) string {
	mode := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		mode |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		mode |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		mode |= 0o1000
	}
	return fmt.Sprintf("%04o", mode)
}

func runList(flags *parsedFlags, stdout io.Writer) error {
	art, f, err := openVerified(flags, 1)
	if err != nil {
		return err
	}
	defer f.Close()
	entries, err := listEntries(art)
	if err != nil {
		return &artifactError{path: flags.operands[0], err: err}
	}
	l := newListing(flags.operands[0], art, entries)
	if flags.bool("json") {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(l)
	}
	printListing(stdout, l, entries)
	return nil
}

// printListing writes the metadata, a blank line and the file table.
func printListing(w io.Writer, l *listing, entries []payload.ListEntry) {
	h := l.Header
	fmt.Fprintf(w, "artifact:       %s\n", l.Path)
	fmt.Fprintf(w, "parker version: %s (format %d)\n", h.ParkerVersion, h.Format)
	fmt.Fprintf(w, "target:         %s\n", h.Target)
	fmt.Fprintf(w, "files:          %d (%d entries with directories and links)\n", l.Files, h.Entries)
	fmt.Fprintf(w, "unpacked:       %s in files (tar stream %s)\n", humanBytes(h.FileBytes), humanBytes(h.UnpackedSize))
	fmt.Fprintf(w, "packed:         %s (runtime %s, payload %s in %s)\n",
		humanBytes(l.Size), humanBytes(l.StubSize), humanBytes(l.PayloadSize), plural(len(h.Chunks), "chunk"))
	fmt.Fprintf(w, "payload sha256: %s\n", l.PayloadSHA256)
	fmt.Fprintf(w, "header sha256:  %s\n", l.HeaderSHA256)
	fmt.Fprintf(w, "persist:        %s\n", orNone(strings.Join(h.Persist, ", ")))
	fmt.Fprintf(w, "limits:         %s\n", orNone(describeLimits(h.Limits)))
	fmt.Fprintf(w, "cache:          %v\n\n", h.Cache)
	for _, e := range entries {
		name := e.Path
		switch {
		case e.Mode.IsDir():
			name += "/"
		case e.Mode&fs.ModeSymlink != 0:
			name += " -> " + e.Link
		case e.Link != "":
			name += " link to " + e.Link
		}
		fmt.Fprintf(w, "%s %10d %s\n", e.Mode.String(), e.Size, name)
	}
}

func describeLimits(l artifact.Limits) string {
	var parts []string
	if l.MemoryBytes > 0 {
		parts = append(parts, "memory "+humanBytes(l.MemoryBytes))
	}
	if l.Pids > 0 {
		parts = append(parts, fmt.Sprintf("pids %d", l.Pids))
	}
	if l.CPUs > 0 {
		parts = append(parts, fmt.Sprintf("cpus %g", l.CPUs))
	}
	return strings.Join(parts, ", ")
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func runExtract(flags *parsedFlags, stdout io.Writer) error {
	if flags.bool("json") {
		return usageErrorf("--json works only with --list")
	}
	if len(flags.operands) != 2 {
		return usageErrorf("--extract: expected 2 operands (FILE DIR), got %d", len(flags.operands))
	}
	dir := flags.operands[1]
	if err := checkExtractDir(dir); err != nil {
		return err
	}
	art, f, err := openVerified(flags, 2)
	if err != nil {
		return err
	}
	defer f.Close()
	stats, err := unpackInto(art, dir)
	if err != nil {
		return &artifactError{path: flags.operands[0], err: err}
	}
	fmt.Fprintf(stdout, "extracted %d entries (%s) into %s\n", stats.Entries, humanBytes(stats.Bytes), dir)
	return nil
}

// unpackInto unpacks the payload with the runtime's checks and limits: the
// header's entry count and file bytes bound the tar stream, and names that
// would leave dir are rejected. A failed unpack leaves dir as it was found:
// missing or empty.
func unpackInto(art *artifact.Artifact, dir string) (payload.UnpackStats, error) {
	created := false
	if err := os.Mkdir(dir, 0o755); err == nil {
		created = true
	} else if !errors.Is(err, fs.ErrExist) {
		return payload.UnpackStats{}, fmt.Errorf("creating extract directory: %w", err)
	}
	r := payload.NewChunkReader(art.Payload(), art.Header.Chunks, decodeWorkers)
	defer r.Close()
	stats, err := payload.Unpack(r, dir, payload.UnpackOptions{MaxBytes: art.Header.FileBytes, MaxEntries: art.Header.Entries})
	if err != nil {
		removeExtracted(dir, created)
		return stats, err
	}
	return stats, nil
}

// removeExtracted deletes what a failed unpack wrote into dir. Unpack
// creates only files, directories and symlinks there, and RemoveAll does
// not follow symlinks.
func removeExtracted(dir string, created bool) {
	if created {
		os.RemoveAll(dir)
		return
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		os.RemoveAll(filepath.Join(dir, e.Name()))
	}
}

// checkExtractDir accepts a directory that is missing or empty. The
// parent of a missing one must exist.
func checkExtractDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("extract directory: %w", err)
	}
	if len(entries) > 0 {
		return fmt.Errorf("extract directory %s is not empty; choose a new or empty directory", dir)
	}
	return nil
}
