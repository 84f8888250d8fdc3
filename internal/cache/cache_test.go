package cache

import (
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestDir(t *testing.T) {
	home := t.TempDir()
	// HOME must belong to the effective uid, which Dir treats as root's
	// when 0, so as root the directory is given to another user.
	uid := os.Geteuid()
	if uid == 0 {
		uid = 65534
		if err := os.Chown(home, uid, uid); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name    string
		env     map[string]string
		euid    int
		want    string
		wantErr bool
	}{
		{name: "XDG_CACHE_HOME", env: map[string]string{"XDG_CACHE_HOME": "/x/cache", "HOME": home}, euid: 1000, want: "/x/cache/parker"},
		{name: "XDG_CACHE_HOME for root", env: map[string]string{"XDG_CACHE_HOME": "/x/cache"}, euid: 0, want: "/x/cache/parker"},
		{name: "relative XDG_CACHE_HOME ignored", env: map[string]string{"XDG_CACHE_HOME": "cache", "HOME": home}, euid: uid, want: filepath.Join(home, ".cache", "parker")},
		{name: "root without XDG_CACHE_HOME", env: map[string]string{"HOME": home}, euid: 0, want: "/var/cache/parker"},
		{name: "HOME", env: map[string]string{"HOME": home}, euid: uid, want: filepath.Join(home, ".cache", "parker")},
		{name: "no HOME", env: map[string]string{}, euid: uid + 1, wantErr: true},
		{name: "relative HOME", env: map[string]string{"HOME": "home"}, euid: uid + 1, wantErr: true},
		{name: "missing HOME", env: map[string]string{"HOME": filepath.Join(home, "missing")}, euid: uid + 1, wantErr: true},
		{name: "HOME of another user", env: map[string]string{"HOME": home}, euid: uid + 1, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Dir(func(k string) string { return tc.env[k] }, tc.euid)
			if tc.wantErr {
				if !errors.Is(err, ErrNoDir) {
					t.Errorf("Dir() = %q, %v, want an error wrapping ErrNoDir", got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("Dir() = %q, %v, want %q", got, err, tc.want)
			}
		})
	}
}

func TestOpenCreatesPrivateRoot(t *testing.T) {
	root := filepath.Join(t.TempDir(), "a", "parker")
	c, err := Open(root)
	if err != nil {
		t.Fatalf("Open(%s) = %v", root, err)
	}
	fi, err := os.Stat(c.Root())
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o700 {
		t.Errorf("root mode = %v, want 0700", perm)
	}
}

func TestOpenRejectsUnsafeRoot(t *testing.T) {
	dir := t.TempDir()
	writable := filepath.Join(dir, "writable")
	if err := os.Mkdir(writable, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(writable, 0o777); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(t.TempDir(), link); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, root := range []string{writable, link, file} {
		if _, err := Open(root); err == nil {
			t.Errorf("Open(%s) = nil error, want a rejection", filepath.Base(root))
		}
	}
}

// fillWith returns a fill function that creates dir with a few files.
func fillWith(content string) func(string) error {
	return func(dir string) error {
		if err := os.MkdirAll(filepath.Join(dir, "sub", "deeper"), 0o755); err != nil {
			return err
		}
		for _, name := range []string{"a.txt", "sub/b.txt", "sub/deeper/c.txt"} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
				return err
			}
		}
		// A read-only directory, as payloads may contain.
		if err := os.Mkdir(filepath.Join(dir, "ro"), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "ro", "d.txt"), []byte(content), 0o444); err != nil {
			return err
		}
		return os.Chmod(filepath.Join(dir, "ro"), 0o555)
	}
}

func openTemp(t *testing.T) *Cache {
	t.Helper()
	c, err := Open(filepath.Join(t.TempDir(), "parker"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = removeAll(c.Root()) })
	return c
}

// build builds the entry for sum with fillWith(content), releases it and
// returns its files directory.
func build(t *testing.T, c *Cache, sum [32]byte, content string) string {
	t.Helper()
	e, err := c.Build(sum, fillWith(content))
	if err != nil {
		t.Fatalf("Build() = %v", err)
	}
	e.Release()
	return e.Files
}

