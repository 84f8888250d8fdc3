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
		r, ok := relativeInside(workdir, target)
		if !ok {
			return "", fmt.Errorf("%w: %q is outside the working directory %s", ErrTarget, target, workdir)
		}
		rel = r
	}
	rel = filepath.Clean(rel)
	if !local(rel) {
		return "", fmt.Errorf("%w: %q is outside the working directory %s", ErrTarget, target, workdir)
	}
	if err := checkLinkedParents(workdir, rel); err != nil {
		return "", fmt.Errorf("%w: %q %w", ErrTarget, target, err)
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

// relativeInside returns the absolute path target relative to workdir, if
// it lies inside. When the paths as given do not nest, it compares them with
// symlinks resolved, because the working directory and the target may be
// named through different links. The target's last element is kept as it
// is, so that a target that is itself a link is still packed as a link.
func relativeInside(workdir, target string) (string, bool) {
	if r, err := filepath.Rel(workdir, target); err == nil && local(r) {
		return r, true
	}
	realWorkdir, err := filepath.EvalSymlinks(workdir)
	if err != nil {
		return "", false
	}
	realDir, err := filepath.EvalSymlinks(filepath.Dir(target))
	if err != nil {
		return "", false
	}
	r, err := filepath.Rel(realWorkdir, filepath.Join(realDir, filepath.Base(target)))
	if err != nil || !local(r) {
		return "", false
	}
	return r, true
}

// checkLinkedParents rejects a target below a symlinked directory that
// leads out of the workdir. The payload keeps such a directory as a link, so
// the target would not be packed, and at run time the link would lead to
// whatever the host has there.
func checkLinkedParents(workdir, rel string) error {
	parent := workdir
	for _, d := range strings.Split(filepath.Dir(rel), string(filepath.Separator)) {
		if d == "." {
			break
		}
		parent = filepath.Join(parent, d)
		// resolveTarget reports a missing parent as a missing target.
		fi, err := os.Lstat(parent)
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			continue
		}
		resolved, err := filepath.EvalSymlinks(parent)
		if err != nil {
			return fmt.Errorf("is below the symbolic link %s, which does not resolve: %w", parent, err)
		}
		if _, ok := relativeInside(workdir, resolved); !ok {
			return fmt.Errorf("is below the symbolic link %s, which leads out of the working directory and is packed as a link; name a file inside", parent)
		}
	}
	return nil
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
