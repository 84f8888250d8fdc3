package ignore

import (
	"errors"
	"strings"
	"testing"

	"github.com/bmatcuk/doublestar/v4"
)

// FuzzParse checks that Parse either returns a PatternError for the right
// source or rules that NewMatcher accepts, that Rule.String reads back to the
// same rule, and that Match does not panic on paths built from the input.
func FuzzParse(f *testing.F) {
	const maxMatchInput = 256
	f.Add("*.o\n!keep.o\n")
	f.Fuzz(func(t *testing.T, input string) {
		rules, err := Parse("fuzz", strings.NewReader(input))
		if err != nil {
			var patternErr *PatternError
			if !errors.As(err, &patternErr) || !errors.Is(err, doublestar.ErrBadPattern) {
				t.Fatalf("Parse(%q) error = %v, want a *PatternError", input, err)
			}
			if !strings.HasPrefix(err.Error(), "fuzz:") {
				t.Fatalf("Parse(%q) error = %q, want the prefix %q", input, err, "fuzz:")
			}
			return
		}
		m, err := NewMatcher(rules)
		if err != nil {
			t.Fatalf("NewMatcher(Parse(%q)) error = %v", input, err)
		}

		lines := strings.Count(input, "\n") + 1
		for _, r := range rules {
			if r.Pattern == "" || r.Line < 1 || r.Line > lines {
				t.Fatalf("Parse(%q) returned %+v, want a non-empty pattern on line 1..%d", input, r, lines)
			}
			// Line 1 would lose a leading byte order mark, so read it back as line 2.
			again, err := Parse("fuzz", strings.NewReader("x\n"+r.String()))
			if err != nil || len(again) != 2 {
				t.Fatalf("Parse(%q) = %+v, %v, want 2 rules", "x\n"+r.String(), again, err)
			}
			again[1].Line = r.Line
			if again[1] != r {
				t.Fatalf("Parse(String()) = %+v, want %+v", again[1], r)
			}
		}

		// Glob matching takes time proportional to pattern length times path
		// length, so long inputs exercise only Parse and NewMatcher.
		if len(input) > maxMatchInput {
			return
		}
		for _, r := range rules {
			m.Match(r.Pattern, true)
			m.Match("a/"+r.Pattern+"/b", false)
		}
		for _, line := range strings.Split(input, "\n") {
			m.Match(line, false)
		}
	})
}
