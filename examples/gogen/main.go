// Command gogen prints the greeting in assets/greeting.txt, read from the
// directory that holds the program, then one line per argument.
//
// Running "go generate" in this directory builds the command and packs it
// with its assets into gogen-c; the Go sources and go.mod are left out.
// The directive below runs an installed parker. To run parker without
// installing it, write instead:
//
//	//go:generate go run github.com/parkerpack/parker/tools/parker@VERSION
package main

//go:generate parker

import (
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "gogen:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	greeting, err := os.ReadFile(filepath.Join(filepath.Dir(exe), "assets", "greeting.txt"))
	if err != nil {
		return err
	}
	os.Stdout.Write(greeting)
	for i, arg := range args {
		fmt.Printf("argument %d: %s\n", i+1, arg)
	}
	return nil
}
