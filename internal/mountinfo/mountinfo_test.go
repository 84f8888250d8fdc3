package mountinfo

import (
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		line string
		want Mount
	}{
		{
			name: "proc5 example",
			line: "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue",
			want: Mount{
				ID: 36, Parent: 35, Major: 98, Minor: 0,
				Root: "/mnt1", MountPoint: "/mnt2", Options: "rw,noatime",
				Optional: []string{"master:1"},
				FSType:   "ext3", Source: "/dev/root", SuperOptions: "rw,errors=continue",
			},
		},
		{
			name: "no optional fields",
			line: "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory",
			want: Mount{
				ID: 35, Parent: 31, Major: 0, Minor: 32,
				Root: "/", MountPoint: "/sys/fs/cgroup/memory", Options: "rw,relatime",
				FSType: "cgroup", Source: "cgroup", SuperOptions: "rw,memory",
			},
		},
		{
			name: "several optional fields",
			line: "1443 1442 0:29 /docker/abc /sys/fs/cgroup ro,nosuid,nodev,noexec,relatime shared:7 master:3 propagate_from:2 - cgroup2 cgroup2 rw,nsdelegate",
			want: Mount{
				ID: 1443, Parent: 1442, Major: 0, Minor: 29,
				Root: "/docker/abc", MountPoint: "/sys/fs/cgroup", Options: "ro,nosuid,nodev,noexec,relatime",
				Optional: []string{"shared:7", "master:3", "propagate_from:2"},
				FSType:   "cgroup2", Source: "cgroup2", SuperOptions: "rw,nsdelegate",
			},
		},
		{
			name: "escaped space tab newline backslash",
			line: `120 25 8:1 /a\040b /mnt/x\011y\012z\134w rw - ext4 /dev/disk\040one rw`,
			want: Mount{
				ID: 120, Parent: 25, Major: 8, Minor: 1,
				Root: "/a b", MountPoint: "/mnt/x\ty\nz\\w", Options: "rw",
				FSType: "ext4", Source: "/dev/disk one", SuperOptions: "rw",
			},
		},
		{
			name: "super options stay escaped",
			line: `200 1 0:50 / /data rw - fuse.sshfs user@host:/a\040b rw,user_id=0,opt=a\054b`,
			want: Mount{
				ID: 200, Parent: 1, Major: 0, Minor: 50,
				Root: "/", MountPoint: "/data", Options: "rw",
				FSType: "fuse.sshfs", Source: "user@host:/a b", SuperOptions: `rw,user_id=0,opt=a\054b`,
			},
		},
		{
			name: "empty source",
			line: "300 1 0:60 / /mnt/empty rw - tmpfs  rw,size=1024k",
			want: Mount{
				ID: 300, Parent: 1, Major: 0, Minor: 60,
				Root: "/", MountPoint: "/mnt/empty", Options: "rw",
				FSType: "tmpfs", Source: "", SuperOptions: "rw,size=1024k",
			},
		},
		{
			name: "large device numbers",
			line: "22 1 259:1048575 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw",
			want: Mount{
				ID: 22, Parent: 1, Major: 259, Minor: 1048575,
				Root: "/", MountPoint: "/", Options: "rw,relatime",
				Optional: []string{"shared:1"},
				FSType:   "ext4", Source: "/dev/nvme0n1p2", SuperOptions: "rw",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(strings.NewReader(tc.line + "\n"))
			if err != nil {
				t.Fatalf("Parse(%q) error = %v", tc.line, err)
			}
			if len(got) != 1 {
				t.Fatalf("Parse(%q) returned %d mounts, want 1", tc.line, len(got))
			}
			if !reflect.DeepEqual(got[0], tc.want) {
				t.Errorf("Parse(%q) =\n%+v\nwant\n%+v", tc.line, got[0], tc.want)
			}
		})
	}
}

func TestParseMultipleLines(t *testing.T) {
	input := "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n" +
		"\n" +
		"41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"
	got, err := Parse(strings.NewReader(input))
	if err != nil {
		t.Fatalf("Parse() error = %v", err)
	}
	var points []string
	for _, m := range got {
		points = append(points, m.MountPoint)
	}
	want := []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"}
	if !reflect.DeepEqual(points, want) {
		t.Errorf("Parse() mount points = %q, want %q", points, want)
	}
}