// rootNames lists the cache root.
func rootNames(t *testing.T, c *Cache) []string {
	t.Helper()
	entries, err := os.ReadDir(c.Root())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestBuildThenLookup(t *testing.T) {
	c := openTemp(t)
	sum := sha256.Sum256([]byte("payload"))
	if _, err := c.Lookup(sum); !errors.Is(err, ErrMiss) {
		t.Fatalf("Lookup() before Build = %v, want ErrMiss", err)
	}
	built, err := c.Build(sum, fillWith("x"))
	if err != nil {
		t.Fatalf("Build() = %v", err)
	}
	built.Release()
	want := filepath.Join(c.Root(), Key(sum), "files")
	if built.Files != want {
		t.Errorf("Build().Files = %s, want %s", built.Files, want)
	}
	if b, err := os.ReadFile(filepath.Join(built.Files, "sub", "deeper", "c.txt")); err != nil || string(b) != "x" {
		t.Errorf("reading built file = %q, %v, want \"x\"", b, err)
	}

	marker := filepath.Join(c.Root(), Key(sum), "complete")
	old := time.Now().Add(-48 * time.Hour)
	if err := os.Chtimes(marker, old, old); err != nil {
		t.Fatal(err)
	}
	got, err := c.Lookup(sum)
	if err != nil {
		t.Fatalf("Lookup() = %v", err)
	}
	got.Release()
	if got.Files != want {
		t.Errorf("Lookup().Files = %s, want %s", got.Files, want)
	}
	if fi, err := os.Stat(marker); err != nil || time.Since(fi.ModTime()) > time.Hour {
		t.Errorf("marker mtime after Lookup = %v, %v, want about now", fi.ModTime(), err)
	}
	if names := rootNames(t, c); len(names) != 1 || names[0] != Key(sum) {
		t.Errorf("cache root holds %v, want only %s", names, Key(sum))
	}
}

func TestLookupDetectsDamage(t *testing.T) {
	sum := sha256.Sum256([]byte("payload"))
	other := sha256.Sum256([]byte("other"))
	tests := []struct {
		name   string
		damage func(entry string) error
	}{
		{"marker missing", func(e string) error { return os.Remove(filepath.Join(e, "complete")) }},
		{"marker names another payload", func(e string) error {
			return os.WriteFile(filepath.Join(e, "complete"), []byte(formatMarker(other, 9)), 0o644)
		}},
		{"marker count edited", func(e string) error {
			return os.WriteFile(filepath.Join(e, "complete"), []byte(formatMarker(sum, 99)), 0o644)
		}},
		{"marker garbage", func(e string) error {
			return os.WriteFile(filepath.Join(e, "complete"), []byte("hello\n"), 0o644)
		}},
		{"marker with trailing bytes", func(e string) error {
			return os.WriteFile(filepath.Join(e, "complete"), []byte(formatMarker(sum, 9)+"x"), 0o644)
		}},
		{"file deleted", func(e string) error { return os.Remove(filepath.Join(e, "files", "sub", "b.txt")) }},
		{"directory deleted", func(e string) error { return removeAll(filepath.Join(e, "files", "sub")) }},
		{"file added", func(e string) error { return os.WriteFile(filepath.Join(e, "files", "new"), nil, 0o644) }},
		{"files directory missing", func(e string) error { return removeAll(filepath.Join(e, "files")) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := openTemp(t)
			build(t, c, sum, "x")
			entry := filepath.Join(c.Root(), Key(sum))
			if err := tc.damage(entry); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Lookup(sum); !errors.Is(err, ErrDamaged) {
				t.Fatalf("Lookup() = %v, want ErrDamaged", err)
			}

			files := build(t, c, sum, "rebuilt")
			if b, err := os.ReadFile(filepath.Join(files, "a.txt")); err != nil || string(b) != "rebuilt" {
				t.Errorf("rebuilt a.txt = %q, %v, want \"rebuilt\"", b, err)
			}
			e, err := c.Lookup(sum)
			if err != nil {
				t.Fatalf("Lookup() after rebuild = %v", err)
			}
			e.Release()
			if names := rootNames(t, c); len(names) != 1 {
				t.Errorf("cache root holds %v, want only the entry", names)
			}
		})
	}
}

func TestBuildKeepsFirstPublished(t *testing.T) {
	c := openTemp(t)
	sum := sha256.Sum256([]byte("payload"))
	build(t, c, sum, "first")
	files := build(t, c, sum, "second")
	if b, _ := os.ReadFile(filepath.Join(files, "a.txt")); string(b) != "first" {
		t.Errorf("a.txt = %q after a second Build, want the first entry's \"first\"", b)
	}
	if names := rootNames(t, c); len(names) != 1 {
		t.Errorf("cache root holds %v, want only the entry", names)
	}
}

func TestBuildConcurrent(t *testing.T) {
	c := openTemp(t)
	sum := sha256.Sum256([]byte("payload"))
	const n = 8
	results := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			e, err := c.Build(sum, fillWith("x"))
			errs[i] = err
			if err == nil {
				results[i] = e.Files
				e.Release()
			}
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || results[i] != results[0] {
			t.Errorf("Build() #%d = %s, %v, want %s, nil", i, results[i], errs[i], results[0])
		}
	}
	if names := rootNames(t, c); len(names) != 1 || names[0] != Key(sum) {
		t.Errorf("cache root holds %v, want only %s", names, Key(sum))
	}
}

