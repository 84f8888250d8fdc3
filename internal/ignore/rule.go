// Package ignore parses gitignore-style exclusion rules (from .parkerignore
// files and --exclude flags) and matches workdir paths against them.
//
// The syntax is that of gitignore(5), with github.com/bmatcuk/doublestar/v4
// matching the globs. Braces are literal, as in git, and not doublestar
// alternations. Unlike git, a malformed pattern such as "a[" is an error.
//
// NOTE: doublestar matches characters where git matches bytes, so "?" matches
// "é" (two bytes), and all invalid UTF-8 bytes compare equal to each other
// and to U+FFFD. POSIX classes such as "[[:digit:]]" are not supported either.
package ignore

import (
	"strconv"
	"strings"
)

// Rule is one parsed pattern line.
type Rule struct {
	// Pattern is the glob with any leading "!", leading "/" and trailing "/"
	// removed. Backslash escapes are kept, because doublestar interprets them.
	Pattern string

	Negate   bool // the line started with "!": a match re-includes the path
	DirOnly  bool // the line ended with "/": only directories match
	Anchored bool // the pattern is matched against the whole path, not the base name

	Source string // file name, or "--exclude" for command-line globs
	Line   int    // 1-based line in Source; 0 for command-line globs
}

// Origin returns "SOURCE:LINE", or SOURCE alone when the rule has no line.
func (r *Rule) Origin() string {
	if r.Line > 0 {
		return r.Source + ":" + strconv.Itoa(r.Line)
	}
	return r.Source
}

// String returns the rule as a pattern line that Parse reads back to the
// same Pattern, Negate, DirOnly and Anchored.
func (r *Rule) String() string {
	var b strings.Builder
	if r.Negate {
		b.WriteByte('!')
	}

	if r.Anchored && needsLeadingSlash(r.Pattern) {
		b.WriteByte('/')
	}
	b.WriteString(r.Pattern)
	if r.DirOnly {
		b.WriteByte('/')
	}
	return b.String()
}

// needsLeadingSlash reports whether an anchored pattern must be written with
// a leading "/". A slash inside the pattern already anchors it, unless the
// pattern would then start with "/", "!" or "#" and be read differently.
func needsLeadingSlash(pattern string) bool {
	if !strings.Contains(pattern, "/") {
		return true
	}
	return strings.ContainsAny(pattern[:1], "/!#")
}
