package collect

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// unreadableDirEnv passes the tree to the copy of the test binary that
// TestCollectUnreadable runs as an unprivileged user.
const unreadableDirEnv = "PARKER_COLLECT_UNREADABLE_DIR"

// unprivilegedID is the uid and gid (nobody) that the unreadable checks run as
// when the test runs as root, because permission bits do not stop root from
// reading.
const unprivilegedID = "65534"

func TestCollectUnreadable(t *testing.T) {
	if dir := os.Getenv(unreadableDirEnv); dir != "" {
		checkUnreadable(t, dir)
		return
	}
	dir := makeUnreadableTree(t)
	if os.Geteuid() != 0 {
		checkUnreadable(t, dir)
		return
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		skipUnlessPrivileged(t, "running as root without setpriv to drop privileges")
	}

	// The test binary lives in a directory only root can enter, so the
	// unprivileged run uses a copy next to the tree.
	binary := filepath.Join(filepath.Dir(dir), "collect.test")
	copyExecutable(t, binary)
	cmd := exec.Command(setpriv, "--reuid="+unprivilegedID, "--regid="+unprivilegedID, "--clear-groups",
		binary, "-test.run=^TestCollectUnreadable$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), unreadableDirEnv+"="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("test as uid %s: %v\n%s", unprivilegedID, err, out)
	}
	if !strings.Contains(string(out), "--- PASS: TestCollectUnreadable") {
		t.Fatalf("test as uid %s did not pass:\n%s", unprivilegedID, out)
	}
}

// makeUnreadableTree builds, in a directory that every user can enter:
//
//	tree/locked/     mode 000: cannot be listed
//	tree/noexec/f    directory mode 644: listed, but f cannot be stat()ed
//	tree/ok.txt
//	tree/open/f
//	tree/secret.txt  mode 000
func makeUnreadableTree(t *testing.T) string {
	t.Helper()
	base := t.TempDir()
	for _, d := range []string{filepath.Dir(base), base} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	dir := filepath.Join(base, "tree")
	mkfile(t, dir, "locked/f", "", 0o644)
	mkfile(t, dir, "noexec/f", "", 0o644)
	mkfile(t, dir, "ok.txt", "", 0o644)
	mkfile(t, dir, "open/f", "", 0o644)
	mkfile(t, dir, "secret.txt", "", 0)
	for rel, perm := range map[string]fs.FileMode{"locked": 0, "noexec": 0o644} {
		p := filepath.Join(dir, rel)
		if err := os.Chmod(p, perm); err != nil {
			t.Fatal(err)
		}
		// Restore the permissions so that t.TempDir can remove the tree.
		t.Cleanup(func() { os.Chmod(p, 0o755) })
	}
	return dir
}

func copyExecutable(t *testing.T, dst string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// checkUnreadable runs Collect on the tree from makeUnreadableTree as a user
// that the permission bits apply to.
func checkUnreadable(t *testing.T, dir string) {
	_, err := Collect(Options{Root: dir})
	if !errors.Is(err, fs.ErrPermission) {
		t.Fatalf("Collect error = %v, want a permission error", err)
	}
	wantMsg := `collecting "locked": open ` + filepath.Join(dir, "locked") +
		": permission denied; fix its permissions or pass --skip-unreadable"
	if err.Error() != wantMsg {
		t.Errorf("Collect error = %q, want %q", err, wantMsg)
	}

	entries, w := collect(t, Options{Root: dir, SkipUnreadable: true})
	wantPaths := []string{"noexec", "ok.txt", "open", "open/f"}
	if got := paths(entries); !slices.Equal(got, wantPaths) {
		t.Errorf("Collect(SkipUnreadable) paths = %q, want %q", got, wantPaths)
	}
	wantWarn := warnings{
		`skipping "locked": permission denied`,
		`skipping "noexec/f": permission denied`,
		`skipping "secret.txt": permission denied`,
	}
	if !slices.Equal(w, wantWarn) {
		t.Errorf("Collect(SkipUnreadable) warnings = %q, want %q", w, wantWarn)
	}
}
