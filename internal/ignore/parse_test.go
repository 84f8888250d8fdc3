package ignore

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bmatcuk/doublestar/v4"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  []Rule
	}{
		{"blank and comment", "\n   \n# comment\n", nil},
		{"hash after tab is no comment", "\t#x\n", []Rule{{Pattern: "\t#x", Line: 1}}},
		{"plain", "*.o\n", []Rule{{Pattern: "*.o", Line: 1}}},
		{"no final newline", "a\nb", []Rule{{Pattern: "a", Line: 1}, {Pattern: "b", Line: 2}}},
		{"crlf", "a\r\nb\r\n", []Rule{{Pattern: "a", Line: 1}, {Pattern: "b", Line: 2}}},
		{"byte order mark", "\ufeffa\n", []Rule{{Pattern: "a", Line: 1}}},
		{"negate", "!keep\n", []Rule{{Pattern: "keep", Negate: true, Line: 1}}},
		{"escaped hash", `\#x`, []Rule{{Pattern: `\#x`, Line: 1}}},
		{"escaped bang", `\!x`, []Rule{{Pattern: `\!x`, Line: 1}}},
		{"hash after negate", "!#x", []Rule{{Pattern: "#x", Negate: true, Line: 1}}},
		{"trailing spaces trimmed", "a  \n", []Rule{{Pattern: "a", Line: 1}}},
		{"escaped trailing space", `a\  `, []Rule{{Pattern: `a\ `, Line: 1}}},
		{"escaped backslash then space", `a\\ `, []Rule{{Pattern: `a\\`, Line: 1}}},
		{"trailing tab kept", "a\t", []Rule{{Pattern: "a\t", Line: 1}}},
		{"leading space kept", " a", []Rule{{Pattern: " a", Line: 1}}},
		{"dir only", "build/", []Rule{{Pattern: "build", DirOnly: true, Line: 1}}},
		{"leading slash anchors", "/build", []Rule{{Pattern: "build", Anchored: true, Line: 1}}},
		{"middle slash anchors", "a/b", []Rule{{Pattern: "a/b", Anchored: true, Line: 1}}},
		{"trailing slash does not anchor", "a/", []Rule{{Pattern: "a", DirOnly: true, Line: 1}}},
		{"all markers", "!/a/b/", []Rule{{Pattern: "a/b", Negate: true, DirOnly: true, Anchored: true, Line: 1}}},
		{"double star prefix", "**/foo", []Rule{{Pattern: "**/foo", Anchored: true, Line: 1}}},
		{"double star suffix", "foo/**", []Rule{{Pattern: "foo/**", Anchored: true, Line: 1}}},
		{"empty after markers", "/\n!\n!/\n//\n", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse("test", strings.NewReader(tc.input))
			if err != nil {
				t.Fatalf("Parse(%q) error = %v", tc.input, err)
			}
			for i := range tc.want {
				tc.want[i].Source = "test"
			}
			if len(got) != len(tc.want) {
				t.Fatalf("Parse(%q) = %+v, want %+v", tc.input, got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("Parse(%q)[%d] = %+v, want %+v", tc.input, i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestParseInvalidPattern(t *testing.T) {
	tests := []struct {
		input string
		want  string
	}{
		{"ok\n# c\na[b\n", `.parkerignore:3: invalid pattern "a[b": "[" without "]"; write "\[" for a literal bracket`},
		{"a[]", `.parkerignore:1: invalid pattern "a[]": empty character class "[]"`},
		{"a[!", `.parkerignore:1: invalid pattern "a[!": "[" without "]"; write "\[" for a literal bracket`},
		{`a\`, `.parkerignore:1: invalid pattern "a\\": trailing "\" escapes nothing; write "\\" for a literal backslash`},
		{"[a]\n/x/[\\]/", `.parkerignore:2: invalid pattern "/x/[\\]/": "[" without "]"; write "\[" for a literal bracket`},
	}
	for _, tc := range tests {
		t.Run(tc.input, func(t *testing.T) {
			_, err := Parse(".parkerignore", strings.NewReader(tc.input))
			if err == nil {
				t.Fatalf("Parse(%q) error = nil, want %q", tc.input, tc.want)
			}
			if err.Error() != tc.want {
				t.Errorf("Parse(%q) error = %q, want %q", tc.input, err, tc.want)
			}
			if !errors.Is(err, doublestar.ErrBadPattern) {
				t.Errorf("Parse(%q) error does not wrap doublestar.ErrBadPattern", tc.input)
			}
		})
	}
}

func TestParseFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".parkerignore")
	if err := os.WriteFile(path, []byte("# tmp\n*.tmp\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rules, err := ParseFile(path)
	if err != nil {
		t.Fatalf("ParseFile error = %v", err)
	}
	want := Rule{Pattern: "*.tmp", Source: path, Line: 2}
	if len(rules) != 1 || rules[0] != want {
		t.Errorf("ParseFile = %+v, want [%+v]", rules, want)
	}
	if got, want := rules[0].Origin(), path+":2"; got != want {
		t.Errorf("Origin() = %q, want %q", got, want)
	}

	_, err = ParseFile(filepath.Join(t.TempDir(), "missing"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ParseFile(missing) error = %v, want os.ErrNotExist", err)
	}
}

func TestFromGlobs(t *testing.T) {
	rules, err := FromGlobs("--exclude", []string{"*.log", "#notes", "!keep.log", "cache/", "/top"})
	if err != nil {
		t.Fatalf("FromGlobs error = %v", err)
	}
	want := []Rule{
		{Pattern: "*.log", Source: "--exclude"},
		{Pattern: `\#notes`, Source: "--exclude"},
		{Pattern: "keep.log", Negate: true, Source: "--exclude"},
		{Pattern: "cache", DirOnly: true, Source: "--exclude"},
		{Pattern: "top", Anchored: true, Source: "--exclude"},
	}
	if len(rules) != len(want) {
		t.Fatalf("FromGlobs = %+v, want %+v", rules, want)
	}
	for i := range rules {
		if rules[i] != want[i] {
			t.Errorf("FromGlobs[%d] = %+v, want %+v", i, rules[i], want[i])
		}
	}
	if got := rules[0].Origin(); got != "--exclude" {
		t.Errorf("Origin() = %q, want %q", got, "--exclude")
	}

	m, err := NewMatcher(rules)
	if err != nil {
		t.Fatal(err)
	}
	if excluded, _ := m.Match("#notes", false); !excluded {
		t.Errorf(`Match("#notes") = false, want true because "#" is literal in a glob`)
	}
}

func TestFromGlobsInvalid(t *testing.T) {
	tests := []struct {
		glob string
		want string
	}{
		{"", `--exclude: invalid pattern "": the pattern matches nothing`},
		{"/", `--exclude: invalid pattern "/": the pattern matches nothing`},
		{"a[", `--exclude: invalid pattern "a[": "[" without "]"; write "\[" for a literal bracket`},
	}
	for _, tc := range tests {
		t.Run(tc.glob, func(t *testing.T) {
			_, err := FromGlobs("--exclude", []string{"ok", tc.glob})
			if err == nil || err.Error() != tc.want {
				t.Errorf("FromGlobs(%q) error = %v, want %q", tc.glob, err, tc.want)
			}
		})
	}
}

func TestRuleStringRoundTrip(t *testing.T) {
	input := "a\n!b\n/c\nd/e\n/f/g/\n!/h/\n**/i\nj/**\n\\#k\n\\!l\nm\\ \n//n\n!#o\n"
	rules, err := Parse("x", strings.NewReader(input))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rules {
		again, err := Parse("x", strings.NewReader(r.String()))
		if err != nil {
			t.Fatalf("Parse(%q) error = %v", r.String(), err)
		}
		again[0].Line = r.Line
		if len(again) != 1 || again[0] != r {
			t.Errorf("Parse(%q) = %+v, want %+v", r.String(), again, r)
		}
	}
}
