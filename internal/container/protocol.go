package container

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"

	"github.com/parkerpack/parker/internal/artifact"
)

// initArgv0 is the argv[0] under which the runtime re-executes itself to
// become the container's init. initEnv is set alongside it and removed by
// the init before the target starts, so the target sees the caller's
// environment unchanged.
const (
	initArgv0 = "parker-init"
	initEnv   = "PARKER_INTERNAL_INIT"
)

// initConfig is the configuration the supervisor sends the init as the
// first line on the control pipe.
type initConfig struct {
	Header        artifact.Header `json:"header"`
	ArtifactDir   string          `json:"artifact_dir"`
	Cwd           string          `json:"cwd"`
	Args          []string        `json:"args"`
	Verbose       bool            `json:"verbose"`
	UserNS        bool            `json:"userns"`
	TmpfsBytes    int64           `json:"tmpfs_bytes"`
	ArtifactFD    int             `json:"artifact_fd"`
	ArtifactPath  string          `json:"artifact_path"`
	PayloadOffset int64           `json:"payload_offset"`
	PayloadLength int64           `json:"payload_length"`
	StatusFD      int             `json:"status_fd"`
	ControlFD     int             `json:"control_fd"`
	CacheDir      string          `json:"cache_dir,omitempty"`
	Workers       int             `json:"workers"`
	NoOverlay     bool            `json:"no_overlay,omitempty"`
	InheritedFDs  []int           `json:"inherited_fds,omitempty"`
}

// controlMessage travels from supervisor to init after the config.
type controlMessage struct {
	Signal int `json:"signal"`
}

// event travels from init to supervisor.
type event struct {
	Kind    string `json:"kind"`              // "started", "stopped", "exited", "failed"
	Signal  int    `json:"signal,omitempty"`  // stop signal, or the signal that killed the target
	Status  int    `json:"status,omitempty"`  // exit status of the target, or of the runtime for "failed"
	Message string `json:"message,omitempty"` // for "failed"
}

const (
	eventStarted = "started"
	eventStopped = "stopped"
	eventExited  = "exited"
	eventFailed  = "failed"
)

// lineWriter writes one JSON document per line.
type lineWriter struct{ w io.Writer }

func (l lineWriter) send(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	_, err = l.w.Write(b)
	return err
}

// lineReader reads one JSON document per line.
type lineReader struct{ r *bufio.Reader }

func newLineReader(r io.Reader) lineReader { return lineReader{bufio.NewReader(r)} }

func (l lineReader) receive(v any) error {
	line, err := l.r.ReadBytes('\n')
	if err != nil {
		if err == io.EOF && len(line) > 0 {
			return io.ErrUnexpectedEOF
		}
		return err
	}
	if err := json.Unmarshal(line, v); err != nil {
		return fmt.Errorf("decoding message: %w", err)
	}
	return nil
}
