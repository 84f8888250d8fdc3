package collect

import (
	"fmt"
	"path"
	"strings"
)

// linkWarning returns a warning for the symlink at rel when its target is
// absolute or, resolved lexically, leaves the workdir; otherwise "".
func linkWarning(rel, target string) string {
	if path.IsAbs(target) {
		return fmt.Sprintf("%q is a link to %q, which resolves on the machine that runs the artifact", rel, target)
	}
	resolved := path.Join(path.Dir(rel), target)
	if resolved == ".." || strings.HasPrefix(resolved, "../") {
		return fmt.Sprintf("%q is a link to %q, which points outside the workdir", rel, target)
	}
	return ""
}
