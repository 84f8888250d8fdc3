package container

import (
	"errors"
	"fmt"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/parkerpack/parker/internal/artifact"
	"github.com/parkerpack/parker/internal/hostcheck"
)

// supervisor is the runtime process the caller started. It stays in the
// caller's namespaces, owns the cgroup, forwards signals and carries the
// target's exit status back.
type supervisor struct {
	log       *logger
	env       []string
	args      []string
	exePath   string
	exe       *os.File
	art       *artifact.Artifact
	inherited []int
	term      *terminal
	cg        *containerCgroup
	cacheDir  string // cache root for the init; "" runs uncached

	initPid int // also the container's process group

	control     lineWriter
	selfStopped bool
}

// Supervise runs the artifact this process was started from and returns
// the exit status for the caller: the target's, or one of the runtime's
// own (StatusRuntimeFailure, StatusNotExecutable, StatusNotFound).
func Supervise(args, env []string) int {
	// The init gets SIGKILL when the thread that started it dies, so that
	// thread must be this one, kept for the runtime's whole life.
	runtime.LockOSThread()

	s := &supervisor{
		log:  newLogger(os.Getenv("PARKER_VERBOSE") == "1"),
		env:  env,
		args: args,
	}
	status, err := s.run()
	if err != nil {
		s.log.errorf(err)
		var f *Failure
		if errors.As(err, &f) {
			return f.Status
		}
		return StatusRuntimeFailure
	}
	return status
}

func (s *supervisor) run() (int, error) {
	// Signals that arrive before the target starts are queued here and
	// forwarded once it runs.
	sigs := make(chan os.Signal, 64)
	signal.Notify(sigs, forwardedSignals()...)
	s.inherited = inheritedFDs()

	if err := s.openArtifact(); err != nil {
		return 0, err
	}
	defer s.exe.Close()

	cg, err := newContainerCgroup(s.log, s.art.Header.Limits)
	if err != nil {
		return 0, err
	}
	s.cg = cg
	defer s.cg.destroy()

	s.term = foregroundTerminal()
	events, initDone, err := s.startInit()
	if err != nil {
		return 0, err
	}
	result := s.loop(sigs, events, initDone)
	signal.Stop(sigs)
	s.log.debugf("container ended; removing its cgroup")

	s.cg.destroy()
	if s.term != nil {
		s.term.restore(result.signal != 0)
	}
	if result.err != nil {
		return 0, result.err
	}
	if result.signal != 0 {
		s.log.debugf("target killed by signal %d", result.signal)
		dieBySignal(syscall.Signal(result.signal))
		return 128 + result.signal, nil
	}
	s.log.debugf("target exited with status %d", result.status)
	return result.status, nil
}

// openArtifact finds the payload through /proc/self/exe, which names this
// very file however it was started, and checks it before anything runs.
func (s *supervisor) openArtifact() error {
	path, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return failf(StatusRuntimeFailure, "finding own executable: %w", err)
	}
	if strings.HasSuffix(path, " (deleted)") {
		return failf(StatusRuntimeFailure, "%s was deleted or replaced while starting; run it again", strings.TrimSuffix(path, " (deleted)"))
	}
	s.exePath = path
	f, err := os.Open("/proc/self/exe")
	if err != nil {
		return failf(StatusRuntimeFailure, "opening %s: %w", path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return failf(StatusRuntimeFailure, "reading %s: %w", path, err)
	}
	art, err := s.openChecked(f, fi.Size())
	if err != nil {
		f.Close()
		return artifactFailure(path, err)
	}
	s.exe, s.art = f, art
	s.log.debugf("artifact %s: %d entries, %d bytes unpacked, target %q", path, art.Header.Entries, art.Header.UnpackedSize, art.Header.Target)
	return nil
}

// artifactFailure turns an artifact error into the one line a user can act on.
func artifactFailure(path string, err error) *Failure {
	var verr *artifact.VersionError
	switch {
	case errors.As(err, &verr):
		return failf(StatusRuntimeFailure, "%s: %w", path, err)
	case errors.Is(err, artifact.ErrNotArtifact):
		return failf(StatusRuntimeFailure, "%s has no parker payload; it is a bare runtime stub, build an artifact with \"parker TARGET\"", path)
	default:
		return failf(StatusRuntimeFailure, "%s is damaged (%v); copy it again", path, err)
	}
}

// startInit re-executes this file as the container's init in new mount
// and pid namespaces, in its own process group and, where possible,
// already inside the cgroup. It tries the namespace modes of
// hostcheck.Attempts in order, and runs the target with reduced isolation
// when the kernel or a security policy refuses them all.
func (s *supervisor) startInit() (<-chan event, <-chan initExit, error) {
	isolation, err := parseIsolation(os.Getenv(isolationEnv))
	if err != nil {
		return nil, nil, failf(StatusRuntimeFailure, "%w", err)
	}
	// The cgroup descriptor is opened once: every attempt, and the target
	// under reduced isolation, starts in the same cgroup.
	inCgroup := &syscall.SysProcAttr{}
	s.cg.prepare(inCgroup)

	var refusals []string
	for _, mode := range hostcheck.Attempts(os.Geteuid()) {
		events, done, err := s.startContainer(mode, inCgroup)
		if err == nil {
			return events, done, nil
		}
		if !hostcheck.Refused(err) {
			return nil, nil, failf(StatusRuntimeFailure, "creating container namespaces (%v): %w", mode, err)
		}
		s.log.debugf("namespaces refused (%v): %v", mode, err)
		refusals = append(refusals, fmt.Sprintf("%s: %v", attemptName(mode), err))
	}
	return s.startReduced(strings.Join(refusals, "; "), isolation, inCgroup)
}

