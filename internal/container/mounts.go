package container

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/parkerpack/parker/internal/artifact"
	"github.com/parkerpack/parker/internal/payload"
)

// Layout of the private tmpfs, mounted first over the artifact's
// directory and then hidden under the overlay built from it.
const (
	payloadDir = "payload" // the unpacked payload, the overlay's upper lower layer
	upperDir   = "upper"   // the target's writes
	workDir    = "work"    // overlayfs scratch space
)

// MountError is a failed mount(2) with its arguments, so the message
// shows what was attempted and errors.Is still matches the errno.
type MountError struct {
	Source, Target, FSType string
	Flags                  uintptr
	Data                   string
	Err                    error
}

func (e *MountError) Error() string {
	return fmt.Sprintf("mount %s on %s (type %s, flags %s, %q): %v", e.Source, e.Target, e.FSType, mountFlagNames(e.Flags), e.Data, e.Err)
}

func (e *MountError) Unwrap() error { return e.Err }

func mount(source, target, fstype string, flags uintptr, data string) error {
	for {
		err := unix.Mount(source, target, fstype, flags, data)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return &MountError{Source: source, Target: target, FSType: fstype, Flags: flags, Data: data, Err: err}
		}
		return nil
	}
}

func mountFlagNames(flags uintptr) string {
	names := []struct {
		flag uintptr
		name string
	}{
		{unix.MS_BIND, "bind"}, {unix.MS_REC, "rec"}, {unix.MS_PRIVATE, "private"},
		{unix.MS_NOSUID, "nosuid"}, {unix.MS_NODEV, "nodev"}, {unix.MS_NOEXEC, "noexec"},
		{unix.MS_RDONLY, "ro"}, {unix.MS_REMOUNT, "remount"},
	}
	var out []string
	for _, n := range names {
		if flags&n.flag != 0 {
			out = append(out, n.name)
		}
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ",")
}

// setupFilesystem builds the container's view inside its private mount
// namespace: the payload over the artifact's directory, host files there
// still visible below it, a fresh /proc, and the caller's directory
// entered again so that "." shows the result.
func setupFilesystem(cfg *initConfig, log *logger) error {
	dir := cfg.ArtifactDir

	// Nothing mounted here may propagate back to the host.
	if err := mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return failf(StatusRuntimeFailure, "making mounts private: %w", err)
	}

	// Keep a handle on the host directory before the tmpfs covers it: the
	// overlay uses it as its lowest layer.
	host, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return failf(StatusRuntimeFailure, "opening %s: %w", dir, err)
	}
	defer unix.Close(host)
	var hostStat unix.Stat_t
	if err := unix.Fstat(host, &hostStat); err != nil {
		return failf(StatusRuntimeFailure, "reading %s: %w", dir, err)
	}

	opts := fmt.Sprintf("size=%d,mode=0755", cfg.TmpfsBytes)
	if err := mount("parker", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
		return failf(StatusRuntimeFailure, "mounting tmpfs: %w", err)
	}
	log.debugf("tmpfs on %s (%s)", dir, opts)

	lower := filepath.Join(dir, payloadDir)
	if err := preparePayload(cfg, lower, log); err != nil {
		return err
	}

	if err := mountOverlay(cfg, host, &hostStat, log); err != nil {
		// Without overlayfs the payload alone is shown; host files in the
		// directory are hidden for this run.
		log.debugf("overlay not available, showing the payload alone: %v", err)
		if err := mount(lower, dir, "", unix.MS_BIND, ""); err != nil {
			return failf(StatusRuntimeFailure, "mounting payload: %w", err)
		}
	}

	// Persistent paths are bound over the finished view, before /proc is
	// replaced: the binds name their ends through the host's /proc/self/fd.
	if err := bindPersistent(cfg, host, log); err != nil {
		return err
	}

	// getpid() is 1-based in the new pid namespace, so /proc must be the
	// namespace's own for /proc/self and /proc/PID to agree with it.
	if err := mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		log.debugf("keeping the host's /proc: %v", err)
	}

	enterCwd(cfg, log)
	return nil
}

