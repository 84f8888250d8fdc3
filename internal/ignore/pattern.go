package ignore

import (
	"fmt"

	"github.com/bmatcuk/doublestar/v4"
)

// PatternError reports a pattern that doublestar rejects. It unwraps to
// doublestar.ErrBadPattern.
type PatternError struct {
	Source string
	Line   int    // 0 for command-line globs
	Text   string // the pattern as written, after trailing spaces are removed
	Reason string
}

func (e *PatternError) Error() string {
	origin := (&Rule{Source: e.Source, Line: e.Line}).Origin()
	return fmt.Sprintf("%s: invalid pattern %q: %s", origin, e.Text, e.Reason)
}

func (e *PatternError) Unwrap() error { return doublestar.ErrBadPattern }

// validate checks the glob that r.Pattern compiles to with
// doublestar.ValidatePattern; text is the pattern as written, for the error
// message.
func validate(r *Rule, text string) error {
	if doublestar.ValidatePattern(compileGlob(r.Pattern)) {
		return nil
	}
	return &PatternError{Source: r.Source, Line: r.Line, Text: text, Reason: invalidReason(r.Pattern)}
}

// invalidReason describes why doublestar.ValidatePattern rejects the glob
// that p compiles to. It follows the same scan: a backslash escapes the next
// byte, and a character class needs a closing "]" and at least one member.
// Braces play no part, because compileGlob escapes them.
func invalidReason(p string) string {
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '\\':
			i++
			if i == len(p) {
				return `trailing "\" escapes nothing; write "\\" for a literal backslash`
			}
		case '[':
			end, reason := scanClass(p, i)
			if reason != "" {
				return reason
			}
			i = end
		}
	}
	return "syntax error"
}

// scanClass returns the index of the "]" that closes the character class
// opening at p[start], or a reason why the class is invalid.
func scanClass(p string, start int) (end int, reason string) {
	const unclosed = `"[" without "]"; write "\[" for a literal bracket`
	i := start + 1
	if i < len(p) && (p[i] == '^' || p[i] == '!') {
		i++
	}
	if i >= len(p) {
		return 0, unclosed
	}
	if p[i] == ']' {
		return 0, `empty character class "[]"`
	}
	for ; i < len(p); i++ {
		switch p[i] {
		case '\\':
			i++
		case ']':
			return i, ""
		}
	}
	return 0, unclosed
}