// startContainer starts the init in the namespaces of mode and sends it
// its config. An error that hostcheck.Refused accepts comes back
// unwrapped, and then nothing was started.
func (s *supervisor) startContainer(mode hostcheck.Isolation, inCgroup *syscall.SysProcAttr) (<-chan event, <-chan initExit, error) {
	controlR, controlW, err := os.Pipe()
	if err != nil {
		return nil, nil, failf(StatusRuntimeFailure, "creating control pipe: %w", err)
	}
	statusR, statusW, err := os.Pipe()
	if err != nil {
		controlR.Close()
		controlW.Close()
		return nil, nil, failf(StatusRuntimeFailure, "creating status pipe: %w", err)
	}
	defer controlR.Close()
	defer statusW.Close()

	files, first := childFiles(s.inherited, controlR.Fd(), s.exe.Fd(), statusW.Fd())
	cfg := s.initConfig(first)
	cfg.UserNS = mode == hostcheck.IsolationUserNS

	sys := hostcheck.NamespaceAttr(mode)
	sys.Setpgid = true
	sys.Pdeathsig = syscall.SIGKILL
	sys.UseCgroupFD, sys.CgroupFD = inCgroup.UseCgroupFD, inCgroup.CgroupFD

	env := append(append([]string(nil), s.env...), fmt.Sprintf("%s=%d", initEnv, first))
	pid, err := forkExec("/proc/self/exe", []string{initArgv0}, &syscall.ProcAttr{
		Env:   env,
		Files: files,
		Sys:   sys,
	})
	if err != nil {
		controlW.Close()
		statusR.Close()
		return nil, nil, err
	}
	s.initPid = pid
	s.log.debugf("init started as pid %d (%v)", pid, mode)

	done := waitInit(pid)

	// A v1 cgroup cannot be joined at clone time. The init waits for its
	// config before it does anything, so joining now is still in time.
	if err := s.cg.join(pid); err != nil {
		_ = unix.Kill(pid, unix.SIGKILL)
		return nil, nil, failf(StatusRuntimeFailure, "%w", err)
	}
	if s.term != nil {
		if err := s.term.foreground(pid); err != nil {
			s.log.debugf("cannot give the terminal to the container: %v", err)
		}
	}

	s.control = lineWriter{controlW}
	if err := s.control.send(cfg); err != nil {
		_ = unix.Kill(pid, unix.SIGKILL)
		return nil, nil, failf(StatusRuntimeFailure, "sending config to init: %w", err)
	}

	events := make(chan event, 16)
	go readEvents(statusR, events)
	return events, done, nil
}

// waitInit reaps the init in the background and reports how it ended.
func waitInit(pid int) <-chan initExit {
	done := make(chan initExit, 1)
	go func() {
		var ws unix.WaitStatus
		for {
			_, err := unix.Wait4(pid, &ws, 0, nil)
			if err == unix.EINTR {
				continue
			}
			done <- initExit{status: ws, err: err}
			return
		}
	}()
	return done
}

func (s *supervisor) initConfig(firstFD int) initConfig {
	cwd, err := unix.Getwd()
	if err != nil {
		cwd = ""
	}
	return initConfig{
		Header:        s.art.Header,
		ArtifactDir:   filepath.Dir(s.exePath),
		Cwd:           cwd,
		Args:          s.args[1:],
		Verbose:       s.log.verbose,
		TmpfsBytes:    tmpfsSize(&s.art.Header),
		ControlFD:     firstFD,
		ArtifactFD:    firstFD + 1,
		ArtifactPath:  s.exePath,
		PayloadOffset: int64(s.art.Trailer.PayloadOffset),
		PayloadLength: int64(s.art.Trailer.PayloadLength),
		StatusFD:      firstFD + 2,
		Workers:       unpackWorkers(),
		CacheDir:      s.cacheDir,
		InheritedFDs:  s.inherited,
	}
}

// tmpfsHeadroom is the room, beyond the unpacked payload, for what the
// target writes into its directory.
const tmpfsHeadroom = 256 << 20

// tmpfsSize sizes the private tmpfs: the payload, a page per entry for
// inodes and directories, and room for the target's own writes. Pages are
// only used as they are written.
func tmpfsSize(h *artifact.Header) int64 {
	const page = 4096
	entries := min(max(h.Entries, 0), math.MaxInt64/page)
	size := max(h.FileBytes, 0)
	for _, add := range []int64{entries * page, tmpfsHeadroom} {
		if size > math.MaxInt64-add {
			// A forged header cannot wrap the size around; unpacking still
			// stops at the declared byte count.
			return math.MaxInt64
		}
		size += add
	}
	return size
}

// unpackWorkers bounds concurrent chunk decoders, each of which holds a
// dictionary and a chunk in memory.
func unpackWorkers() int {
	n := runtime.NumCPU()
	if n > 3 {
		n = 3
	}
	return n
}

type initExit struct {
	status unix.WaitStatus
	err    error
}

func readEvents(r *os.File, events chan<- event) {
	defer close(events)
	defer r.Close()
	in := newLineReader(r)
	for {
		var ev event
		if err := in.receive(&ev); err != nil {
			return
		}
		events <- ev
	}
}
