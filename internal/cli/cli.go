// Package cli implements the parker command line.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/parkerpack/parker/internal/hostcheck"
	"github.com/parkerpack/parker/internal/version"
)

// Exit statuses of the parker command.
const (
	exitOK          = 0
	exitFailure     = 1
	exitUsage       = 2
	exitInterrupted = 130
)

var specs = []flagSpec{
	{long: "output", short: "o", kind: stringFlag, arg: "FILE", help: "write the artifact to FILE (default: WORKDIR/BASE-c, BASE being TARGET's file name)"},
	{long: "directory", short: "C", kind: stringFlag, arg: "DIR", help: "use DIR as the working directory instead of the current one"},
	{long: "quiet", short: "q", kind: boolFlag, help: "print nothing but errors and warnings"},
	{long: "verbose", short: "v", kind: boolFlag, help: "also name the parker artifacts and temporary files left out of the payload"},
	{long: "force", kind: boolFlag, help: "replace an output file that parker did not write"},
	{long: "dry-run", kind: boolFlag, help: "list what would be packed and write nothing"},
	{long: "exclude", kind: listFlag, arg: "GLOB", help: "leave out paths matching GLOB (gitignore syntax; repeatable)"},
	{long: "ignore-file", kind: stringFlag, arg: "FILE", help: "read more ignore rules from FILE, after .parkerignore"},
	{long: "skip-unreadable", kind: boolFlag, help: "leave out unreadable files with a warning instead of failing"},
	{long: "depfile", kind: stringFlag, arg: "FILE", help: "write a Make dependency file listing every packed path"},
	{long: "persist", kind: listFlag, arg: "PATH", help: "keep writes to PATH (relative to WORKDIR) in the directory that holds the artifact (repeatable)"},
	{long: "memory", kind: stringFlag, arg: "SIZE", help: "limit the container's memory, e.g. 512M or 2G (bytes, K, M, G: powers of 1024)"},
	{long: "pids", kind: stringFlag, arg: "N", help: "limit the container to N processes and threads"},
	{long: "cpus", kind: stringFlag, arg: "N", help: "limit the container to N CPUs of time, e.g. 1.5"},
	{long: "cache", kind: boolFlag, help: "let the artifact keep its unpacked files in a per-user cache for faster starts"},
	{long: "cache-prune", kind: boolFlag, help: "remove this user's cache entries not used for DAYS days (default 30): parker --cache-prune [DAYS]"},
	{long: "list", kind: boolFlag, help: "print an artifact's metadata and files: parker --list FILE"},
	{long: "verify", kind: boolFlag, help: "check an artifact's trailer and checksums: parker --verify FILE"},
	{long: "extract", kind: boolFlag, help: "unpack an artifact's payload: parker --extract FILE DIR"},
	{long: "json", kind: boolFlag, help: "with --list, print JSON"},
	{long: "check-host", kind: boolFlag, help: "report what this host allows artifacts (namespaces, cgroups, overlayfs, temporary directories) and how they would run"},
	{long: "help", short: "h", kind: boolFlag, help: "print this help"},
	{long: "version", kind: boolFlag, help: "print parker's version"},
}

// Main runs the parker command with args (without the program name) and
// returns its exit status.
func Main(args []string, stdout, stderr io.Writer) int {
	if mode := os.Getenv(hostcheck.ProbeEnv); mode != "" {
		return runProbe(mode, stderr)
	}
	flags, err := parseFlags(specs, args)
	if err != nil {
		fmt.Fprintf(stderr, "parker: %v\nRun 'parker --help' for usage.\n", err)
		return exitUsage
	}
	if flags.bool("help") {
		printHelp(stdout)
		return exitOK
	}
	if flags.bool("version") {
		fmt.Fprintf(stdout, "parker %s\n", version.String())
		return exitOK
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()

	err = dispatch(ctx, flags, stdout, stderr)
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, new(*UsageError)):
		fmt.Fprintf(stderr, "parker: %v\nRun 'parker --help' for usage.\n", err)
		return exitUsage
	case ctx.Err() != nil:
		fmt.Fprintln(stderr, "parker: interrupted; nothing was written")
		return exitInterrupted
	default:
		fmt.Fprintf(stderr, "parker: %v\n", err)
		var ec interface{ ExitCode() int }
		if errors.As(err, &ec) {
			return ec.ExitCode()
		}
		return exitFailure
	}
}

func dispatch(ctx context.Context, flags *parsedFlags, stdout, stderr io.Writer) error {
	modes := 0
	for _, m := range []string{"list", "verify", "extract", "check-host", "cache-prune"} {
		if flags.bool(m) {
			modes++
		}
	}
	if modes > 1 {
		return usageErrorf("--list, --verify, --extract, --check-host and --cache-prune exclude each other")
	}
	switch {
	case flags.bool("list"):
		return runList(flags, stdout)
	case flags.bool("verify"):
		return runVerify(flags, stdout)
	case flags.bool("extract"):
		return runExtract(flags, stdout)
	case flags.bool("check-host"):
		return runCheckHost(flags, stdout)
	case flags.bool("cache-prune"):
		return runCachePrune(flags, stdout)
	}
	return runPack(ctx, flags, stdout, stderr)
}

func printHelp(w io.Writer) {
	fmt.Fprint(w, `Usage: parker [flags] TARGET
       parker --list [--json] FILE | --verify FILE | --extract FILE DIR
       parker --check-host | --cache-prune [DAYS]

Packs the working directory into one executable, TARGET-c, that runs
TARGET in a private container wherever it is copied. TARGET is a program
in the working directory; everything else there is packed as its assets.

Flags:
`)
	for _, s := range specs {
		name := "    --" + s.long
		if s.short != "" {
			name = "-" + s.short + ", --" + s.long
		}
		if s.arg != "" {
			name += " " + s.arg
		}
		fmt.Fprintf(w, "  %-26s %s\n", name, s.help)
	}
	fmt.Fprint(w, `
Exit status: 0 success, 1 failure, 2 usage error, 130 interrupted.
`)
}
