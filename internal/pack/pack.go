package pack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/parkerpack/parker/internal/artifact"
	"github.com/parkerpack/parker/internal/collect"
	"github.com/parkerpack/parker/internal/payload"
	"github.com/parkerpack/parker/internal/version"
)

// DefaultModTime is the modification time of every payload entry unless
// SOURCE_DATE_EPOCH sets another, so that artifacts are reproducible.
var DefaultModTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// Options is one pack request.
type Options struct {
	Workdir        string // absolute working directory
	Target         string // as given by the user
	Built          string // when set, this file is packed as Target (go generate mode)
	Output         string // absolute path; empty means Workdir/BASE-c
	Stub           string // runtime stub to copy to the front
	Force          bool   // replace an existing file parker did not write
	DryRun         bool
	SkipUnreadable bool
	Cache          bool
	Persist        []string
	Excludes       []string // --exclude globs
	IgnoreFile     string   // --ignore-file, in addition to .parkerignore
	Depfile        string
	Limits         artifact.Limits
	ModTime        time.Time
	Workers        int
	Warn           func(format string, args ...any)
}

// Result describes what Pack wrote, or would write in a dry run.
type Result struct {
	Output   string
	Target   string
	Entries  []payload.Entry
	Header   artifact.Header
	Size     int64 // artifact size
	StubSize int64
}

// Pack writes the artifact described by opts.
func Pack(ctx context.Context, opts Options) (*Result, error) {
	if opts.Warn == nil {
		opts.Warn = func(string, ...any) {}
	}
	if opts.ModTime.IsZero() {
		opts.ModTime = DefaultModTime
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.NumCPU()
	}
	target := opts.Target
	var err error
	if opts.Built == "" {
		if target, err = resolveTarget(opts.Workdir, opts.Target); err != nil {
			return nil, err
		}
	}
	if opts.Output == "" {
		opts.Output = filepath.Join(opts.Workdir, filepath.Base(target)+"-c")
	}
	persist, err := cleanPersist(opts.Persist)
	if err != nil {
		return nil, err
	}
	if !opts.DryRun {
		if err := checkOutput(opts.Output, opts.Force); err != nil {
			return nil, err
		}
	}
	matcher, ignoreFiles, err := loadIgnoreRules(opts)
	if err != nil {
		return nil, err
	}
	entries, err := collect.Collect(collect.Options{
		Root:           opts.Workdir,
		Exclude:        []string{opts.Output},
		Matcher:        matcher,
		Target:         target,
		SkipUnreadable: opts.SkipUnreadable,
		Warn:           opts.Warn,
	})
	if err != nil {
		return nil, err
	}
	entries = dropArtifacts(entries, opts.Warn)
	if opts.Built != "" {
		if entries, err = withBuiltTarget(entries, target, opts.Built); err != nil {
			return nil, err
		}
	}
	res := &Result{Output: opts.Output, Target: target, Entries: entries}
	res.Header = artifact.Header{
		Format:        artifact.FormatVersion,
		ParkerVersion: version.String(),
		Target:        target,
		Persist:       persist,
		Limits:        opts.Limits,
		Cache:         opts.Cache,
	}
	if opts.DryRun {
		return res, nil
	}
	if err := writeArtifact(ctx, opts, res); err != nil {
		return nil, err
	}
	if opts.Depfile != "" {
		if err := writeDepfile(opts.Depfile, opts.Output, opts.Workdir, entries, ignoreFiles); err != nil {
			return nil, err
		}
	}
	// The rename above changed the workdir's mtime after the artifact was
	// written; make compares the two (the depfile lists directories), so
	// the artifact must end up newer or every build would redo it.
	now := time.Now()
	if err := os.Chtimes(opts.Output, now, now); err != nil {
		return nil, err
	}
	return res, nil
}

// checkOutput refuses to replace a file that parker did not write.
func checkOutput(output string, force bool) error {
	fi, err := os.Lstat(output)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("checking output %s: %w", output, err)
	}
	if fi.IsDir() {
		return fmt.Errorf("output %s is a directory; choose a file name with -o", output)
	}
	if force || isArtifact(output) {
		return nil
	}
	return fmt.Errorf("output %s exists and was not written by parker; pass --force to replace it", output)
}

// isArtifact reports whether path ends with a parker trailer.
func isArtifact(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Size() < artifact.TrailerSize {
		return false
	}
	var tail [8]byte
	if _, err := f.ReadAt(tail[:], fi.Size()-8); err != nil {
		return false
	}
	return tail == artifact.Magic
}

// writeArtifact writes stub, payload, header and trailer to a temporary
// file beside the output and renames it into place, so that a failed or
// interrupted pack leaves any previous artifact untouched.
func writeArtifact(ctx context.Context, opts Options, res *Result) (err error) {
	stub, err := os.Open(opts.Stub)
	if err != nil {
		return fmt.Errorf("opening runtime stub: %w", err)
	}
	defer stub.Close()

	tmp, err := os.CreateTemp(filepath.Dir(opts.Output), "."+filepath.Base(opts.Output)+tempMarker+"*")
	if err != nil {
		return fmt.Errorf("creating temporary output: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()

	stubSize, err := io.Copy(tmp, stub)
	if err != nil {
		return fmt.Errorf("writing %s: %w", tmp.Name(), err)
	}
	aw := artifact.NewWriter(tmp, stubSize)
	comp := payload.NewCompressor(aw, payload.CompressOptions{
		ChunkSize: payload.DefaultChunkSize,
		Workers:   opts.Workers,
	})
	stats, err := payload.WriteTar(ctxWriter{ctx, comp}, res.Entries, payload.TarOptions{ModTime: opts.ModTime})
	if err != nil {
		comp.Close()
		return fmt.Errorf("packing %s: %w", opts.Workdir, err)
	}
	chunks, err := comp.Close()
	if err != nil {
		return fmt.Errorf("compressing payload: %w", err)
	}
	h := &res.Header
	h.Entries = stats.Entries
	h.UnpackedSize = stats.TarBytes
	h.FileBytes = stats.FileBytes
	h.ChunkSize = payload.DefaultChunkSize
	h.Chunks = chunks
	if err := aw.Finish(h, uint64(stats.TarBytes), uint64(stats.Entries)); err != nil {
		return fmt.Errorf("writing %s: %w", tmp.Name(), err)
	}
	if err := tmp.Chmod(0o755); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("writing %s: %w", tmp.Name(), err)
	}
	fi, err := tmp.Stat()
	if err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), opts.Output); err != nil {
		return fmt.Errorf("renaming into place: %w", err)
	}
	res.Size = fi.Size()
	res.StubSize = stubSize
	return nil
}

// ctxWriter fails writes once ctx is done, which stops a pack that the
// user interrupted at the next block it writes.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}
