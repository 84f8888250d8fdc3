// Command parker-runtime is the runtime stub that parker copies to the
// front of every artifact. Run as TARGET-c, it unpacks the payload
// appended to its own file into a private container and runs the target
// there. It takes no arguments of its own: every argument is the target's.
package main

import (
	"os"

	"github.com/parkerpack/parker/internal/container"
)

func main() {
	if container.IsInit(os.Args) {
		os.Exit(container.Init(os.Environ()))
	}
	os.Exit(container.Supervise(os.Args, os.Environ()))
}
