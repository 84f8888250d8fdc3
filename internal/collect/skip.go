package collect

import (
	"os"
	"path"
	"strings"
)

// skip reports whether the entry at rel is left out, warning when a rule
// matches the target or one of its parents, which are packed anyway.
func (w *walker) skip(rel, abs string, info os.FileInfo) bool {
	if path.Base(rel) == ".git" || w.excluded.contains(abs, info) {
		return true
	}
	excluded, rule := w.opts.Matcher.Match(rel, info.IsDir())
	if !excluded {
		return false
	}
	if !w.onTargetPath(rel) {
		return true
	}

	// Match also reports a rule that excludes a parent, so the warning is
	// given once, for the first path on the way to the target.
	if !w.targetWarned {
		w.targetWarned = true
		if rel == w.target {
			w.warn("%s: pattern %q matches the target %q; packing it anyway",
				rule.Origin(), rule.String(), w.target)
		} else {
			w.warn("%s: pattern %q matches %q, which contains the target %q; packing the target anyway",
				rule.Origin(), rule.String(), rel, w.target)
		}
	}
	return false
}

// onTargetPath reports whether rel is the target or one of its parents.
func (w *walker) onTargetPath(rel string) bool {
	return w.target != "" && (rel == w.target || strings.HasPrefix(w.target, rel+"/"))
}
