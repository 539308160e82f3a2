package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"

	"strata/node"
)

// version is set at link time: go build -ldflags "-X main.version=v1.2.3".
// It is the one package-level variable, written only by the linker.
var version = ""

// versionString is the release version: the -ldflags value, else what
// node.ReadBuild finds in the build info.
func versionString() string { return node.ReadBuild(version).Version }

func runVersion(_ context.Context, s stdio, args []string) int {
	fs := newFlagSet("version", "", "Print the version of this binary, its VCS revision and Go version.")
	verbose := fs.Bool("v", false, "also print the module's build settings")
	pos, code, ok := fs.parse(args, s)
	if !ok {
		return code
	}
	if len(pos) != 0 {
		return fs.usageError(s.err, "unexpected argument %q", pos[0])
	}
	fmt.Fprintf(s.out, "strata %s %s %s/%s\n", versionString(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if *verbose {
		if bi, ok := debug.ReadBuildInfo(); ok {
			fmt.Fprint(s.out, bi.String())
		}
	}
	return exitOK
}
