package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDamagedArtifactNeverRuns(t *testing.T) {
	requireRoot(t)
	dir := workdir(t)
	writeFile(t, filepath.Join(dir, "app"), "#!/bin/sh\necho RAN\n", 0o755)
	writeFile(t, filepath.Join(dir, "asset.bin"), strings.Repeat("parker payload ", 4096), 0o644)
	pack(t, dir, "app")
	good, err := os.ReadFile(filepath.Join(dir, "app-c"))
	if err != nil {
		t.Fatal(err)
	}
	stub, err := os.Stat(runtimeBin)
	if err != nil {
		t.Fatal(err)
	}
	payloadByte := int(stub.Size()) + 100

	tests := []struct {
		name   string
		damage func([]byte) []byte
	}{
		{"payload byte flipped", func(b []byte) []byte { b[payloadByte] ^= 0x01; return b }},
		{"trailer byte flipped", func(b []byte) []byte { b[len(b)-70] ^= 0x80; return b }},
		{"header byte flipped", func(b []byte) []byte { b[len(b)-128-10] ^= 0x01; return b }},
		{"truncated in payload", func(b []byte) []byte { return b[:payloadByte] }},
		{"truncated by one byte", func(b []byte) []byte { return b[:len(b)-1] }},
		{"bytes appended", func(b []byte) []byte { return append(b, "extra"...) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			runDir := workdir(t)
			path := filepath.Join(runDir, "app-c")
			writeFile(t, path, string(tc.damage(append([]byte(nil), good...))), 0o755)
			tok := token(t)
			res := runArtifact(t, runDir, "./app-c", tok, "")
			if res.status != 125 {
				t.Errorf("exit status = %d, want 125 (runtime failure)", res.status)
			}
			if strings.Contains(res.stdout, "RAN") {
				t.Errorf("the target ran from a damaged artifact")
			}
			lines := strings.Split(strings.TrimRight(res.stderr, "\n"), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "parker: ") || !strings.Contains(lines[0], "damaged") || !strings.Contains(lines[0], "copy it again") {
				t.Errorf("stderr = %q, want one line \"parker: ... damaged ... copy it again\"", res.stderr)
			}
			assertNoLeftovers(t, tok, res.pid)
		})
	}
}
