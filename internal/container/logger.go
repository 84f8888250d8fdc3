package container

import (
	"fmt"
	"io"
	"os"
)

// logger writes the runtime's debug log (PARKER_VERBOSE=1) and its error
// lines. Every line starts with "parker: " so it can be distinguished from the
// target's own output on the shared stderr.
type logger struct {
	w       io.Writer
	verbose bool
}

func newLogger(verbose bool) *logger { return &logger{w: os.Stderr, verbose: verbose} }

// debugf logs one step when verbose logging is on.
func (l *logger) debugf(format string, args ...any) {
	if l == nil || !l.verbose {
		return
	}
	fmt.Fprintf(l.w, "parker: "+format+"\n", args...)
}

// noticef prints a line the user should see even without verbose logging,
// such as a limit that cannot be enforced.
func (l *logger) noticef(format string, args ...any) {
	fmt.Fprintf(l.w, "parker: "+format+"\n", args...)
}

// errorf prints the runtime's final error line.
func (l *logger) errorf(err error) {
	fmt.Fprintf(l.w, "parker: %v\n", err)
}