func TestParseLongLine(t *testing.T) {
	options := "rw,lowerdir=" + strings.Repeat("/layer:", 20000) + "/last"
	line := "90 1 0:70 / /merged rw - overlay overlay " + options
	got, err := Parse(strings.NewReader(line))
	if err != nil {
		t.Fatalf("Parse(%d-byte line) error = %v", len(line), err)
	}
	if len(got) != 1 || got[0].SuperOptions != options {
		t.Errorf("Parse(%d-byte line) did not keep the super options", len(line))
	}
}

func TestParseInvalid(t *testing.T) {
	tests := []struct {
		name string
		line string
	}{
		{"too few fields", "36 35 98:0 /mnt1 /mnt2 rw - ext3"},
		{"no separator", "36 35 98:0 /mnt1 /mnt2 rw master:1 ext3 /dev/root rw"},
		{"extra field after separator", "36 35 98:0 / /m rw - ext3 /dev/root rw extra"},
		{"mount ID not a number", "x 35 98:0 / /m rw - ext3 /dev/root rw"},
		{"negative parent", "36 -1 98:0 / /m rw - ext3 /dev/root rw"},
		{"signed mount ID", "+36 35 98:0 / /m rw - ext3 /dev/root rw"},
		{"device without colon", "36 35 980 / /m rw - ext3 /dev/root rw"},
		{"device minor not a number", "36 35 98:x / /m rw - ext3 /dev/root rw"},
		{"truncated escape", `36 35 98:0 / /m\04 rw - ext3 /dev/root rw`},
		{"non-octal escape", `36 35 98:0 / /m\089 rw - ext3 /dev/root rw`},
		{"escape above one byte", `36 35 98:0 / /m\777 rw - ext3 /dev/root rw`},
		{"bare backslash in root", `36 35 98:0 /a\b /m rw - ext3 /dev/root rw`},
		{"bad escape in source", `36 35 98:0 / /m rw - ext3 /dev/r\oot rw`},
		{"bad escape in type", `36 35 98:0 / /m rw - ext\3 /dev/root rw`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			input := "31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n" + tc.line + "\n"
			got, err := Parse(strings.NewReader(input))
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Parse(%q) = %v, %v, want error wrapping ErrInvalid", tc.line, got, err)
			}
			if !strings.Contains(err.Error(), "line 2:") {
				t.Errorf("Parse(%q) error = %q, want it to name line 2", tc.line, err)
			}
		})
	}
}

func TestReadFindsRoot(t *testing.T) {
	mounts, err := Read()
	if err != nil {
		t.Fatalf("Read() error = %v", err)
	}
	for _, m := range mounts {
		if m.MountPoint == "/" {
			if m.FSType == "" {
				t.Errorf("Read() mount of / has empty filesystem type: %+v", m)
			}
			return
		}
	}
	t.Errorf("Read() returned %d mounts, none at /", len(mounts))
}

// FuzzParse checks that Parse never panics and that every mount it returns
// survives formatting back into a line and parsing again.
func FuzzParse(f *testing.F) {
	f.Add("36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n")
	f.Add(`120 25 8:1 /a\040b /mnt/x\011y rw - ext4 /dev/disk\134one rw` + "\n")
	f.Fuzz(func(t *testing.T, input string) {
		mounts, err := Parse(strings.NewReader(input))
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Parse() error = %v, want ErrInvalid", err)
			}
			return
		}
		for _, m := range mounts {
			line := format(m)
			again, err := Parse(strings.NewReader(line))
			if err != nil {
				t.Fatalf("Parse(format(%+v)) error = %v", m, err)
			}
			if len(again) != 1 || !reflect.DeepEqual(again[0], m) {
				t.Fatalf("Parse(%q) = %+v, want %+v", line, again, m)
			}
		}
	})
}

// format writes m the way the kernel does, escaping the unescaped fields.
func format(m Mount) string {
	fields := []string{
		strconv.Itoa(m.ID), strconv.Itoa(m.Parent),
		strconv.Itoa(m.Major) + ":" + strconv.Itoa(m.Minor),
		escape(m.Root), escape(m.MountPoint), m.Options,
	}
	fields = append(fields, m.Optional...)
	fields = append(fields, "-", escape(m.FSType), escape(m.Source), m.SuperOptions)
	return strings.Join(fields, " ") + "\n"
}

func escape(s string) string {
	return strings.NewReplacer(`\`, `\134`, " ", `\040`, "\t", `\011`, "\n", `\012`).Replace(s)
}

func TestParseLineTooLong(t *testing.T) {
	line := "90 1 0:70 / /merged rw - overlay overlay rw," + strings.Repeat("x", maxLineBytes)
	_, err := Parse(strings.NewReader(line))
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("Parse(%d-byte line) error = %v, want ErrInvalid", len(line), err)
	}
}
