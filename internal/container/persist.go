package container

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// A persistent path (parker --persist PATH) is a path of the artifact's
// directory whose writes are kept on the host. The host's copy lives at
// the same relative path in the directory that holds the artifact. It is
// created from the payload's copy on the first run and never overwritten
// after that. Every access goes through os.Root, so no symbolic link on
// the host or in the payload leads outside those two directories.

// bindPersistent mounts the host's copy of each persistent path over the
// container's view of it. host is a descriptor of the artifact's directory
// taken before the tmpfs covered it, and the view is what is mounted on
// that directory now.
func bindPersistent(cfg *initConfig, host int, log *logger) error {
	if len(cfg.Header.Persist) == 0 {
		return nil
	}
	hostRoot, err := os.OpenRoot(fdPath(uintptr(host)))
	if err != nil {
		return failf(StatusRuntimeFailure, "opening %s for persistent paths: %w", cfg.ArtifactDir, err)
	}
	defer hostRoot.Close()
	view, err := os.OpenRoot(cfg.ArtifactDir)
	if err != nil {
		return failf(StatusRuntimeFailure, "opening the container's %s: %w", cfg.ArtifactDir, err)
	}
	defer view.Close()

	for _, rel := range cfg.Header.Persist {
		if err := validPersistent(rel); err != nil {
			return failf(StatusRuntimeFailure, "%w", err)
		}
		if err := bindPersistentPath(hostRoot, view, rel); err != nil {
			return failf(StatusRuntimeFailure, "persistent path %q in %s: %w", rel, cfg.ArtifactDir, err)
		}
		log.debugf("persistent path %s bound from the host", rel)
	}
	return nil
}

// validPersistent checks a persistent path from the artifact's header as
// the packer does, so that a forged header fails with a clear message
// before os.Root would reject it.
func validPersistent(rel string) error {
	if rel == "" || path.IsAbs(rel) || path.Clean(rel) != rel || rel == "." || rel == ".." || strings.HasPrefix(rel, "../") {
		return fmt.Errorf("invalid persistent path %q in the artifact's header: want a clean relative path inside the artifact's directory", rel)
	}
	return nil
}

// bindPersistentPath seeds the host's copy of rel if needed, makes sure
// the view has an entry of the same type to mount on, and bind-mounts the
// one over the other. Both ends are opened without following a final
// symbolic link and mounted through their descriptors.
func bindPersistentPath(host, view *os.Root, rel string) error {
	isDir, err := seedHostPath(host, view, rel)
	if err != nil {
		return err
	}
	if err := makeMountPoint(view, rel, isDir); err != nil {
		return err
	}
	src, err := openPersistent(host, rel, isDir, "on the host")
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := openPersistent(view, rel, isDir, "in the container")
	if err != nil {
		return err
	}
	defer dst.Close()
	return mount(fdPath(src.Fd()), fdPath(dst.Fd()), "", unix.MS_BIND|unix.MS_REC, "")
}

// seedHostPath makes sure the host has rel and returns whether it is a
// directory. A missing rel is created with the type of the view's entry,
// or as a directory when the view has none, and filled with a copy of the
// view's content. An existing rel is left exactly as it is.
func seedHostPath(host, view *os.Root, rel string) (bool, error) {
	info, err := host.Lstat(rel)
	if err == nil {
		return persistentType(info, "on the host")
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}

	isDir := true
	seeded := false
	if seed, err := view.Lstat(rel); err == nil {
		if isDir, err = persistentType(seed, "in the payload"); err != nil {
			return false, err
		}
		seeded = true
	} else if !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	if err := host.MkdirAll(path.Dir(rel), 0o755); err != nil {
		return false, err
	}

	// The copy is made under a temporary name and moved into place
	// without replacing anything, so that an interrupted run leaves no
	// half-seeded copy and two first runs at once cannot lose writes.
	tmp, err := tempName(rel)
	if err != nil {
		return false, err
	}
	switch {
	case isDir && seeded:
		err = copyTree(view, rel, host, tmp)
	case isDir:
		err = host.Mkdir(tmp, 0o755)
	default:
		err = copyFile(view, rel, host, tmp)
	}
	if err == nil {
		err = installNoReplace(host, tmp, rel, isDir)
	}
	if rmErr := host.RemoveAll(tmp); rmErr != nil && err == nil {
		err = rmErr
	}
	return isDir, err
}

// persistentType returns whether info is a directory, and an error unless
// it is a directory or a regular file.
func persistentType(info fs.FileInfo, where string) (bool, error) {
	switch {
	case info.IsDir():
		return true, nil
	case info.Mode().IsRegular():
		return false, nil
	}
	return false, fmt.Errorf("is a %s %s, but only directories and regular files can persist", fileKind(info.Mode()), where)
}

