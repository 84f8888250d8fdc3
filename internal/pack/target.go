// Package pack turns a working directory into an artifact: the runtime
// stub, the directory as a chunked xz tar payload, a header and a trailer,
// written to a temporary file and renamed into place.
package pack

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// ErrTarget is returned for a TARGET that cannot be packed.
var ErrTarget = errors.New("pack: invalid target")

// resolveTarget checks that target names an executable regular file
// inside workdir and returns it as a clean slash path relative to workdir.
// An absolute target inside workdir is accepted.
func resolveTarget(workdir, target string) (string, error) {
	if target == "" {
		return "", fmt.Errorf("%w: empty path", ErrTarget)
	}
	rel := target
	if filepath.IsAbs(target) {
		r, err := filepath.Rel(workdir, target)
		if err != nil || !local(r) {
			return "", fmt.Errorf("%w: %q is outside the working directory %s", ErrTarget, target, workdir)
		}
		rel = r
	}
	rel = filepath.Clean(rel)
	if !local(rel) {
		return "", fmt.Errorf("%w: %q is outside the working directory %s", ErrTarget, target, workdir)
	}
	full := filepath.Join(workdir, rel)
	fi, err := os.Lstat(full)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("%w: %q not found in %s", ErrTarget, target, workdir)
	}
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrTarget, err)
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		// A link is packed as a link, so it must resolve inside the payload.
		resolved, err := filepath.EvalSymlinks(full)
		if err != nil {
			return "", fmt.Errorf("%w: %q is a symbolic link that does not resolve: %w", ErrTarget, target, err)
		}
		realWorkdir, err := filepath.EvalSymlinks(workdir)
		if err != nil {
			return "", err
		}
		if r, err := filepath.Rel(realWorkdir, resolved); err != nil || !local(r) {
			return "", fmt.Errorf("%w: %q links to %s, outside the working directory", ErrTarget, target, resolved)
		}
		if fi, err = os.Stat(full); err != nil {
			return "", fmt.Errorf("%w: %w", ErrTarget, err)
		}
	}
	switch {
	case fi.IsDir():
		return "", fmt.Errorf("%w: %q is a directory; name the program to run", ErrTarget, target)
	case !fi.Mode().IsRegular():
		return "", fmt.Errorf("%w: %q is not a regular file", ErrTarget, target)
	case fi.Mode().Perm()&0o111 == 0:
		return "", fmt.Errorf("%w: %q is not executable; run chmod +x %s", ErrTarget, target, target)
	}
	return filepath.ToSlash(rel), nil
}

// local reports whether a cleaned relative path stays below its base.
func local(rel string) bool {
	return rel != "." && rel != ".." && !strings.HasPrefix(rel, "../") && !filepath.IsAbs(rel)
}

// cleanPersist validates --persist paths: relative, inside the workdir.
func cleanPersist(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		c := path.Clean(filepath.ToSlash(p))
		if filepath.IsAbs(p) || !local(c) {
			return nil, fmt.Errorf("persistent path %q must be relative and inside the working directory", p)
		}
		out = append(out, c)
	}
	return out, nil
}
