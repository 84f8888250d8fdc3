package cli

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

var testSpecs = []flagSpec{
	{long: "output", short: "o", kind: stringFlag, arg: "FILE"},
	{long: "exclude", kind: listFlag, arg: "GLOB"},
	{long: "quiet", short: "q", kind: boolFlag},
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		args     []string
		output   string
		exclude  []string
		quiet    bool
		operands []string
	}{
		{args: []string{"app"}, operands: []string{"app"}},
		{args: []string{"-o", "x", "app"}, output: "x", operands: []string{"app"}},
		{args: []string{"-ox", "app"}, output: "x", operands: []string{"app"}},
		{args: []string{"app", "--output=x"}, output: "x", operands: []string{"app"}},
		{args: []string{"--output", "-q", "app"}, output: "-q", operands: []string{"app"}},
		{args: []string{"-o", "a", "-o", "b", "app"}, output: "b", operands: []string{"app"}},
		{args: []string{"--exclude", "a", "--exclude=b", "app"}, exclude: []string{"a", "b"}, operands: []string{"app"}},
		{args: []string{"-q", "--", "-o", "--x"}, quiet: true, operands: []string{"-o", "--x"}},
		{args: []string{"-"}, operands: []string{"-"}},
		{args: []string{"--exclude=", "app"}, exclude: []string{""}, operands: []string{"app"}},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			p, err := parseFlags(testSpecs, tc.args)
			if err != nil {
				t.Fatalf("parseFlags(%q) error: %v", tc.args, err)
			}
			if got := p.string("output"); got != tc.output {
				t.Errorf("parseFlags(%q) output = %q, want %q", tc.args, got, tc.output)
			}
			if got := p.list("exclude"); !slices.Equal(got, tc.exclude) {
				t.Errorf("parseFlags(%q) exclude = %q, want %q", tc.args, got, tc.exclude)
			}
			if got := p.bool("quiet"); got != tc.quiet {
				t.Errorf("parseFlags(%q) quiet = %v, want %v", tc.args, got, tc.quiet)
			}
			if !slices.Equal(p.operands, tc.operands) {
				t.Errorf("parseFlags(%q) operands = %q, want %q", tc.args, p.operands, tc.operands)
			}
		})
	}
}

func TestParseFlagsErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string // the flag as the message names it
	}{
		{[]string{"--nope"}, "--nope"},
		{[]string{"--nope=1"}, "--nope"},
		{[]string{"-Z"}, "-Z"},
		{[]string{"--quiet=yes"}, "--quiet"},
		{[]string{"-qx"}, "-q"},
		{[]string{"app", "--output"}, "--output"},
		{[]string{"app", "-o"}, "-o"},
		{[]string{"--output=", "app"}, "--output"},
		{[]string{"--output", "", "app"}, "--output"},
		{[]string{"-o", "", "app"}, "-o"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, err := parseFlags(testSpecs, tc.args)
			var ue *UsageError
			if !errors.As(err, &ue) {
				t.Fatalf("parseFlags(%q) error = %v, want a *UsageError", tc.args, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("parseFlags(%q) error = %q, want it to name %s", tc.args, err, tc.want)
			}
		})
	}
}
