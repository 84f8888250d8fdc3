package collect

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// skipUnlessPrivileged skips the test, or fails it when
// PARKER_TEST_REQUIRE_PRIVILEGED=1 requires every privileged test to run.
func skipUnlessPrivileged(t *testing.T, reason string) {
	t.Helper()
	if os.Getenv("PARKER_TEST_REQUIRE_PRIVILEGED") == "1" {
		t.Fatalf("PARKER_TEST_REQUIRE_PRIVILEGED=1, but %s", reason)
	}
	t.Skip(reason)
}

func TestCollectSocketAndFIFO(t *testing.T) {
	root := t.TempDir()
	mkfile(t, root, "run/keep", "", 0o644)
	if err := syscall.Mkfifo(filepath.Join(root, "run/fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"run/sock", "run/ignored.sock"} {
		l, err := net.Listen("unix", filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
	}

	entries, w := collect(t, Options{Root: root, Matcher: matcher(t, "ignored.sock\n")})
	wantPaths := []string{"run", "run/keep"}
	if got := paths(entries); !slices.Equal(got, wantPaths) {
		t.Errorf("Collect paths = %q, want %q", got, wantPaths)
	}
	wantWarn := warnings{`skipping "run/fifo": named pipe (FIFO)`, `skipping "run/sock": socket`}
	if !slices.Equal(w, wantWarn) {
		t.Errorf("Collect warnings = %q, want %q", w, wantWarn)
	}
}

func TestCollectDeviceNodes(t *testing.T) {
	root := t.TempDir()
	err := unix.Mknod(filepath.Join(root, "null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3)))
	if errors.Is(err, unix.EPERM) {
		skipUnlessPrivileged(t, "creating a device node needs CAP_MKNOD")
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Mknod(filepath.Join(root, "loop"), unix.S_IFBLK|0o600, int(unix.Mkdev(7, 0))); err != nil {
		t.Fatal(err)
	}
	mkfile(t, root, "keep", "", 0o644)

	entries, w := collect(t, Options{Root: root})
	if got, want := paths(entries), []string{"keep"}; !slices.Equal(got, want) {
		t.Errorf("Collect paths = %q, want %q", got, want)
	}
	wantWarn := warnings{`skipping "loop": block device`, `skipping "null": character device`}
	if !slices.Equal(w, wantWarn) {
		t.Errorf("Collect warnings = %q, want %q", w, wantWarn)
	}
}
