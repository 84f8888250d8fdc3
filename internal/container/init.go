package container

import (
	"fmt"
	"os"
	"os/signal"
	"path"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/parkerpack/parker/internal/artifact"
)

// IsInit reports whether this process was started by the runtime as a
// container's init.
func IsInit(args []string) bool {
	return len(args) == 1 && args[0] == initArgv0 && os.Getenv(initEnv) != ""
}

// initProcess is pid 1 of the container. It sets up the filesystem, runs
// the target as its child, reaps every orphan, and when the target ends
// kills what is left and reports the target's status to the supervisor.
type initProcess struct {
	cfg    initConfig
	log    *logger
	status lineWriter
	target int
}

// Init runs the container's init and returns its own exit status, which
// the supervisor reads only when no event reported how the target ended.
func Init(env []string) int {
	// Until the handlers are in place a signal from the terminal could end
	// the init, so this comes first.
	sigs := make(chan os.Signal, 64)
	signal.Notify(sigs, forwardedSignals()...)
	children := make(chan os.Signal, 1)
	signal.Notify(children, syscall.SIGCHLD)

	controlFD, err := strconv.Atoi(os.Getenv(initEnv))
	if err != nil {
		fmt.Fprintf(os.Stderr, "parker: %s is set but the runtime did not start this process\n", initEnv)
		return StatusRuntimeFailure
	}
	control := os.NewFile(uintptr(controlFD), "control")
	in := newLineReader(control)
	p := &initProcess{log: newLogger(false)}
	if err := in.receive(&p.cfg); err != nil {
		fmt.Fprintf(os.Stderr, "parker: reading config from the runtime: %v\n", err)
		return StatusRuntimeFailure
	}
	p.log.verbose = p.cfg.Verbose
	for _, fd := range []int{p.cfg.ControlFD, p.cfg.ArtifactFD, p.cfg.StatusFD} {
		unix.CloseOnExec(fd)
	}
	p.status = lineWriter{os.NewFile(uintptr(p.cfg.StatusFD), "status")}

	if err := p.start(env); err != nil {
		status := StatusRuntimeFailure
		if f, ok := err.(*Failure); ok {
			status = f.Status
		}
		_ = p.status.send(event{Kind: eventFailed, Status: status, Message: err.Error()})
		return status
	}
	_ = p.status.send(event{Kind: eventStarted})

	go p.forwardControl(in)
	go drain(sigs)
	ws := p.reap(children)
	p.log.debugf("target ended (wait status %#x); ending the container", uint32(ws))
	p.finish(ws)
	return 0
}

// start prepares the filesystem and starts the target.
func (p *initProcess) start(env []string) error {
	if err := setupFilesystem(&p.cfg, p.log); err != nil {
		return err
	}
	return p.startTarget(env)
}

// startTarget runs the target with argv[0] set to its absolute unpacked
// path, the caller's arguments and environment unchanged, and the
// caller's descriptors at their own numbers.
func (p *initProcess) startTarget(env []string) error {
	targetPath := filepath.Join(p.cfg.ArtifactDir, filepath.FromSlash(path.Clean(p.cfg.Header.Target)))
	argv := append([]string{targetPath}, p.cfg.Args...)
	files, _ := childFiles(p.cfg.InheritedFDs)

	// The target inherits the credentials of the thread that forks it. In
	// a user namespace that thread must first drop the capabilities the
	// init was given for mounting, so the target has none.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if p.cfg.UserNS {
		if err := dropCapabilities(); err != nil {
			return failf(StatusRuntimeFailure, "dropping capabilities: %w", err)
		}
	}
	pid, err := syscall.ForkExec(targetPath, argv, &syscall.ProcAttr{
		Env:   withoutInitEnv(env),
		Files: files,
		Sys:   &syscall.SysProcAttr{},
	})
	if err != nil {
		return failf(execStatus(err), "%s: %v", p.cfg.Header.Target, err)
	}
	p.target = pid
	p.log.debugf("target %s started", targetPath)
	return nil
}

func withoutInitEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if !strings.HasPrefix(kv, initEnv+"=") {
			out = append(out, kv)
		}
	}
	return out
}

// forwardControl delivers the signals the supervisor passes on. Signals
// the init receives itself are dropped: those from the terminal already
// reached the target directly.
func (p *initProcess) forwardControl(in lineReader) {
	for {
		var msg controlMessage
		if err := in.receive(&msg); err != nil {
			return
		}
		if msg.Signal > 0 {
			_ = unix.Kill(p.target, syscall.Signal(msg.Signal))
		}
	}
}

func drain(sigs <-chan os.Signal) {
	for range sigs {
	}
}

// reap waits for children until the target has exited, reaping orphans
// so that none stays a zombie, and reports the target's stops.
func (p *initProcess) reap(children <-chan os.Signal) unix.WaitStatus {
	for {
		for {
			var ws unix.WaitStatus
			pid, err := unix.Wait4(-1, &ws, unix.WNOHANG|unix.WUNTRACED, nil)
			if err == unix.EINTR {
				continue
			}
			if err != nil || pid <= 0 {
				break
			}
			if pid != p.target {
				continue
			}
			if ws.Stopped() {
				_ = p.status.send(event{Kind: eventStopped, Signal: int(ws.StopSignal())})
				continue
			}
			return ws
		}
		<-children
	}
}

// finish kills every process left in the container, waits for them, and
// reports the target's end.
func (p *initProcess) finish(ws unix.WaitStatus) {
	// kill(-1) from pid 1 reaches every other process in the namespace.
	_ = unix.Kill(-1, syscall.SIGKILL)
	for {
		_, err := unix.Wait4(-1, nil, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			break
		}
	}
	ev := event{Kind: eventExited, Status: ws.ExitStatus()}
	if ws.Signaled() {
		ev = event{Kind: eventExited, Signal: int(ws.Signal())}
	}
	_ = p.status.send(ev)
}

// SelfIsArtifact reports whether this executable carries a payload, that
// is, whether it runs as an artifact rather than as the bare parker
// command or runtime stub.
func SelfIsArtifact() bool {
	f, err := os.Open("/proc/self/exe")
	if err != nil {
		return false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || fi.Size() < artifact.TrailerSize {
		return false
	}
	var tail [8]byte
	if _, err := f.ReadAt(tail[:], fi.Size()-8); err != nil {
		return false
	}
	return tail == artifact.Magic
}
