package pack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
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
	Log            func(format string, args ...any) // debug hook; nil is silent
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

// Pack writes the artifact described by opts. A dry run stops after
// collecting the entries and writes nothing: no artifact, temporary file
// or depfile.
func Pack(ctx context.Context, opts Options) (*Result, error) {
	opts = withDefaults(opts)
	res, ignoreFiles, err := plan(opts)
	if err != nil || opts.DryRun {
		return res, err
	}
	opts.Output = res.Output
	if err := writeArtifact(ctx, opts, res); err != nil {
		return nil, err
	}
	if opts.Depfile != "" {
		if err := writeDepfile(opts.Depfile, opts.Output, opts.Workdir, res.Entries, ignoreFiles); err != nil {
			return nil, err
		}
	}
	return res, nil
}

func withDefaults(opts Options) Options {
	if opts.Warn == nil {
		opts.Warn = func(string, ...any) {}
	}
	if opts.Log == nil {
		opts.Log = func(string, ...any) {}
	}
	if opts.ModTime.IsZero() {
		opts.ModTime = DefaultModTime
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.NumCPU()
	}
	return opts
}

// plan checks the request and collects the entries to pack. It returns
// the ignore files it read, for the depfile.
func plan(opts Options) (*Result, []string, error) {
	target, output, err := checkRequest(opts)
	if err != nil {
		return nil, nil, err
	}
	persist, err := cleanPersist(opts.Persist)
	if err != nil {
		return nil, nil, err
	}

	entries, ignoreFiles, err := entriesToPack(opts, target, output)
	if err != nil {
		return nil, nil, err
	}

	res := &Result{Output: output, Target: target, Entries: entries}
	res.Header = artifact.Header{
		Format:        artifact.FormatVersion,
		ParkerVersion: version.String(),
		Target:        target,
		Persist:       persist,
		Limits:        opts.Limits,
		Cache:         opts.Cache,
	}
	return res, ignoreFiles, nil
}

// checkRequest resolves the target and the output path. Unless this is a
// dry run, it also checks that the output may be replaced.
func checkRequest(opts Options) (target, output string, err error) {
	target = opts.Target
	if opts.Built == "" {
		if target, err = resolveTarget(opts.Workdir, opts.Target); err != nil {
			return "", "", err
		}
	} else if err := checkSameMachine(opts.Built, opts.Stub); err != nil {
		return "", "", err
	}

	output = opts.Output
	if output == "" {
		output = filepath.Join(opts.Workdir, filepath.Base(target)+"-c")
	}
	if !opts.DryRun {
		if err := checkOutput(output, opts.Force); err != nil {
			return "", "", err
		}
	}
	return target, output, nil
}

// entriesToPack walks the workdir with the ignore rules and, in go
// generate mode, puts the built program in as the target. It returns the
// ignore files it read.
func entriesToPack(opts Options, target, output string) ([]payload.Entry, []string, error) {
	matcher, ignoreFiles, err := loadIgnoreRules(opts)
	if err != nil {
		return nil, nil, err
	}
	entries, err := collectEntries(collect.Options{
		Root:           opts.Workdir,
		Exclude:        []string{output},
		Matcher:        matcher,
		Target:         target,
		SkipUnreadable: opts.SkipUnreadable,
		Warn:           opts.Warn,
	})
	if err != nil {
		return nil, nil, err
	}

	entries = dropArtifacts(entries, opts.Log)
	if opts.Built != "" {
		if entries, err = withBuiltTarget(entries, target, opts.Built); err != nil {
			return nil, nil, err
		}
	}
	return entries, ignoreFiles, nil
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

	// A write error, such as a full disk, is reported as the output's,
	// whichever step runs into it.
	out := &outputFile{f: tmp}
	defer func() {
		if out.err != nil {
			err = fmt.Errorf("writing %s: %w", opts.Output, withoutPath(out.err))
		}
	}()

	stubSize, err := io.Copy(out, stub)
	if err != nil {
		return fmt.Errorf("copying runtime stub %s: %w", opts.Stub, err)
	}
	aw := artifact.NewWriter(out, stubSize)
	comp := payload.NewCompressor(aw, payload.CompressOptions{
		ChunkSize: payload.DefaultChunkSize,
		Workers:   opts.Workers,
	})
	stats, err := payload.WriteTar(ctxWriter{ctx, comp}, tarOrder(res.Entries), payload.TarOptions{ModTime: opts.ModTime})
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
		return fmt.Errorf("writing %s: %w", opts.Output, err)
	}
	if err := tmp.Chmod(0o755); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("writing %s: %w", opts.Output, withoutPath(err))
	}
	fi, err := tmp.Stat()
	if err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", opts.Output, withoutPath(err))
	}
	if err := os.Rename(tmp.Name(), opts.Output); err != nil {
		return fmt.Errorf("renaming into place: %w", err)
	}
	res.Size = fi.Size()
	res.StubSize = stubSize
	return nil
}

// outputFile keeps the first error from writing f.
type outputFile struct {
	f   *os.File
	err error
}

func (o *outputFile) Write(p []byte) (int, error) {
	n, err := o.f.Write(p)
	if err != nil && o.err == nil {
		o.err = err
	}
	return n, err
}

// withoutPath drops the path from an *fs.PathError, which names the
// temporary file rather than the output.
func withoutPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
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
