package ignore

import (
	"strings"
	"testing"
)

func TestMatch(t *testing.T) {
	tests := []struct {
		name     string
		rules    string
		path     string
		isDir    bool
		excluded bool
		line     int // line of the deciding rule; 0 means no rule matched
	}{
		{"no rules", "", "a", false, false, 0},
		{"unanchored base name at top", "*.o", "x.o", false, true, 1},
		{"unanchored base name deep", "*.o", "a/b/x.o", false, true, 1},
		{"star stops at slash", "a*", "ab/c", false, true, 1},
		{"unanchored no partial", "*.o", "x.oo", false, false, 0},
		{"leading slash anchors", "/x", "x", false, true, 1},
		{"leading slash not deep", "/x", "a/x", false, false, 0},
		{"middle slash anchors", "a/b", "a/b", false, true, 1},
		{"middle slash not deep", "a/b", "c/a/b", false, false, 0},
		{"anchored star one level", "a/*", "a/b", false, true, 1},
		{"anchored star parent excludes deeper", "a/*", "a/b/c", false, true, 1},
		{"dir only matches dir", "build/", "build", true, true, 1},
		{"dir only skips file", "build/", "build", false, false, 0},
		{"dir only deep", "build/", "x/build", true, true, 1},
		{"dir only excludes contents", "build/", "build/out.bin", false, true, 1},
		{"leading double star top", "**/foo", "foo", false, true, 1},
		{"leading double star deep", "**/foo", "a/b/foo", false, true, 1},
		{"trailing double star contents", "foo/**", "foo/a/b", false, true, 1},
		{"trailing double star not dir itself", "foo/**", "foo", true, false, 0},
		{"middle double star zero dirs", "a/**/b", "a/b", false, true, 1},
		{"middle double star many dirs", "a/**/b", "a/x/y/b", false, true, 1},
		{"middle double star other", "a/**/b", "a/x/c", false, false, 0},
		{"re-include", "*.log\n!keep.log", "keep.log", false, false, 2},
		{"re-include other still excluded", "*.log\n!keep.log", "drop.log", false, true, 1},
		{"last match wins exclude", "!a\na", "a", false, true, 2},
		{"last match wins include", "a\n!a\na\n!a", "a", false, false, 4},
		{"excluded parent blocks re-include", "build/\n!build/keep", "build/keep", false, true, 1},
		{"excluded grandparent blocks re-include", "/a\n!a/b/c", "a/b/c", false, true, 1},
		{"double star contents re-include", "foo/**\n!foo/keep", "foo/keep", false, false, 2},
		{"double star re-include subdir blocked", "foo/**\n!foo/sub/x", "foo/sub/x", false, true, 1},
		{"re-included dir parent", "build/\n!build/", "build/x", false, false, 0},
		{"escaped hash", `\#x`, "#x", false, true, 1},
		{"escaped bang", `\!x`, "!x", false, true, 1},
		{"escaped trailing space", `sp\ `, "sp ", false, true, 1},
		{"trimmed trailing space", "sp  ", "sp", false, true, 1},
		{"character class", "[ab].c", "b.c", false, true, 1},
		{"negated class", "[!ab].c", "b.c", false, false, 0},
		{"question mark", "?.c", "ab.c", false, false, 0},
		{"braces literal", "*.{o,a}", "x.{o,a}", false, true, 1},
		{"braces no alternation", "*.{o,a}", "x.a", false, false, 0},
		{"unbalanced brace literal", "a}{", "a}{", false, true, 1},
		{"brace in class", "[{]x", "{x", false, true, 1},
		{"escaped backslash before double star", `a\\/**`, `a\/b`, false, true, 1},
		{"escaped backslash dir itself", `a\\/**`, `a\`, true, false, 0},
		{"dot files match star", "*", ".hidden", false, true, 1},
		{"symlink to dir is no dir", "lib/", "lib", false, false, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rules, err := Parse("r", strings.NewReader(tc.rules))
			if err != nil {
				t.Fatal(err)
			}
			m, err := NewMatcher(rules)
			if err != nil {
				t.Fatal(err)
			}
			excluded, rule := m.Match(tc.path, tc.isDir)
			if excluded != tc.excluded {
				t.Errorf("Match(%q, %v) with %q = %v, want %v", tc.path, tc.isDir, tc.rules, excluded, tc.excluded)
			}
			line := 0
			if rule != nil {
				line = rule.Line
			}
			if line != tc.line {
				t.Errorf("Match(%q, %v) with %q decided by line %d, want %d", tc.path, tc.isDir, tc.rules, line, tc.line)
			}
		})
	}
}

func TestMatchNil(t *testing.T) {
	var m *Matcher
	if excluded, rule := m.Match("a", false); excluded || rule != nil {
		t.Errorf("nil Matcher Match = %v, %v, want false, nil", excluded, rule)
	}
}

func TestNewMatcherInvalid(t *testing.T) {
	rules := []Rule{{Pattern: "ok"}, {Pattern: "a[", Negate: true, Source: "flags", Line: 0}}
	_, err := NewMatcher(rules)
	want := `flags: invalid pattern "!a[": "[" without "]"; write "\[" for a literal bracket`
	if err == nil || err.Error() != want {
		t.Errorf("NewMatcher error = %v, want %q", err, want)
	}
}
