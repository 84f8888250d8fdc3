// Package depfile writes Make dependency files in the format of gcc -MD -MP.
package depfile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ErrUnrepresentable is wrapped by the error Write returns for a file name
// that GNU make cannot read back as a single file.
var ErrUnrepresentable = errors.New("depfile: make cannot express this file name")

// Write writes a rule that makes target depend on every prerequisite, one
// per continuation line, with the names that end with ")" first. An empty
// rule follows for each prerequisite, so that make does not fail when one of
// them is deleted:
//
//	target: \
//	  a \
//	  b
//
//	a:
//
//	b:
//
// A space is escaped as "\ ", "#" as "\#", ":" as "\:" and "$" as "$$", and
// the backslashes that precede an escaped byte are doubled. In rule targets
// "%" is escaped as "\%", so that make does not read a pattern rule.
//
// Write returns an error wrapping ErrUnrepresentable, and writes nothing, if
// a name contains what GNU make cannot escape. Examples are a tab, newline,
// "=", ";" or "|", a trailing space or backslash, a leading "~", a name
// that ends with ")" and has a "(" after its first byte (an archive member
// such as "lib(x.o)" to make), and the name of a make directive or special
// target such as ".PHONY".
//
// NOTE: names with "*", "?" or "[" are written as they are, as gcc does.
// Make expands them as wildcards, so they stand for themselves only while
// no other file matches them.
func Write(w io.Writer, target string, prereqs []string) error {
	escapedTarget, err := escape(target, true)
	if err != nil {
		return err
	}
	// Make joins a word that contains "(" with the words after it, up to one
	// that ends with ")", into an archive member list such as "lib(a b)".
	// Writing the names that end with ")" first keeps any name from joining
	// a later one.
	var ordered, others []string
	for _, p := range prereqs {
		if strings.HasSuffix(p, ")") {
			ordered = append(ordered, p)
		} else {
			others = append(others, p)
		}
	}
	ordered = append(ordered, others...)

	asPrereq := make([]string, len(ordered))
	asTarget := make([]string, len(ordered))
	for i, p := range ordered {
		if asPrereq[i], err = escape(p, false); err != nil {
			return err
		}
		if asTarget[i], err = escape(p, true); err != nil {
			return err
		}
	}

	bw := bufio.NewWriter(w)
	bw.WriteString(escapedTarget + ":")
	for _, p := range asPrereq {
		bw.WriteString(" \\\n  " + p)
	}
	bw.WriteString("\n")
	for _, p := range asTarget {
		bw.WriteString("\n" + p + ":\n")
	}
	return bw.Flush()
}

// escape quotes name for a make rule, as a rule target if asTarget is set and
// as a prerequisite otherwise.
func escape(name string, asTarget bool) (string, error) {
	if reason := unrepresentable(name); reason != "" {
		return "", fmt.Errorf("%w: %q %s", ErrUnrepresentable, name, reason)
	}

	var b strings.Builder
	backslashes := 0
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '$':
			b.WriteString("$$")
		case c == ' ' || c == '#' || c == ':' || (asTarget && c == '%'):
			// Make reads "\\" as one backslash only before an escaped byte.
			b.WriteString(strings.Repeat(`\`, backslashes+1))
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
		if c == '\\' {
			backslashes++
		} else {
			backslashes = 0
		}
	}
	return b.String(), nil
}
