package cli

import (
	"context"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/parkerpack/parker/internal/pack"
)

func runPack(ctx context.Context, flags *parsedFlags, stdout, stderr io.Writer) error {
	if flags.bool("json") {
		return usageErrorf("--json works only with --list")
	}
	goGenerate := len(flags.operands) == 0 && pack.UnderGoGenerate(os.Getenv)
	if len(flags.operands) != 1 && !goGenerate {
		if len(flags.operands) == 0 {
			return usageErrorf("missing TARGET: name the program in the working directory to pack")
		}
		return usageErrorf("expected one TARGET, got %d: %q", len(flags.operands), flags.operands)
	}
	limits, err := parseLimits(flags)
	if err != nil {
		return err
	}
	workdir, err := workingDirectory(flags.string("directory"))
	if err != nil {
		return err
	}
	var target, built string
	excludes := flags.list("exclude")
	if goGenerate {
		// Under go generate with no TARGET: build this directory's main
		// package and pack it as NAME, the directory's base name.
		path, remove, err := pack.BuildGoPackage(ctx, workdir)
		if err != nil {
			return err
		}
		defer remove()
		target, built = filepath.Base(workdir), path
		excludes = append(append([]string(nil), pack.GoSourceExcludes...), excludes...)
	} else {
		target = flags.operands[0]
	}
	output := flags.string("output")
	if output != "" {
		if output, err = filepath.Abs(output); err != nil {
			return err
		}
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding the parker executable: %w", err)
	}
	stub, err := pack.FindStub(self, os.Getenv)
	if err != nil {
		return err
	}
	modTime, err := sourceDateEpoch(os.Getenv("SOURCE_DATE_EPOCH"))
	if err != nil {
		return err
	}

	warn := func(format string, args ...any) {
		fmt.Fprintf(stderr, "parker: warning: "+format+"\n", args...)
	}
	var logf func(string, ...any)
	if flags.bool("verbose") {
		logf = func(format string, args ...any) {
			fmt.Fprintf(stderr, "parker: "+format+"\n", args...)
		}
	}
	if stub == self && isDynamic(self) {
		warn("the runtime stub is parker itself, which is dynamically linked, so the artifact needs a compatible C library where it runs; "+
			"build parker with CGO_ENABLED=0 or install %s beside it", pack.StubName)
	}
	start := time.Now()
	res, err := pack.Pack(ctx, pack.Options{
		Workdir:        workdir,
		Target:         target,
		Built:          built,
		Output:         output,
		Stub:           stub,
		Force:          flags.bool("force"),
		DryRun:         flags.bool("dry-run"),
		SkipUnreadable: flags.bool("skip-unreadable"),
		Cache:          flags.bool("cache"),
		Persist:        flags.list("persist"),
		Excludes:       excludes,
		IgnoreFile:     flags.string("ignore-file"),
		Depfile:        flags.string("depfile"),
		Limits:         limits,
		ModTime:        modTime,
		Warn:           warn,
		Log:            logf,
	})
	if err != nil {
		return err
	}
	if flags.bool("dry-run") {
		printDryRun(stdout, res)
		return nil
	}
	if !flags.bool("quiet") {
		printReport(stdout, res, workdir, time.Since(start))
	}
	return nil
}

// isDynamic reports whether the ELF executable at path names a dynamic
// loader, as a parker built with cgo does (archive/tar pulls in os/user).
func isDynamic(path string) bool {
	f, err := elf.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return true
		}
	}
	return false
}

// workingDirectory returns the absolute workdir: -C DIR or the current one.
func workingDirectory(dir string) (string, error) {
	if dir == "" {
		dir = "."
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return "", fmt.Errorf("working directory: %w", err)
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("working directory %s is not a directory", abs)
	}
	return abs, nil
}

// sourceDateEpoch parses SOURCE_DATE_EPOCH (seconds since 1970) when set.
func sourceDateEpoch(v string) (time.Time, error) {
	if v == "" {
		return pack.DefaultModTime, nil
	}
	sec, err := strconv.ParseInt(v, 10, 64)
	if err != nil || sec < 0 {
		return time.Time{}, fmt.Errorf("invalid SOURCE_DATE_EPOCH %q: want seconds since 1970 as a non-negative integer", v)
	}
	return time.Unix(sec, 0).UTC(), nil
}
