package cgroup

import (
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"strings"
)

const (
	namePrefix = "parker-"
	randomLen  = 16 // lowercase hex digits, from 8 random bytes
)

// newName returns "parker-PID-RANDOM" with 16 lowercase hex digits read from
// random, normally crypto/rand.Reader. The pid lets Sweep tell whether the
// creator still runs.
func newName(pid int, random io.Reader) (string, error) {
	var b [randomLen / 2]byte
	if _, err := io.ReadFull(random, b[:]); err != nil {
		return "", fmt.Errorf("generating cgroup name: %w", err)
	}
	return namePrefix + strconv.Itoa(pid) + "-" + hex.EncodeToString(b[:]), nil
}

// parseName returns the pid in a name that newName could have produced.
// Every other name, even one that only differs in case or length, is rejected.
func parseName(name string) (pid int, ok bool) {
	rest, ok := strings.CutPrefix(name, namePrefix)
	if !ok {
		return 0, false
	}
	pidText, random, ok := strings.Cut(rest, "-")
	if !ok || !isDecimal(pidText) || !isLowerHex(random) || len(random) != randomLen {
		return 0, false
	}
	pid, err := strconv.Atoi(pidText)
	if err != nil || pid <= 0 {
		return 0, false
	}
	return pid, true
}

// isDecimal reports whether s is a decimal number without sign or leading zero.
func isDecimal(s string) bool {
	if s == "" || s[0] == '0' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if !('0' <= s[i] && s[i] <= '9' || 'a' <= s[i] && s[i] <= 'f') {
			return false
		}
	}
	return true
}
