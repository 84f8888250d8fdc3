package hostcheck

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// ProbeEnv is set in the environment of the process that ProbeOverlay
// starts, to the name of the isolation mode it runs in ("root" or
// "userns"). The program must then call RunOverlayProbe with that value
// instead of doing its usual work.
const ProbeEnv = "PARKER_INTERNAL_PROBE"

// OverlayListed reports whether the kernel lists overlayfs in
// /proc/filesystems. A kernel that builds it as a module lists it only
// once the module is loaded, which a mount as root does on demand.
func OverlayListed() (bool, error) {
	f, err := os.Open("/proc/filesystems")
	if err != nil {
		return false, err
	}
	defer f.Close()
	return listsFilesystem(f, "overlay")
}

// listsFilesystem reads /proc/filesystems lines ("nodev\toverlay").
func listsFilesystem(r io.Reader, name string) (bool, error) {
	scanner := bufio.NewScanner(r)
	for scanner.Scan() {
		fields := strings.Fields(scanner.Text())
		if len(fields) > 0 && fields[len(fields)-1] == name {
			return true, nil
		}
	}
	return false, scanner.Err()
}

// ProbeOverlay re-executes /proc/self/exe in the namespaces of mode, where
// it mounts a tmpfs and an overlay on it as the runtime's init would, and
// returns nil when that worked. The process dies with its namespaces, so
// nothing is left mounted.
func ProbeOverlay(mode Isolation) error {
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()

	// The kernel sends the parent-death signal when the forking thread
	// ends, so that thread must stay this goroutine's until the wait.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	sys := NamespaceAttr(mode)
	sys.Pdeathsig = syscall.SIGKILL
	value := "root"
	if mode == IsolationUserNS {
		value = "userns"
	}
	pid, err := syscall.ForkExec("/proc/self/exe", []string{"parker-probe"}, &syscall.ProcAttr{
		Env:   []string{ProbeEnv + "=" + value},
		Files: []uintptr{^uintptr(0), w.Fd(), w.Fd()},
		Sys:   sys,
	})
	w.Close()
	if err != nil {
		return fmt.Errorf("starting probe: %w", err)
	}
	return waitProbe(pid, r)
}

// waitProbe reads the probe's output until it exits and turns a failure
// into an error carrying that output.
func waitProbe(pid int, output *os.File) error {
	out, _ := io.ReadAll(io.LimitReader(output, 4096))
	var ws unix.WaitStatus
	var err error
	for {
		_, err = unix.Wait4(pid, &ws, 0, nil)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("waiting for probe: %w", err)
	}
	if ws.Exited() && ws.ExitStatus() == 0 {
		return nil
	}
	if msg := strings.TrimSpace(string(out)); msg != "" {
		return errors.New(msg)
	}
	return fmt.Errorf("probe ended with wait status %#x", uint32(ws))
}

// RunOverlayProbe is the probe process of ProbeOverlay; mode is the value
// of ProbeEnv. It runs in a private mount namespace and mounts a tmpfs
// over a directory that exists on every system, then an overlay of two
// directories of that tmpfs.
func RunOverlayProbe(mode string) error {
	if mode != "root" && mode != "userns" {
		return fmt.Errorf("invalid %s=%q: want root or userns", ProbeEnv, mode)
	}
	base := ""
	for _, dir := range append(TempDirCandidates(os.Getenv), "/dev") {
		if info, err := os.Stat(dir); err == nil && info.IsDir() {
			base = dir
			break
		}
	}
	if err := unix.Mount("parker-probe", base, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "size=1m,mode=0755"); err != nil {
		return fmt.Errorf("mounting tmpfs on %s: %w", base, err)
	}

	for _, name := range []string{"lower", "upper", "work", "merged"} {
		if err := os.Mkdir(filepath.Join(base, name), 0o755); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(base, "lower", "file"), []byte("lower\n"), 0o644); err != nil {
		return err
	}

	opts := fmt.Sprintf("lowerdir=%s/lower,upperdir=%s/upper,workdir=%s/work", base, base, base)
	err := unix.Mount("overlay", filepath.Join(base, "merged"), "overlay", 0, opts)
	if err != nil && mode == "userns" {
		// The runtime retries the same way inside a user namespace.
		err = unix.Mount("overlay", filepath.Join(base, "merged"), "overlay", 0, opts+",userxattr")
	}
	if err != nil {
		return fmt.Errorf("mounting overlay: %w", err)
	}

	b, err := os.ReadFile(filepath.Join(base, "merged", "file"))
	if err != nil {
		return fmt.Errorf("reading through the overlay: %w", err)
	}
	if string(b) != "lower\n" {
		return fmt.Errorf("overlay shows %q, want %q", b, "lower\n")
	}
	return nil
}
