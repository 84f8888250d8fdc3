package pack

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
)

// StubName is the dedicated runtime stub's file name. "make install" puts
// it in PREFIX/lib/parker; the build leaves it beside parker in bin/.
const StubName = "parker-runtime"

// FindStub returns the runtime stub to copy into artifacts. In order:
// $PARKER_RUNTIME, parker-runtime beside the parker executable, then
// ../lib/parker/parker-runtime relative to it, and last the parker
// executable itself, which contains the runtime too (as after a plain
// "go install", at the cost of a larger artifact).
func FindStub(self string, env func(string) string) (string, error) {
	if p := env("PARKER_RUNTIME"); p != "" {
		if err := checkStub(p); err != nil {
			return "", fmt.Errorf("PARKER_RUNTIME=%s: %w", p, err)
		}
		return p, nil
	}
	dir := filepath.Dir(self)
	for _, p := range []string{
		filepath.Join(dir, StubName),
		filepath.Join(dir, "..", "lib", "parker", StubName),
	} {
		if checkStub(p) == nil {
			return p, nil
		}
	}
	if err := checkStub(self); err != nil {
		return "", fmt.Errorf("no runtime stub found (tried %s beside %s, and parker itself: %w)", StubName, dir, err)
	}
	return self, nil
}

// checkStub accepts an ELF executable that is not itself an artifact.
func checkStub(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var head [4]byte
	if _, err := f.ReadAt(head[:], 0); err != nil || !bytes.Equal(head[:], []byte("\x7fELF")) {
		return fmt.Errorf("%s is not an ELF executable", path)
	}
	if isArtifact(path) {
		return fmt.Errorf("%s is an artifact, not a runtime stub", path)
	}
	return nil
}
