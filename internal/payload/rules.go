package payload

import (
	"archive/tar"
	"fmt"
	"io/fs"
	"strings"
)

// kind is the type of file that an archive name refers to once extracted.
type kind uint8

const (
	kindDir         kind = iota + 1
	kindImplicitDir      // a parent created for an entry whose directory entry did not come first
	kindFile             // a regular file or a hard link to one
	kindSymlink
)

// checkedEntry is a tar entry that passed the archive rules.
type checkedEntry struct {
	name     string      // valid name without a directory's trailing slash
	kind     kind        // kindDir, kindFile or kindSymlink
	mode     fs.FileMode // type bits plus permission, setuid, setgid and sticky bits
	size     int64       // content bytes of a regular file, 0 otherwise
	link     string      // symlink target or, for a hard link, the name it links to
	hardlink bool
	newDirs  []string // missing parents to create first, outermost first
	existed  bool     // a directory already created as the parent of an earlier entry
}

// archiveRules applies the rules that List and Unpack share to a sequence of
// tar headers. It remembers every name so that repeats, names below symlinks
// and hard links to unknown targets are rejected.
type archiveRules struct {
	seen map[string]kind
}

func newArchiveRules() *archiveRules {
	return &archiveRules{seen: make(map[string]kind)}
}

// check validates h and records its name. It rejects a name that is unsafe,
// repeats an earlier entry or lies below a symlink or a file. It also rejects
// types other than regular file, directory, symlink and hard link, and a hard
// link whose target is not an earlier regular file.
func (r *archiveRules) check(h *tar.Header) (checkedEntry, error) {
	e, err := entryFromHeader(h)
	if err != nil {
		return e, err
	}
	if err := r.checkParents(&e); err != nil {
		return e, err
	}
	if err := r.checkLink(e); err != nil {
		return e, err
	}
	switch prev := r.seen[e.name]; {
	case prev == kindImplicitDir && e.kind == kindDir:
		// The directory's own entry follows an entry below it.
		e.existed = true
	case prev != 0:
		return e, fmt.Errorf("%w: %q appears twice", ErrInvalidEntry, e.name)
	}
	for _, d := range e.newDirs {
		r.seen[d] = kindImplicitDir
	}
	r.seen[e.name] = e.kind
	return e, nil
}

// entryFromHeader converts a tar header and checks its name and type.
func entryFromHeader(h *tar.Header) (checkedEntry, error) {
	e := checkedEntry{name: h.Name, link: h.Linkname}
	perm := fs.FileMode(h.Mode & 0o777)
	if h.Mode&0o4000 != 0 {
		perm |= fs.ModeSetuid
	}
	if h.Mode&0o2000 != 0 {
		perm |= fs.ModeSetgid
	}
	if h.Mode&0o1000 != 0 {
		perm |= fs.ModeSticky
	}
	switch h.Typeflag {
	case tar.TypeReg:
		e.kind, e.mode, e.size = kindFile, perm, h.Size
	case tar.TypeLink:
		e.kind, e.mode, e.hardlink = kindFile, perm, true
	case tar.TypeDir:
		e.kind, e.mode = kindDir, perm|fs.ModeDir
		e.name = strings.TrimSuffix(e.name, "/")
	case tar.TypeSymlink:
		e.kind, e.mode = kindSymlink, perm|fs.ModeSymlink
	default:
		return e, fmt.Errorf("%w: %q has unsupported type %s", ErrInvalidEntry, h.Name, typeName(h.Typeflag))
	}
	if err := checkName(e.name); err != nil {
		return e, err
	}
	if e.size < 0 {
		return e, fmt.Errorf("%w: %q has negative size %d", ErrInvalidEntry, e.name, e.size)
	}
	return e, nil
}

// checkParents rejects a name below a symlink or a file and lists the parents
// that no earlier entry created.
func (r *archiveRules) checkParents(e *checkedEntry) error {
	for _, d := range parentDirs(e.name) {
		switch r.seen[d] {
		case kindDir, kindImplicitDir:
		case kindSymlink:
			return fmt.Errorf("%w: %q is below symlink %q", ErrInvalidEntry, e.name, d)
		case kindFile:
			return fmt.Errorf("%w: %q is below file %q", ErrInvalidEntry, e.name, d)
		default:
			e.newDirs = append(e.newDirs, d)
		}
	}
	return nil
}

func (r *archiveRules) checkLink(e checkedEntry) error {
	switch {
	case e.hardlink:
		if err := checkName(e.link); err != nil {
			return fmt.Errorf("hard link %q: %w", e.name, err)
		}
		if r.seen[e.link] != kindFile {
			return fmt.Errorf("%w: hard link %q points to %q, which is not an earlier regular file",
				ErrInvalidEntry, e.name, e.link)
		}
	case e.kind == kindSymlink:
		if e.link == "" || strings.IndexByte(e.link, 0) >= 0 {
			return fmt.Errorf("%w: symlink %q has invalid target %q", ErrInvalidEntry, e.name, e.link)
		}
	}
	return nil
}

func typeName(flag byte) string {
	switch flag {
	case tar.TypeChar:
		return "character device"
	case tar.TypeBlock:
		return "block device"
	case tar.TypeFifo:
		return "FIFO"
	case tar.TypeXGlobalHeader:
		return "PAX global header"
	}
	return fmt.Sprintf("%q", flag)
}
