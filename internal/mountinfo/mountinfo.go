// Package mountinfo parses /proc/PID/mountinfo as described in proc(5).
package mountinfo

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// ErrInvalid is wrapped by every error that Parse returns for a malformed line.
var ErrInvalid = errors.New("mountinfo: invalid line")

// maxLineBytes bounds one line. Overlay mounts with many layers print long
// super options, so the bufio.Scanner default of 64 KiB is too small.
const maxLineBytes = 1 << 20

// Mount is one line of mountinfo.
//
// Root, MountPoint, FSType and Source are unescaped. Options, SuperOptions and
// Optional are kept as the kernel prints them, because an unescaped comma or
// equals sign inside an option value would make the list ambiguous.
type Mount struct {
	ID, Parent   int
	Major, Minor int
	Root         string   // path inside the filesystem that forms the root of this mount
	MountPoint   string   // relative to the reading process's root directory
	Options      string   // per-mount options, such as "rw,nosuid,relatime"
	Optional     []string // tagged fields such as "shared:1" or "master:2", or nil
	FSType       string   // "type" or "type.subtype"
	Source       string
	SuperOptions string // per-superblock options, such as "rw,memory" for a cgroup v1 mount
}

// Read parses /proc/self/mountinfo.
func Read() ([]Mount, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()

	mounts, err := Parse(f)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", f.Name(), err)
	}
	return mounts, nil
}

// Parse reads mountinfo lines from r. Empty lines are skipped.
func Parse(r io.Reader) ([]Mount, error) {
	var mounts []Mount
	scanner := bufio.NewScanner(r)
	scanner.Buffer(make([]byte, 0, 4096), maxLineBytes)
	scanner.Split(scanLines)
	lineNumber := 0
	for scanner.Scan() {
		lineNumber++
		line := scanner.Text()
		if line == "" {
			continue
		}
		m, err := parseLine(line)
		if err != nil {
			return nil, fmt.Errorf("%w %d: %s", ErrInvalid, lineNumber, err)
		}
		mounts = append(mounts, m)
	}
	err := scanner.Err()
	if errors.Is(err, bufio.ErrTooLong) {
		return nil, fmt.Errorf("%w %d: longer than %d bytes", ErrInvalid, lineNumber+1, maxLineBytes)
	}
	if err != nil {
		return nil, err
	}
	return mounts, nil
}

// scanLines splits at each newline. Unlike bufio.ScanLines it keeps a
// carriage return, which is an ordinary byte in a mountinfo field.
func scanLines(data []byte, atEOF bool) (advance int, token []byte, err error) {
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		return i + 1, data[:i], nil
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}

// parseLine parses one line such as
//
//	36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
//
// Fields are separated by single spaces and may be empty, so the line is split
// on each space instead of on runs of white space.
func parseLine(line string) (Mount, error) {
	fields := strings.Split(line, " ")
	separator := -1
	for i := 6; i < len(fields); i++ {
		if fields[i] == "-" {
			separator = i
			break
		}
	}
	if len(fields) < 10 || separator < 0 {
		return Mount{}, errors.New(`missing fields or separator "-"`)
	}
	if len(fields) != separator+4 {
		return Mount{}, fmt.Errorf("has %d fields after the separator, want 3", len(fields)-separator-1)
	}

	var m Mount
	var err error
	if m.ID, err = parseNumber("mount ID", fields[0]); err != nil {
		return Mount{}, err
	}
	if m.Parent, err = parseNumber("parent ID", fields[1]); err != nil {
		return Mount{}, err
	}
	if m.Major, m.Minor, err = parseDevice(fields[2]); err != nil {
		return Mount{}, err
	}
	if m.Root, err = unescape(fields[3]); err != nil {
		return Mount{}, fmt.Errorf("root: %w", err)
	}
	if m.MountPoint, err = unescape(fields[4]); err != nil {
		return Mount{}, fmt.Errorf("mount point: %w", err)
	}
	m.Options = fields[5]
	if separator > 6 {
		m.Optional = fields[6:separator]
	}
	if m.FSType, err = unescape(fields[separator+1]); err != nil {
		return Mount{}, fmt.Errorf("filesystem type: %w", err)
	}
	if m.Source, err = unescape(fields[separator+2]); err != nil {
		return Mount{}, fmt.Errorf("source: %w", err)
	}
	m.SuperOptions = fields[separator+3]
	return m, nil
}

func parseNumber(name, field string) (int, error) {
	n, err := strconv.ParseUint(field, 10, 31)
	if err != nil {
		return 0, fmt.Errorf("%s %q is not a non-negative decimal number", name, field)
	}
	return int(n), nil
}

func parseDevice(field string) (major, minor int, err error) {
	majorField, minorField, ok := strings.Cut(field, ":")
	if !ok {
		return 0, 0, fmt.Errorf("device %q is not MAJOR:MINOR", field)
	}
	if major, err = parseNumber("device major", majorField); err != nil {
		return 0, 0, err
	}
	if minor, err = parseNumber("device minor", minorField); err != nil {
		return 0, 0, err
	}
	return major, minor, nil
}

// unescape decodes the three-digit octal escapes (\040 space, \011 tab,
// \012 newline, \134 backslash) that the kernel writes for bytes that would
// break the line format. The kernel escapes every backslash, so a backslash
// that does not start such an escape is an error.
func unescape(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		if i+4 > len(s) {
			return "", fmt.Errorf("truncated escape in %q", s)
		}
		value, err := strconv.ParseUint(s[i+1:i+4], 8, 8)
		if err != nil {
			return "", fmt.Errorf("invalid escape %q in %q", s[i:i+4], s)
		}
		b.WriteByte(byte(value))
		i += 3
	}
	return b.String(), nil
}
