package collect

import "io/fs"

// entryMode returns the type and permission bits of info that a tar entry
// keeps: directory or symlink type, permissions, setuid, setgid and sticky.
func entryMode(info fs.FileInfo) fs.FileMode {
	mode := info.Mode()
	return mode&(fs.ModeDir|fs.ModeSymlink) | mode&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)
}

// specialKind names a file type that cannot be packed.
func specialKind(mode fs.FileMode) string {
	switch {
	case mode&fs.ModeSocket != 0:
		return "socket"
	case mode&fs.ModeNamedPipe != 0:
		return "named pipe (FIFO)"
	case mode&fs.ModeCharDevice != 0:
		return "character device"
	case mode&fs.ModeDevice != 0:
		return "block device"
	default:
		return "unsupported file type " + mode.Type().String()
	}
}
