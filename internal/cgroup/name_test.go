package cgroup

import (
	"crypto/rand"
	"errors"
	"regexp"
	"testing"
	"testing/iotest"
)

func TestNewNameUnique(t *testing.T) {
	pattern := regexp.MustCompile(`^parker-4242-[0-9a-f]{16}$`)
	seen := make(map[string]bool)
	for range 1000 {
		name, err := newName(4242, rand.Reader)
		if err != nil {
			t.Fatalf("newName(4242) error = %v", err)
		}
		if !pattern.MatchString(name) {
			t.Fatalf("newName(4242) = %q, want a match for %s", name, pattern)
		}
		if seen[name] {
			t.Fatalf("newName(4242) returned %q twice", name)
		}
		seen[name] = true
		if pid, ok := parseName(name); !ok || pid != 4242 {
			t.Fatalf("parseName(%q) = %d, %v, want 4242, true", name, pid, ok)
		}
	}
}

func TestNewNameRandomFails(t *testing.T) {
	broken := errors.New("no entropy")
	if name, err := newName(1, iotest.ErrReader(broken)); !errors.Is(err, broken) {
		t.Errorf("newName(1, failing reader) = %q, %v, want error wrapping %v", name, err, broken)
	}
}

func TestParseName(t *testing.T) {
	tests := []struct {
		name   string
		wantOK bool
		pid    int
	}{
		{"parker-123-0123456789abcdef", true, 123},
		{"parker-1-ffffffffffffffff", true, 1},
		{"parker-123-0123456789abcde", false, 0},   // 15 hex digits
		{"parker-123-0123456789abcdef0", false, 0}, // 17 hex digits
		{"parker-123-0123456789ABCDEF", false, 0},
		{"parker-123-0123456789abcdeg", false, 0},
		{"parker-0123-0123456789abcdef", false, 0},
		{"parker-0-0123456789abcdef", false, 0},
		{"parker--1-0123456789abcdef", false, 0},
		{"parker-+1-0123456789abcdef", false, 0},
		{"parker-12a-0123456789abcdef", false, 0},
		{"parker-99999999999999999999-0123456789abcdef", false, 0},
		{"xparker-123-0123456789abcdef", false, 0},
		{"Parker-123-0123456789abcdef", false, 0},
		{"parker-123-0123456789abcdef.old", false, 0},
		{"parker-123", false, 0},
		{"parker-", false, 0},
		{"", false, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pid, ok := parseName(tc.name)
			if ok != tc.wantOK || pid != tc.pid {
				t.Errorf("parseName(%q) = %d, %v, want %d, %v", tc.name, pid, ok, tc.pid, tc.wantOK)
			}
		})
	}
}
