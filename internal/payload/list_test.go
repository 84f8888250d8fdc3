package payload

import (
	"bytes"
	"errors"
	"testing"
)

func TestListMatching(t *testing.T) {
	stream := buildTar(t, dir("d/", 0o755), reg("d/f", "12345", 0o644), symlink("l", "d/f"), hardlink("h", "d/f"))
	implicit := buildTar(t, reg("a/b/f", "x", 0o644))
	tests := []struct {
		name               string
		stream             []byte
		entries, fileBytes int64
		want               error
	}{
		{"exact", stream, 4, 5, nil},
		{"fewer entries than recorded", stream, 5, 5, ErrMismatch},
		{"fewer bytes than recorded", stream, 4, 6, ErrMismatch},
		{"more entries than recorded", stream, 3, 5, ErrLimit},
		{"more bytes than recorded", stream, 4, 4, ErrLimit},
		{"implicit parents above the entries", implicit, 1, 1, ErrLimit},
		{"empty stream", buildTar(t), 0, 0, nil},
		{"files in a stream recorded as empty", stream, 0, 0, ErrLimit},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			list, err := ListMatching(bytes.NewReader(tc.stream), tc.entries, tc.fileBytes)
			if !errors.Is(err, tc.want) {
				t.Fatalf("ListMatching(%d entries, %d bytes) error = %v, want %v", tc.entries, tc.fileBytes, err, tc.want)
			}
			if err == nil && int64(len(list)) != tc.entries {
				t.Errorf("ListMatching() returned %d entries, want %d", len(list), tc.entries)
			}
		})
	}
}

func TestUnpackZeroLimits(t *testing.T) {
	tests := []struct {
		name   string
		stream []byte
		opts   UnpackOptions
		want   error
	}{
		{"empty stream", buildTar(t), UnpackOptions{}, nil},
		{"one entry with zero entries allowed", buildTar(t, dir("d/", 0o755)), UnpackOptions{}, ErrLimit},
		{"empty file with zero bytes allowed", buildTar(t, reg("f", "", 0o644)), UnpackOptions{MaxEntries: 1}, nil},
		{"one byte with zero bytes allowed", buildTar(t, reg("f", "x", 0o644)), UnpackOptions{MaxEntries: 1}, ErrLimit},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Unpack(bytes.NewReader(tc.stream), unpackDir(t), tc.opts)
			if !errors.Is(err, tc.want) {
				t.Errorf("Unpack(%+v) error = %v, want %v", tc.opts, err, tc.want)
			}
		})
	}
}
