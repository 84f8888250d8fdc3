package container

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/parkerpack/parker/internal/artifact"
	"github.com/parkerpack/parker/internal/cache"
	"github.com/parkerpack/parker/internal/payload"
)

// cacheEnv overrides the artifact's cache setting at run time: 0 turns
// the cache off, 1 on.
const cacheEnv = "PARKER_CACHE"

// Go heap settings of the init while it unpacks. Each decoder holds an
// 8 MiB dictionary and up to 6 MiB of decoded blocks, and every chunk
// allocates a new dictionary, so with the default GOGC the heap would
// grow to twice the live data before a collection. Together with the
// runtime's own few MiB, these keep the init's peak RSS under 64 MiB with
// the 3 decoders unpackWorkers allows at most (scripts/bench.sh reports
// the peak).
const (
	unpackGCPercent   = 25
	unpackMemoryLimit = 52 << 20
)

// openChecked opens the artifact and verifies the payload's SHA-256,
// unless the cache is on. Then it records the cache root in s.cacheDir
// and leaves the check to the first read of the payload: the init reads
// no payload when the cache has it, and verifies the payload before it
// unpacks it. The returned artifact verifies the payload before its first
// payload read, so no other path reads unverified payload bytes. The
// trailer and header checksums are checked in every case.
func (s *supervisor) openChecked(f *os.File, size int64) (*artifact.Artifact, error) {
	art, err := artifact.Open(f, size)
	if err != nil {
		return nil, err
	}
	s.cacheDir = s.cacheLocation(&art.Header)
	if s.cacheDir == "" {
		return art, art.VerifyPayload()
	}
	return artifact.Open(&verifyingReaderAt{r: f, art: art}, size)
}

// cacheLocation returns the cache root to use, or "" to run uncached.
func (s *supervisor) cacheLocation(h *artifact.Header) string {
	on := h.Cache
	switch v := os.Getenv(cacheEnv); v {
	case "":
	case "0":
		on = false
	case "1":
		on = true
	default:
		s.log.debugf("ignoring %s=%q: want 0 or 1", cacheEnv, v)
	}
	if !on {
		return ""
	}
	dir, err := cache.Dir(os.Getenv, os.Geteuid())
	if err != nil {
		s.log.debugf("running uncached: %v", err)
		return ""
	}
	artifactDir := filepath.Dir(s.exePath)
	if dir == artifactDir || strings.HasPrefix(dir, artifactDir+"/") {
		s.log.debugf("running uncached: the cache %s is inside %s, which the container's tmpfs covers", dir, artifactDir)
		return ""
	}
	return dir
}

// verifyingReaderAt hashes the payload before the first read that
// overlaps it, and fails every such read when the hash does not match.
type verifyingReaderAt struct {
	r    io.ReaderAt
	art  *artifact.Artifact // opened on r directly
	once sync.Once
	err  error
}

func (v *verifyingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	start := int64(v.art.Trailer.PayloadOffset)
	end := start + int64(v.art.Trailer.PayloadLength)
	if off < end && off+int64(len(p)) > start {
		v.once.Do(func() { v.err = v.art.VerifyPayload() })
		if v.err != nil {
			return 0, v.err
		}
	}
	return v.r.ReadAt(p, off)
}

// preparePayload makes dir show the payload's files. With the cache on,
// dir is a read-only bind of the cache entry, which is built first when
// missing or damaged, and the overlay above it still sends writes to the
// tmpfs. Without the cache, or when the cache cannot be used (which is
// logged), the payload is unpacked into dir on the tmpfs.
func preparePayload(cfg *initConfig, dir string, log *logger) error {
	defer debug.SetGCPercent(debug.SetGCPercent(unpackGCPercent))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(unpackMemoryLimit))
	if cfg.CacheDir == "" {
		return unpackPayload(cfg, dir, log)
	}
	src, err := openArtifactFD(cfg, log)
	if err != nil {
		return err
	}
	// The entry stays locked until the init exits, which keeps
	// "parker --cache-prune" from removing it under the target.
	entry, err := src.fromCache(cfg.CacheDir)
	if err == nil {
		if err = bindReadOnly(entry.Files, dir); err != nil {
			entry.Release()
		}
	}
	if err == nil {
		return nil
	}
	if src.verifyErr != nil {
		return src.verifyErr
	}
	log.debugf("running uncached: %v", err)
	if err := src.verify(); err != nil {
		return err
	}
	return src.unpack(dir)
}

// artifactSource reads the payload through the artifact descriptor the
// supervisor passed, which the init does not own: a raw descriptor
// rather than an *os.File, whose finalizer would close it.
type artifactSource struct {
	art       *artifact.Artifact
	workers   int
	log       *logger
	verified  bool
	verifyErr error // a *Failure once verify found the payload damaged
}

