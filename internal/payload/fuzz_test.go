package payload

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/parkerpack/parker/internal/artifact"
)

// fuzzMaxUnpacked caps the declared chunk sizes so that one input cannot make
// the fuzzer decode for long.
const fuzzMaxUnpacked = 4 << 20

// fuzzChunks splits payload into one chunk, or two at cut, with the declared
// unpacked sizes clamped to fuzzMaxUnpacked.
func fuzzChunks(payload []byte, cut, unpacked1, unpacked2 int64) []artifact.Chunk {
	n := int64(len(payload))
	if cut <= 0 || cut >= n {
		return []artifact.Chunk{{Length: n, Unpacked: min(unpacked1, fuzzMaxUnpacked)}}
	}
	return []artifact.Chunk{
		{Length: cut, Unpacked: min(unpacked1, fuzzMaxUnpacked)},
		{Offset: cut, Length: n - cut, Unpacked: min(unpacked2, fuzzMaxUnpacked)},
	}
}

func FuzzChunkReader(f *testing.F) {
	data := mixedData(20000, 11)
	payload, chunks := compress(f, data, CompressOptions{ChunkSize: 12000, Workers: 1}, len(data))
	f.Add(payload, chunks[1].Offset, chunks[0].Unpacked, chunks[1].Unpacked)
	f.Fuzz(func(t *testing.T, payload []byte, cut, unpacked1, unpacked2 int64) {
		chunks := fuzzChunks(payload, cut, unpacked1, unpacked2)
		var declared int64
		for _, c := range chunks {
			declared += max(c.Unpacked, 0)
		}
		got, err := decompress(payload, chunks, 2)
		if int64(len(got)) > declared {
			t.Fatalf("read %d bytes, more than the %d declared", len(got), declared)
		}
		if err != nil {
			if !errors.Is(err, artifact.ErrDamaged) {
				t.Fatalf("error = %v, want one wrapping artifact.ErrDamaged", err)
			}
			return
		}
		if int64(len(got)) != declared {
			t.Fatalf("read %d bytes without error, want the declared %d", len(got), declared)
		}
	})
}

func FuzzUnpack(f *testing.F) {
	f.Add(buildTar(f, dir("d/", 0o755), reg("d/f", "x", 0o644), symlink("l", "d/f"), hardlink("h", "d/f")))
	f.Fuzz(func(t *testing.T, stream []byte) {
		base := t.TempDir()
		makeRemovable(t, base)
		out := filepath.Join(base, "out")
		canary := filepath.Join(base, "canary")
		for _, d := range []string{out, canary} {
			if err := os.Mkdir(d, 0o700); err != nil {
				t.Fatal(err)
			}
		}
		stats, err := Unpack(bytes.NewReader(stream), out, UnpackOptions{MaxBytes: 1 << 20, MaxEntries: 1000})
		if err == nil && (stats.Entries > 1000 || stats.Bytes > 1<<20) {
			t.Fatalf("Unpack() stats = %+v beyond the limits", stats)
		}
		// List must reject whatever Unpack rejects by its archive rules, or
		// parker --list would show an artifact the runtime refuses to run.
		if _, lerr := List(bytes.NewReader(stream)); errors.Is(err, ErrInvalidEntry) && lerr == nil {
			t.Fatalf("Unpack() error = %v, but List() accepts the stream", err)
		}
		if names := dirNames(t, base); !slices.Equal(names, []string{"canary", "out"}) {
			t.Fatalf("Unpack() created %q next to its directory", names)
		}
		if names := dirNames(t, canary); len(names) > 0 {
			t.Fatalf("Unpack() created %q in a sibling directory", names)
		}
		checkNoEscape(t, out)
	})
}

// checkNoEscape verifies that every extracted name is a valid entry name and
// that no regular file or directory was created through a symlink.
func checkNoEscape(t *testing.T, root string) {
	t.Helper()
	filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || path == root {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		if err := checkName(filepath.ToSlash(rel)); err != nil {
			t.Fatalf("Unpack() created %q: %v", rel, err)
		}
		return nil
	})
}

// TestWriteFuzzSeeds regenerates the committed seed corpora under testdata/fuzz.
// Run it with PARKER_WRITE_FUZZ_SEEDS=1 after changing a rejection rule.
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("PARKER_WRITE_FUZZ_SEEDS") != "1" {
		t.Skip("set PARKER_WRITE_FUZZ_SEEDS=1 to rewrite testdata/fuzz")
	}
	data := mixedData(20000, 11)
	payload, chunks := compress(t, data, CompressOptions{ChunkSize: 12000, Workers: 1}, len(data))
	chunkSeeds := map[string]string{
		"valid one chunk":  seedFile(payload[:chunks[0].Length], int64(0), chunks[0].Unpacked, int64(0)),
		"valid two chunks": seedFile(payload, chunks[1].Offset, chunks[0].Unpacked, chunks[1].Unpacked),
	}
	for _, tc := range damagedChunkCases(t) {
		c := tc.chunks[0]
		p := tc.payload
		if c.Offset >= 0 && c.Length >= 0 && c.Offset <= int64(len(p)) && c.Length <= int64(len(p))-c.Offset {
			p = p[c.Offset : c.Offset+c.Length]
		}
		chunkSeeds[tc.name] = seedFile(p, int64(0), c.Unpacked, int64(0))
	}
	writeSeeds(t, "FuzzChunkReader", chunkSeeds)

	unpackSeeds := map[string]string{"valid": seedFile(buildTar(t, testTreeTar()...))}
	for _, tc := range unpackRejectCases(t, "/tmp/parker-fuzz-outside") {
		unpackSeeds[tc.name] = seedFile(tc.stream)
	}
	writeSeeds(t, "FuzzUnpack", unpackSeeds)
}

// testTreeTar returns tar entries of every supported type.
func testTreeTar() []tarEntry {
	return []tarEntry{
		dir("bin/", 0o755),
		reg("bin/app", "#!/bin/sh\n", 0o4755),
		dir("ro/", 0o555),
		reg("ro/f", "x", 0o444),
		reg("a/b/implicit", "y", 0o644),
		symlink("link", "bin/app"),
		hardlink("hard", "bin/app"),
	}
}

// seedFile encodes fuzz arguments in the corpus file format of go test.
func seedFile(args ...any) string {
	var b strings.Builder
	b.WriteString("go test fuzz v1\n")
	for _, a := range args {
		switch v := a.(type) {
		case []byte:
			fmt.Fprintf(&b, "[]byte(%q)\n", v)
		case int64:
			fmt.Fprintf(&b, "int64(%d)\n", v)
		}
	}
	return b.String()
}

func writeSeeds(t *testing.T, fuzzer string, seeds map[string]string) {
	dir := filepath.Join("testdata", "fuzz", fuzzer)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range seeds {
		if len(content) > 64<<10 {
			t.Fatalf("seed %q is %d bytes, want at most 64 KiB", name, len(content))
		}
		file := filepath.Join(dir, "seed-"+strings.ReplaceAll(name, " ", "-"))
		if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
