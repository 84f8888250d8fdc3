package artifact_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/parkerpack/parker/internal/artifact"
	"github.com/parkerpack/parker/internal/payload"
)

// formatDoc is the format description whose shell example this test runs.
const formatDoc = "../../docs/FORMAT.md"

// shellExample returns the first sh code block after the heading that
// introduces the example.
func shellExample(t *testing.T) string {
	t.Helper()
	doc, err := os.ReadFile(formatDoc)
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(doc), "## Listing a payload with standard tools")
	if !ok {
		t.Fatalf("%s has no section on listing a payload", formatDoc)
	}
	m := regexp.MustCompile("(?s)```sh\n(.*?)```").FindStringSubmatch(section)
	if m == nil {
		t.Fatalf("%s: no sh code block in the listing section", formatDoc)
	}
	return m[1]
}

// buildTestArtifact packs a small tree behind a fake stub and returns the artifact bytes.
func buildTestArtifact(t *testing.T) []byte {
	t.Helper()
	src := t.TempDir()
	if err := os.Mkdir(filepath.Join(src, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	app := filepath.Join(src, "bin", "app")
	if err := os.WriteFile(app, bytes.Repeat([]byte("#!/bin/sh\necho hello\n"), 2000), 0o755); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(app)
	if err != nil {
		t.Fatal(err)
	}
	entries := []payload.Entry{
		{Path: "bin", Mode: os.ModeDir | 0o755},
		{Path: "bin/app", Mode: 0o755, Size: fi.Size(), Source: app, ModTime: fi.ModTime()},
		{Path: "link", Mode: os.ModeSymlink | 0o777, Link: "bin/app"},
	}

	var out bytes.Buffer
	stub := []byte("#!/bin/false\nthis stands in for the runtime stub\n")
	out.Write(stub)
	w := artifact.NewWriter(&out, int64(len(stub)))
	c := payload.NewCompressor(w, payload.CompressOptions{ChunkSize: 16 << 10, Workers: 2})
	stats, err := payload.WriteTar(c, entries, payload.TarOptions{ModTime: time.Unix(1700000000, 0)})
	if err != nil {
		t.Fatalf("WriteTar() error: %v", err)
	}
	chunks, err := c.Close()
	if err != nil {
		t.Fatalf("Compressor.Close() error: %v", err)
	}
	if len(chunks) < 2 {
		t.Fatalf("got %d chunks, want several so that xz reads a multi-stream file", len(chunks))
	}
	h := &artifact.Header{
		ParkerVersion: "test", Target: "bin/app", FileBytes: stats.FileBytes,
		ChunkSize: 16 << 10, Chunks: chunks,
	}
	if err := w.Finish(h, uint64(stats.TarBytes), uint64(stats.Entries)); err != nil {
		t.Fatalf("Finish() error: %v", err)
	}
	return out.Bytes()
}

func TestFormatDocShellExample(t *testing.T) {
	for _, tool := range []string{"bash", "xz", "tar", "dd", "od", "sha256sum"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	dir := t.TempDir()
	b := buildTestArtifact(t)
	if _, err := artifact.Open(bytes.NewReader(b), int64(len(b))); err != nil {
		t.Fatalf("Open() error: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "app-c"), b, 0o755); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command("bash", "-euo", "pipefail", "-c", shellExample(t))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "LC_ALL=C", "TZ=UTC")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("shell example failed: %v\n%s", err, out)
	}
	text := string(out)
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`177\s+P\s+A\s+R\s+K\s+E\s+R\s+\\n`),
		regexp.MustCompile(`"format":1,"parker_version":"test","target":"bin/app"`),
		regexp.MustCompile(`(?m)^drwxr-xr-x 0/0\s+0 2023-11-14 22:13 bin/$`),
		regexp.MustCompile(`(?m)^-rwxr-xr-x 0/0\s+42000 2023-11-14 22:13 bin/app$`),
		regexp.MustCompile(`(?m)^lrwxrwxrwx 0/0\s+0 2023-11-14 22:13 link -> bin/app$`),
	} {
		if !want.MatchString(text) {
			t.Errorf("shell example output does not match %s:\n%s", want, text)
		}
	}
	sums := regexp.MustCompile(`(?m)^(payload|trailer) sha256: ([0-9a-f]{64})$`).FindAllStringSubmatch(text, -1)
	if len(sums) != 2 || sums[0][2] != sums[1][2] {
		t.Errorf("shell example checksums = %q, want two equal SHA-256 lines", sums)
	}
}