func fileKind(mode fs.FileMode) string {
	switch {
	case mode&fs.ModeSymlink != 0:
		return "symbolic link"
	case mode&fs.ModeNamedPipe != 0:
		return "FIFO"
	case mode&fs.ModeSocket != 0:
		return "socket"
	case mode&fs.ModeDevice != 0:
		return "device"
	}
	return "special file"
}

// tempName returns a hidden name beside rel that no other run picks.
func tempName(rel string) (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return path.Join(path.Dir(rel), "."+path.Base(rel)+".parker-tmp-"+hex.EncodeToString(b)), nil
}

// installNoReplace moves tmp to rel unless rel exists by now, in which
// case the existing rel is kept and tmp is left for the caller to remove.
func installNoReplace(root *os.Root, tmp, rel string, isDir bool) error {
	if !isDir {
		// link(2) never replaces its target.
		err := root.Link(tmp, rel)
		if errors.Is(err, fs.ErrExist) {
			return nil
		}
		return err
	}
	parent, err := root.OpenFile(path.Dir(rel), unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return err
	}
	defer parent.Close()
	fd := int(parent.Fd())
	err = unix.Renameat2(fd, path.Base(tmp), fd, path.Base(rel), unix.RENAME_NOREPLACE)
	if errors.Is(err, unix.EINVAL) {
		// NOTE: on a filesystem without RENAME_NOREPLACE (NFS, for one) a
		// directory created by another run in the same instant, if still
		// empty, can be replaced.
		return root.Rename(tmp, rel)
	}
	if errors.Is(err, unix.EEXIST) {
		return nil
	}
	if err != nil {
		return &os.LinkError{Op: "renameat2", Old: tmp, New: rel, Err: err}
	}
	return nil
}

// copyTree copies the directory src of from to dst of to: directories,
// regular files with their permission bits, and symbolic links as links.
// Directories get their modes last, so read-only ones can be filled.
func copyTree(from *os.Root, src string, to *os.Root, dst string) error {
	type dirMode struct {
		path string
		mode fs.FileMode
	}
	var dirs []dirMode
	err := fs.WalkDir(from.FS(), src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		target := dst + strings.TrimPrefix(p, src)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			dirs = append(dirs, dirMode{target, info.Mode().Perm()})
			return to.Mkdir(target, 0o700)
		case d.Type().IsRegular():
			return copyFile(from, p, to, target)
		case d.Type()&fs.ModeSymlink != 0:
			link, err := from.Readlink(p)
			if err != nil {
				return err
			}
			return to.Symlink(link, target)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := to.Chmod(dirs[i].path, dirs[i].mode); err != nil {
			return err
		}
	}
	return nil
}

// copyFile copies the regular file src of from to a new file dst of to
// with the same permission bits.
func copyFile(from *os.Root, src string, to *os.Root, dst string) error {
	in, err := from.OpenFile(src, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer in.Close()
	info, err := in.Stat()
	if err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("copying %s: not a regular file", src)
	}
	out, err := to.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, info.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Chmod(info.Mode().Perm()); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// makeMountPoint creates rel in the view when it is missing, as a
// directory or an empty file. Inside the container's overlay this writes
// only to its tmpfs. An existing rel must have the host copy's type.
func makeMountPoint(view *os.Root, rel string, isDir bool) error {
	info, err := view.Lstat(rel)
	if err == nil {
		got, err := persistentType(info, "in the container")
		if err != nil {
			return err
		}
		if got != isDir {
			return fmt.Errorf("is a %s on the host but a %s in the payload", typeName(isDir), typeName(got))
		}
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := view.MkdirAll(path.Dir(rel), 0o755); err != nil {
		return err
	}
	if isDir {
		return view.Mkdir(rel, 0o755)
	}
	f, err := view.OpenFile(rel, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	return f.Close()
}

func typeName(isDir bool) string {
	if isDir {
		return "directory"
	}
	return "regular file"
}

// openPersistent opens rel as an O_PATH descriptor without following a
// final symbolic link, and checks that it still has the expected type.
func openPersistent(root *os.Root, rel string, isDir bool, where string) (*os.File, error) {
	f, err := root.OpenFile(rel, unix.O_PATH, 0)
	if err != nil {
		return nil, err
	}
	info, err := f.Stat()
	if err == nil {
		var got bool
		got, err = persistentType(info, where)
		if err == nil && got != isDir {
			err = fmt.Errorf("changed type %s while starting", where)
		}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// fdPath names an open descriptor as a path, for system calls that take
// only paths.
func fdPath(fd uintptr) string {
	return "/proc/self/fd/" + strconv.FormatUint(uint64(fd), 10)
}
