package container

import (
	"os"
	"runtime"
	"strings"
	"testing"
)

func TestParseIsolation(t *testing.T) {
	tests := []struct {
		value      string
		wantStrict bool
		wantErr    bool
	}{
		{"", false, false},
		{"auto", false, false},
		{"strict", true, false},
		{"Strict", false, true},
		{"none", false, true},
	}
	for _, tc := range tests {
		strict, err := parseIsolation(tc.value)
		if strict != tc.wantStrict || (err != nil) != tc.wantErr {
			t.Errorf("parseIsolation(%q) = %v, %v, want %v, error %v", tc.value, strict, err, tc.wantStrict, tc.wantErr)
		}
	}
}

func TestDropCapabilities(t *testing.T) {
	type result struct {
		status string
		err    error
	}
	done := make(chan result)
	go func() {
		// The thread is never unlocked, so the Go runtime ends it with the
		// goroutine instead of reusing its reduced capabilities.
		runtime.LockOSThread()
		err := dropCapabilities()
		b, _ := os.ReadFile("/proc/thread-self/status")
		done <- result{string(b), err}
	}()
	r := <-done
	if r.err != nil {
		t.Fatalf("dropCapabilities() = %v", r.err)
	}
	for _, line := range []string{"CapInh:\t0000000000000000", "CapAmb:\t0000000000000000"} {
		if !strings.Contains(r.status, line+"\n") {
			t.Errorf("after dropCapabilities, status lacks %q:\n%s", line, r.status)
		}
	}
}
