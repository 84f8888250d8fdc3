package cli

import (
	"fmt"
	"io"
	"os"

	"github.com/parkerpack/parker/internal/hostcheck"
)

// runCheckHost prints one line per fact about what this host allows an
// artifact, ending with the isolation an artifact would get.
func runCheckHost(flags *parsedFlags, stdout io.Writer) error {
	if len(flags.operands) > 0 {
		return usageErrorf("--check-host takes no arguments")
	}
	report := hostcheck.Check(os.Getenv)
	for _, f := range report.Facts {
		fmt.Fprintf(stdout, "%s: %s\n", f.Name, f.Value)
	}
	return nil
}

// runProbe is the process that "parker --check-host" starts in new
// namespaces to try an overlay mount there. It reports failure on stderr,
// which the parent reads.
func runProbe(mode string, stderr io.Writer) int {
	if err := hostcheck.RunOverlayProbe(mode); err != nil {
		fmt.Fprintln(stderr, err)
		return exitFailure
	}
	return exitOK
}
