// Package version holds the parker version that artifacts record and
// that --version prints.
package version

import "runtime/debug"

// Version is set at link time by the Makefile (-X) for release builds.
var Version = "0.1.0"

// String returns the version, preferring the module version when parker
// was built by "go install MODULE/tools/parker@VERSION".
func String() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		v := info.Main.Version
		if v != "" && v != "(devel)" {
			return v
		}
	}
	return Version
}
