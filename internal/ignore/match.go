package ignore

import (
	"path"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
)

// Matcher decides which workdir paths a list of rules excludes.
type Matcher struct {
	rules []compiledRule
}

type compiledRule struct {
	rule Rule
	glob string // the doublestar pattern that implements rule.Pattern
}

// NewMatcher validates every rule's pattern and returns a Matcher that
// applies them in order, so that a later rule overrides an earlier one.
func NewMatcher(rules []Rule) (*Matcher, error) {
	m := &Matcher{rules: make([]compiledRule, 0, len(rules))}
	for _, r := range rules {
		if err := validate(&r, r.String()); err != nil {
			return nil, err
		}
		m.rules = append(m.rules, compiledRule{rule: r, glob: compileGlob(r.Pattern)})
	}
	return m, nil
}

// compileGlob turns a gitignore pattern into the doublestar pattern with the
// same meaning. Braces are escaped because git reads them literally, and
// doublestar's alternation takes time exponential in the number of groups.
// Git matches "foo/**" only below foo, but doublestar also matches "foo"
// itself, which would exclude the directory and make "!foo/keep" useless.
func compileGlob(pattern string) string {
	var b strings.Builder
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		switch {
		case c == '\\' && i+1 < len(pattern):
			b.WriteByte(c)
			i++
			b.WriteByte(pattern[i])
		case c == '{' || c == '}':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	glob := b.String()

	if rest, ok := strings.CutSuffix(glob, "/**"); ok && !endsInEscape(rest) {
		return rest + "/*/**"
	}
	return glob
}

// endsInEscape reports whether s ends in an odd run of backslashes, so that
// the byte after s would be escaped.
func endsInEscape(s string) bool {
	run := len(s) - len(strings.TrimRight(s, `\`))
	return run%2 == 1
}

// Match reports whether the rules exclude name, a slash-separated path
// relative to the workdir, and returns the rule that decided it (nil if none
// matched). isDir must be true for a directory and false for a symlink to one.
//
// Match checks the ancestors of name itself, like git: when a rule excludes a
// parent directory, name is excluded by that rule, and no "!" rule can
// re-include it. So callers need not ask for parents first, and a walk that
// prunes excluded directories gets the same results as one that does not.
func (m *Matcher) Match(name string, isDir bool) (excluded bool, rule *Rule) {
	if m == nil || name == "" || name == "." {
		return false, nil
	}
	for i := 0; i < len(name); i++ {
		if name[i] != '/' {
			continue
		}
		if excluded, rule := m.matchOne(name[:i], true); excluded {
			return true, rule
		}
	}
	return m.matchOne(name, isDir)
}

// matchOne applies the rules to name alone, ignoring its parents. The last
// rule that matches decides.
func (m *Matcher) matchOne(name string, isDir bool) (excluded bool, rule *Rule) {
	base := path.Base(name)
	for i := len(m.rules) - 1; i >= 0; i-- {
		c := &m.rules[i]
		if c.rule.DirOnly && !isDir {
			continue
		}
		subject := base
		if c.rule.Anchored {
			subject = name
		}
		if doublestar.MatchUnvalidated(c.glob, subject) {
			return !c.rule.Negate, &c.rule
		}
	}
	return false, nil
}
