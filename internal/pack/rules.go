package pack

import (
	"errors"
	"io/fs"
	"path/filepath"

	"github.com/parkerpack/parker/internal/ignore"
)

// IgnoreFileName is the per-workdir ignore file, read when present.
const IgnoreFileName = ".parkerignore"

// loadIgnoreRules reads .parkerignore, then --ignore-file, then the
// --exclude globs; a later rule wins over an earlier one. It returns the
// ignore files it read, for the depfile.
func loadIgnoreRules(opts Options) (*ignore.Matcher, []string, error) {
	var rules []ignore.Rule
	var files []string
	paths := []string{filepath.Join(opts.Workdir, IgnoreFileName)}
	if opts.IgnoreFile != "" {
		paths = append(paths, opts.IgnoreFile)
	}
	for i, p := range paths {
		r, err := ignore.ParseFile(p)
		if i == 0 && errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		rules = append(rules, r...)
		files = append(files, p)
	}
	if len(opts.Excludes) > 0 {
		r, err := ignore.FromGlobs("--exclude", opts.Excludes)
		if err != nil {
			return nil, nil, err
		}
		rules = append(rules, r...)
	}
	if len(rules) == 0 {
		return nil, files, nil
	}
	m, err := ignore.NewMatcher(rules)
	if err != nil {
		return nil, nil, err
	}
	return m, files, nil
}