func TestBuildFillError(t *testing.T) {
	c := openTemp(t)
	sum := sha256.Sum256([]byte("payload"))
	fail := errors.New("disk full")
	_, err := c.Build(sum, func(dir string) error {
		if err := fillWith("x")(dir); err != nil {
			return err
		}
		return fail
	})
	if !errors.Is(err, fail) {
		t.Fatalf("Build() = %v, want the fill error", err)
	}
	if names := rootNames(t, c); len(names) != 0 {
		t.Errorf("cache root holds %v after a failed Build, want nothing", names)
	}
	if _, err := c.Lookup(sum); !errors.Is(err, ErrMiss) {
		t.Errorf("Lookup() after a failed Build = %v, want ErrMiss", err)
	}
}

func TestPrune(t *testing.T) {
	c := openTemp(t)
	now := time.Now()
	day := 24 * time.Hour
	setTime := func(path string, at time.Time) {
		t.Helper()
		if err := os.Chtimes(path, at, at); err != nil {
			t.Fatal(err)
		}
	}
	recent := sha256.Sum256([]byte("recent"))
	stale := sha256.Sum256([]byte("stale"))
	noMarker := sha256.Sum256([]byte("no marker"))
	for _, sum := range [][32]byte{recent, stale, noMarker} {
		build(t, c, sum, "x")
	}
	setTime(filepath.Join(c.Root(), Key(recent), "complete"), now.Add(-10*day))
	setTime(filepath.Join(c.Root(), Key(stale), "complete"), now.Add(-40*day))
	// The entry's directory mtime was newer than its marker's, so only the
	// marker's age decides.
	setTime(filepath.Join(c.Root(), Key(stale)), now)
	if err := os.Remove(filepath.Join(c.Root(), Key(noMarker), "complete")); err != nil {
		t.Fatal(err)
	}
	setTime(filepath.Join(c.Root(), Key(noMarker)), now.Add(-31*day))

	oldTemp := filepath.Join(c.Root(), ".tmp-"+Key(recent)+"-1")
	newTemp := filepath.Join(c.Root(), ".tmp-"+Key(recent)+"-2")
	oldRetired := filepath.Join(c.Root(), ".old-"+Key(recent)+"-3")
	for _, d := range []string{oldTemp, newTemp, oldRetired} {
		if err := fillWith("x")(d); err != nil {
			t.Fatal(err)
		}
	}
	setTime(oldTemp, now.Add(-2*time.Hour))
	setTime(oldRetired, now.Add(-2*time.Hour))
	setTime(newTemp, now.Add(-10*time.Minute))
	unknown := filepath.Join(c.Root(), "notes.txt")
	if err := os.WriteFile(unknown, []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	setTime(unknown, now.Add(-100*day))

	stats, err := Prune(c.Root(), 30*day, now)
	if err != nil {
		t.Fatalf("Prune() = %v", err)
	}
	if stats.Entries != 2 || stats.Temp != 2 {
		t.Errorf("Prune() = %+v, want 2 entries and 2 temporary directories", stats)
	}
	// Four one-byte files in each of the four directories, and one marker.
	if want := int64(4*4 + len(formatMarker(stale, 7))); stats.Bytes != want {
		t.Errorf("Prune() freed %d bytes, want %d", stats.Bytes, want)
	}
	got := strings.Join(rootNames(t, c), " ")
	want := strings.Join([]string{".tmp-" + Key(recent) + "-2", Key(recent), "notes.txt"}, " ")
	if got != want {
		t.Errorf("cache root after Prune = %s, want %s", got, want)
	}
}

func TestPruneSkipsEntryInUse(t *testing.T) {
	c := openTemp(t)
	sum := sha256.Sum256([]byte("payload"))
	build(t, c, sum, "x")
	e, err := c.Lookup(sum)
	if err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(400 * 24 * time.Hour)
	stats, err := Prune(c.Root(), time.Hour, later)
	if err != nil || stats.Entries != 0 || stats.InUse != 1 {
		t.Errorf("Prune() with the entry in use = %+v, %v, want it skipped as in use", stats, err)
	}
	e.Release()
	stats, err = Prune(c.Root(), time.Hour, later)
	if err != nil || stats.Entries != 1 || stats.InUse != 0 {
		t.Errorf("Prune() after Release = %+v, %v, want the entry removed", stats, err)
	}
}

func TestPruneMissingRoot(t *testing.T) {
	stats, err := Prune(filepath.Join(t.TempDir(), "none"), time.Hour, time.Now())
	if err != nil || stats != (PruneStats{}) {
		t.Errorf("Prune(missing root) = %+v, %v, want nothing removed and no error", stats, err)
	}
}
