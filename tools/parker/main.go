// Command parker packs a working directory into one executable, TARGET-c,
// that runs TARGET in a private container. The parker binary also contains
// the runtime, so a parker built with "go install" can pack artifacts with
// no separate runtime stub installed.
package main

import (
	"os"

	"github.com/parkerpack/parker/internal/cli"
	"github.com/parkerpack/parker/internal/container"
)

func main() {
	if container.IsInit(os.Args) {
		os.Exit(container.Init(os.Environ()))
	}
	if container.SelfIsArtifact() {
		os.Exit(container.Supervise(os.Args, os.Environ()))
	}
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
