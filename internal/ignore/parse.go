package ignore

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// Parse reads gitignore-style pattern lines from r. Name is recorded in each
// Rule's Source and starts every error message ("NAME:LINE: invalid pattern").
//
// Blank lines and lines starting with "#" are skipped. Trailing spaces are
// removed unless escaped with a backslash. A leading "!" negates the rule, and
// "\#" or "\!" match a literal leading "#" or "!". A trailing "/" restricts the
// rule to directories. A "/" at the start or in the middle anchors the pattern
// to the workdir root. A pattern without one matches the base name at any
// depth. A line that is empty after these steps, such as "/" or "!", matches
// nothing and is skipped, as git does.
func Parse(name string, r io.Reader) ([]Rule, error) {
	br := bufio.NewReader(r)
	var rules []Rule
	for lineNo := 1; ; lineNo++ {
		line, readErr := br.ReadString('\n')
		if readErr != nil && !errors.Is(readErr, io.EOF) {
			return nil, fmt.Errorf("reading %s: %w", name, readErr)
		}
		if lineNo == 1 {
			line = strings.TrimPrefix(line, "\ufeff")
		}
		// Like git, drop a carriage return only before a newline.
		if trimmed, ok := strings.CutSuffix(line, "\n"); ok {
			line = strings.TrimSuffix(trimmed, "\r")
		}

		rule, ok, err := parseLine(line, name, lineNo)
		if err != nil {
			return nil, err
		}
		if ok {
			rules = append(rules, rule)
		}
		if readErr != nil {
			return rules, nil
		}
	}
}

// ParseFile parses the ignore file at path, using path as the rules' Source.
func ParseFile(path string) ([]Rule, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Parse(path, f)
}

// FromGlobs turns command-line globs into rules with the given Source (such
// as "--exclude") and Line 0. Each glob has the syntax of one pattern line,
// except that a leading "#" is literal, and an empty glob is an error.
func FromGlobs(source string, globs []string) ([]Rule, error) {
	rules := make([]Rule, 0, len(globs))
	for _, glob := range globs {
		text := glob
		if strings.HasPrefix(text, "#") {
			text = `\` + text
		}
		rule, ok, err := parseLine(text, source, 0)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, &PatternError{Source: source, Text: glob, Reason: "the pattern matches nothing"}
		}
		rules = append(rules, rule)
	}
	return rules, nil
}

// parseLine parses one line and reports ok=false for a line that holds no
// rule: a blank line, a comment, or a pattern that is empty once the "!",
// "/" markers are removed.
func parseLine(line, source string, lineNo int) (rule Rule, ok bool, err error) {
	if strings.HasPrefix(line, "#") {
		return Rule{}, false, nil
	}
	text := trimTrailingSpaces(line)
	rule = Rule{Source: source, Line: lineNo}

	pattern := text
	if strings.HasPrefix(pattern, "!") {
		rule.Negate = true
		pattern = pattern[1:]
	}
	if strings.HasSuffix(pattern, "/") {
		rule.DirOnly = true
		pattern = pattern[:len(pattern)-1]
	}
	if strings.Contains(pattern, "/") {
		rule.Anchored = true
		pattern = strings.TrimPrefix(pattern, "/")
	}
	if pattern == "" {
		return Rule{}, false, nil
	}
	rule.Pattern = pattern

	if err := validate(&rule, text); err != nil {
		return Rule{}, false, err
	}
	return rule, true, nil
}

// trimTrailingSpaces removes trailing spaces that no backslash escapes, as
// git does: "a\ " keeps one space, and tabs are never removed.
func trimTrailingSpaces(s string) string {
	spaceRun := -1
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ' ':
			if spaceRun < 0 {
				spaceRun = i
			}
		case '\\':
			i++
			spaceRun = -1
		default:
			spaceRun = -1
		}
	}
	if spaceRun < 0 {
		return s
	}
	return s[:spaceRun]
}
