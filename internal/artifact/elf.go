package artifact

import (
	"debug/elf"
	"encoding/binary"
	"io"
	"math"
)

// elfImageSize returns the number of bytes that the ELF file at the start of r
// occupies: the end of its furthest header table, segment or section. It
// returns false if r does not start with an ELF file that debug/elf can parse
// or if an offset and size overflow.
func elfImageSize(r io.ReaderAt) (int64, bool) {
	f, err := elf.NewFile(r)
	if err != nil {
		return 0, false
	}
	end, ok := headerTablesEnd(r, f)
	if !ok {
		return 0, false
	}
	for _, p := range f.Progs {
		if end, ok = furthest(end, p.Off, p.Filesz); !ok {
			return 0, false
		}
	}
	for _, s := range f.Sections {
		if s.Type == elf.SHT_NOBITS {
			continue
		}
		if end, ok = furthest(end, s.Offset, s.FileSize); !ok {
			return 0, false
		}
	}
	return int64(end), true
}

// headerTablesEnd returns where the ELF header, the program header table
// and the section header table end, which debug/elf does not expose.
func headerTablesEnd(r io.ReaderAt, f *elf.File) (uint64, bool) {
	var ehSize, phOff, phSize, shOff, shSize uint64
	switch f.Class {
	case elf.ELFCLASS64:
		var h elf.Header64
		if err := binary.Read(io.NewSectionReader(r, 0, int64(binary.Size(h))), f.ByteOrder, &h); err != nil {
			return 0, false
		}
		ehSize = uint64(h.Ehsize)
		phOff, phSize = h.Phoff, uint64(h.Phentsize)*uint64(len(f.Progs))
		shOff, shSize = h.Shoff, uint64(h.Shentsize)*uint64(len(f.Sections))
	case elf.ELFCLASS32:
		var h elf.Header32
		if err := binary.Read(io.NewSectionReader(r, 0, int64(binary.Size(h))), f.ByteOrder, &h); err != nil {
			return 0, false
		}
		ehSize = uint64(h.Ehsize)
		phOff, phSize = uint64(h.Phoff), uint64(h.Phentsize)*uint64(len(f.Progs))
		shOff, shSize = uint64(h.Shoff), uint64(h.Shentsize)*uint64(len(f.Sections))
	default:
		return 0, false
	}
	end, ok := furthest(0, 0, ehSize)
	if ok && phSize > 0 {
		end, ok = furthest(end, phOff, phSize)
	}
	if ok && shSize > 0 {
		end, ok = furthest(end, shOff, shSize)
	}
	return end, ok
}

// furthest returns the larger of end and off+size, and false if that sum
// does not fit in an int64.
func furthest(end, off, size uint64) (uint64, bool) {
	if off > math.MaxInt64 || size > math.MaxInt64-off {
		return 0, false
	}
	return max(end, off+size), true
}