func openArtifactFD(cfg *initConfig, log *logger) (*artifactSource, error) {
	var st unix.Stat_t
	if err := unix.Fstat(cfg.ArtifactFD, &st); err != nil {
		return nil, failf(StatusRuntimeFailure, "reading the artifact: %w", err)
	}
	art, err := artifact.Open(fdReaderAt(cfg.ArtifactFD), st.Size)
	if err != nil {
		return nil, failf(StatusRuntimeFailure, "reading the artifact: %w", err)
	}
	return &artifactSource{art: art, workers: cfg.Workers, log: log}, nil
}

// fromCache returns the payload's cache entry, building it from the
// verified payload when it is missing or damaged.
func (a *artifactSource) fromCache(root string) (*cache.Entry, error) {
	c, err := cache.Open(root)
	if err != nil {
		return nil, err
	}
	var st unix.Statfs_t
	if err := unix.Statfs(c.Root(), &st); err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	if st.Flags&unix.ST_NOEXEC != 0 {
		return nil, fmt.Errorf("cache: %s is on a filesystem mounted noexec", c.Root())
	}

	sum := a.art.Trailer.PayloadSHA256
	entry, err := c.Lookup(sum)
	if err == nil {
		a.log.debugf("cache: using %s", entry.Files)
		return entry, nil
	}
	if !errors.Is(err, cache.ErrMiss) {
		a.log.debugf("%v; rebuilding it", err)
	}
	if err := a.verify(); err != nil {
		return nil, err
	}
	entry, err = c.Build(sum, a.unpack)
	if err != nil {
		return nil, err
	}
	a.log.debugf("cache: unpacked into %s", entry.Files)
	return entry, nil
}

// verify checks the payload's SHA-256 once and remembers the outcome.
func (a *artifactSource) verify() error {
	if a.verified || a.verifyErr != nil {
		return a.verifyErr
	}
	if err := a.art.VerifyPayload(); err != nil {
		path, lerr := os.Readlink("/proc/self/exe")
		if lerr != nil {
			path = "the artifact"
		}
		a.verifyErr = artifactFailure(path, err)
		return a.verifyErr
	}
	a.verified = true
	return nil
}

// unpack creates dir and streams the payload into it.
func (a *artifactSource) unpack(dir string) error {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return failf(StatusRuntimeFailure, "creating %s: %w", dir, err)
	}
	h := &a.art.Header
	r := payload.NewChunkReader(a.art.Payload(), h.Chunks, a.workers)
	defer r.Close()
	stats, err := payload.Unpack(r, dir, payload.UnpackOptions{
		MaxBytes:   h.FileBytes,
		MaxEntries: h.Entries,
		Log:        a.log.debugf,
	})
	if err != nil {
		return failf(StatusRuntimeFailure, "unpacking payload into %s: %w", dir, err)
	}
	a.log.debugf("unpacked %d entries, %d bytes", stats.Entries, stats.Bytes)
	return nil
}

// fdReaderAt reads from a descriptor with pread(2).
type fdReaderAt int

func (fd fdReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	for n < len(p) {
		k, err := unix.Pread(int(fd), p[n:], off+int64(n))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return n, &os.PathError{Op: "pread", Path: "artifact", Err: err}
		}
		if k == 0 {
			return n, io.EOF
		}
		n += k
	}
	return n, nil
}

// bindReadOnly binds src read-only, nosuid and nodev on a new directory
// dir, and removes dir again on failure. A remount inside a user
// namespace must keep the flags the kernel locked on the source mount, so
// those read back with statfs(2) are kept.
func bindReadOnly(src, dir string) (err error) {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = os.Remove(dir)
		}
	}()
	if err := mount(src, dir, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("binding the cached payload: %w", err)
	}
	defer func() {
		if err != nil {
			_ = unix.Unmount(dir, unix.MNT_DETACH)
		}
	}()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return fmt.Errorf("reading mount flags of %s: %w", dir, err)
	}
	flags := uintptr(unix.MS_REMOUNT | unix.MS_BIND | unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV)
	for _, f := range []struct{ st, ms uintptr }{
		{unix.ST_NOEXEC, unix.MS_NOEXEC},
		{unix.ST_NOATIME, unix.MS_NOATIME},
		{unix.ST_NODIRATIME, unix.MS_NODIRATIME},
		{unix.ST_RELATIME, unix.MS_RELATIME},
	} {
		if uintptr(st.Flags)&f.st != 0 {
			flags |= f.ms
		}
	}
	if err := mount("", dir, "", flags, ""); err != nil {
		return fmt.Errorf("making the cached payload read-only: %w", err)
	}
	return nil
}
