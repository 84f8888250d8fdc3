package artifact

import (
	"bytes"
	"errors"
	"testing"
)

func TestWriterSetsHeaderFields(t *testing.T) {
	var b bytes.Buffer
	b.Write(testStub)
	w := NewWriter(&b, int64(len(testStub)))
	if _, err := w.Write(testPayload); err != nil {
		t.Fatal(err)
	}
	h := testHeader()
	h.Format, h.UnpackedSize, h.Entries = 0, 0, 0
	if err := w.Finish(&h, 20, 3); err != nil {
		t.Fatalf("Finish() error: %v", err)
	}
	if h.Format != 0 {
		t.Errorf("Finish() modified the caller's header: Format = %d", h.Format)
	}
	a, err := openBytes(b.Bytes())
	if err != nil {
		t.Fatalf("Open() error: %v", err)
	}
	if a.Header.Format != FormatVersion || a.Header.UnpackedSize != 20 || a.Header.Entries != 3 {
		t.Errorf("Open().Header format/unpacked/entries = %d/%d/%d, want %d/20/3",
			a.Header.Format, a.Header.UnpackedSize, a.Header.Entries, FormatVersion)
	}
}

func TestWriterRejects(t *testing.T) {
	tests := []struct {
		name     string
		stubSize int64
		edit     func(h *Header)
		unpacked uint64
	}{
		{"zero stub", 0, nil, 20},
		{"chunks do not tile", int64(len(testStub)), func(h *Header) { h.Chunks[1].Length = 5 }, 20},
		{"unpacked mismatch", int64(len(testStub)), nil, 21},
		{"unpacked overflow", int64(len(testStub)), nil, 1 << 63},
		{"filters", int64(len(testStub)), func(h *Header) { h.Filters = []string{"x"} }, 20},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			w := NewWriter(&b, tc.stubSize)
			if _, err := w.Write(testPayload); err != nil {
				t.Fatal(err)
			}
			h := testHeader()
			if tc.edit != nil {
				tc.edit(&h)
			}
			if err := w.Finish(&h, tc.unpacked, 3); err == nil {
				t.Fatal("Finish() error = nil, want an error")
			}
			if b.Len() != len(testPayload) {
				t.Errorf("after failed Finish() output is %d bytes, want only the %d payload bytes", b.Len(), len(testPayload))
			}
		})
	}
}

func TestWriterAfterFinish(t *testing.T) {
	var b bytes.Buffer
	w := NewWriter(&b, 1)
	h := Header{ChunkSize: 1, Target: "app"}
	if err := w.Finish(&h, 0, 0); err != nil {
		t.Fatalf("Finish() error: %v", err)
	}
	if _, err := w.Write([]byte("x")); err == nil {
		t.Error("Write() after Finish() error = nil, want an error")
	}
	if err := w.Finish(&h, 0, 0); err == nil {
		t.Error("second Finish() error = nil, want an error")
	}
}

type failingWriter struct{ after int }

func (f *failingWriter) Write(p []byte) (int, error) {
	if f.after < len(p) {
		n := f.after
		f.after = 0
		return n, errors.New("disk full")
	}
	f.after -= len(p)
	return len(p), nil
}

func TestWriterShortWrite(t *testing.T) {
	w := NewWriter(&failingWriter{after: 3}, 1)
	n, err := w.Write(testPayload)
	if err == nil || n != 3 {
		t.Fatalf("Write() = %d, %v; want 3, an error", n, err)
	}
	// The chunk table covers 16 bytes but only 3 reached the output.
	h := testHeader()
	if err := w.Finish(&h, 20, 3); err == nil {
		t.Error("Finish() after a short write error = nil, want an error")
	}
}
