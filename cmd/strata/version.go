package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
)

// version is set at link time: go build -ldflags "-X main.version=v1.2.3".
// It is the one package-level variable, written only by the linker.
var version = ""

// versionString is the release version: the -ldflags value, else the module
// version from the build info (a tag when built with `go install m@v`), else
// the VCS revision, else "devel".
func versionString() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	rev, dirty := "", false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "devel"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "-dirty"
	}
	return "devel-" + rev
}

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
