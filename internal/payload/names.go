package payload

import (
	"fmt"
	"strings"
)

// checkName validates an entry name without a directory's trailing slash. A
// valid name is a relative, clean, slash-separated path: not empty, not ".",
// no leading or repeated slash, no "." or ".." element and no NUL byte. Any
// other byte, including invalid UTF-8, is allowed.
func checkName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty name", ErrInvalidEntry)
	case strings.IndexByte(name, 0) >= 0:
		return fmt.Errorf("%w: name %q contains a NUL byte", ErrInvalidEntry, name)
	case strings.HasPrefix(name, "/"):
		return fmt.Errorf("%w: absolute name %q", ErrInvalidEntry, name)
	}
	for elem := range strings.SplitSeq(name, "/") {
		switch elem {
		case "":
			return fmt.Errorf("%w: name %q has an empty element", ErrInvalidEntry, name)
		case ".", "..":
			return fmt.Errorf("%w: name %q contains %q", ErrInvalidEntry, name, elem)
		}
	}
	return nil
}

// parentDirs returns the proper ancestors of a checked name, outermost first:
// "a/b/c" gives "a" and "a/b".
func parentDirs(name string) []string {
	var dirs []string
	for i := range len(name) {
		if name[i] == '/' {
			dirs = append(dirs, name[:i])
		}
	}
	return dirs
}
