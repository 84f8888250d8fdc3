package depfile

import (
	"fmt"
	"strings"
)

// makeWords are names that make reads as a directive or special target even
// when they appear as a rule target on their own.
var makeWords = map[string]bool{
	"define": true, "undefine": true,
	".PHONY": true, ".SUFFIXES": true, ".DEFAULT": true, ".PRECIOUS": true,
	".INTERMEDIATE": true, ".NOTINTERMEDIATE": true, ".SECONDARY": true,
	".SECONDEXPANSION": true, ".DELETE_ON_ERROR": true, ".IGNORE": true,
	".LOW_RESOLUTION_TIME": true, ".SILENT": true, ".EXPORT_ALL_VARIABLES": true,
	".NOTPARALLEL": true, ".ONESHELL": true, ".POSIX": true, ".WAIT": true,
}

// unrepresentable returns why GNU make (checked with 4.3) cannot read name
// back as one file name, or "" if it can.
func unrepresentable(name string) string {
	if name == "" {
		return "is empty"
	}
	if i := strings.IndexAny(name, "\x00\t\n=;|"); i >= 0 {
		return fmt.Sprintf("contains %q", name[i])
	}
	switch {
	case strings.HasSuffix(name, " "):
		return "ends with a space, which make strips"
	case strings.HasSuffix(name, `\`):
		return "ends with a backslash, which make reads as an escape"
	case strings.HasSuffix(name, "&"):
		return `ends with "&", which make reads as a grouped target`
	case strings.HasPrefix(name, "~"):
		return `starts with "~", which make expands to a home directory`
	case strings.HasSuffix(name, ")") && strings.Contains(name[1:], "("):
		return "has the form of an archive member, lib(member)"
	case makeWords[name]:
		return "is a make directive or special target"
	}
	return ""
}