// unpackFailure names the artifact in an unpacking error and, when the
// payload itself is at fault, asks the user to copy the file again.
func unpackFailure(path string, err error) *Failure {
	if errors.Is(err, artifact.ErrDamaged) {
		return failf(StatusRuntimeFailure, "%s is damaged (unpacking payload: %v); copy it again", path, err)
	}
	return failf(StatusRuntimeFailure, "%s: unpacking payload: %w", path, err)
}

// unpackPayload streams the payload from the artifact into dir.
func unpackPayload(cfg *initConfig, dir string, log *logger) error {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return failf(StatusRuntimeFailure, "creating %s: %w", dir, err)
	}
	exe := os.NewFile(uintptr(cfg.ArtifactFD), "artifact")
	h := &cfg.Header
	section := io.NewSectionReader(exe, cfg.PayloadOffset, cfg.PayloadLength)
	r := payload.NewChunkReader(section, h.Chunks, cfg.Workers)
	defer r.Close()
	stats, err := payload.Unpack(r, dir, payload.UnpackOptions{
		MaxBytes:   h.FileBytes,
		MaxEntries: h.Entries,
		Log:        log.debugf,
	})
	if err != nil {
		return unpackFailure(cfg.ArtifactPath, err)
	}
	log.debugf("unpacked %d entries, %d bytes", stats.Entries, stats.Bytes)
	return nil
}

// mountOverlay stacks the payload over the host directory. Layers are
// named through /proc/self/fd so that no path needs escaping for the
// option string, whatever characters the directory's path contains.
func mountOverlay(cfg *initConfig, host int, hostStat *unix.Stat_t, log *logger) error {
	dir := cfg.ArtifactDir
	upper := filepath.Join(dir, upperDir)
	work := filepath.Join(dir, workDir)

	// The merged directory takes its owner and mode from the upper one.
	if err := os.Mkdir(upper, os.FileMode(hostStat.Mode&0o7777)); err != nil {
		return err
	}
	if err := os.Chmod(upper, os.FileMode(hostStat.Mode&0o777)); err != nil {
		return err
	}
	if !cfg.UserNS {
		_ = os.Lchown(upper, int(hostStat.Uid), int(hostStat.Gid))
	}
	if err := os.Mkdir(work, 0o700); err != nil {
		return err
	}
	fds := make([]int, 0, 3)
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	for _, p := range []string{filepath.Join(dir, payloadDir), upper, work} {
		fd, err := unix.Open(p, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		fds = append(fds, fd)
	}
	opts := fmt.Sprintf("lowerdir=/proc/self/fd/%d:/proc/self/fd/%d,upperdir=/proc/self/fd/%d,workdir=/proc/self/fd/%d",
		fds[0], host, fds[1], fds[2])
	err := mount("overlay", dir, "overlay", unix.MS_NOSUID|unix.MS_NODEV, opts)
	if err != nil && cfg.UserNS {
		// Inside a user namespace overlayfs keeps its metadata in user.*
		// extended attributes, which needs the userxattr option.
		err = mount("overlay", dir, "overlay", unix.MS_NOSUID|unix.MS_NODEV, opts+",userxattr")
	}
	if err != nil {
		return err
	}
	log.debugf("overlay on %s", dir)
	return nil
}

// enterCwd re-enters the caller's directory when it is the artifact's
// directory or below it: a mount over the current directory does not
// change what "." refers to.
func enterCwd(cfg *initConfig, log *logger) {
	if cfg.Cwd == "" {
		return
	}
	rel, err := filepath.Rel(cfg.ArtifactDir, cfg.Cwd)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return
	}
	if err := os.Chdir(cfg.Cwd); err != nil {
		log.debugf("staying in the original directory: %v", err)
	}
}
