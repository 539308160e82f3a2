package node

import (
	"runtime"
	"runtime/debug"
)

// Build describes the running binary, for strata_build_info and `strata version`.
type Build struct {
	Version   string // release version, or "devel" / "devel-<revision>"
	Revision  string // VCS revision the binary was built from; "" when unknown
	GoVersion string
}

// ReadBuild describes this binary. linkVersion is the version set at link
// time (-ldflags -X), if any; otherwise the module version from the build
// info (a tag when built with `go install m@v`), else "devel-" and the
// first 12 digits of the VCS revision (plus "-dirty"), else "devel".
func ReadBuild(linkVersion string) Build {
	b := Build{Version: linkVersion, GoVersion: runtime.Version()}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		if b.Version == "" {
			b.Version = "devel"
		}
		return b
	}
	dirty := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Revision = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	switch {
	case b.Version != "":
	case bi.Main.Version != "" && bi.Main.Version != "(devel)":
		b.Version = bi.Main.Version
	case b.Revision != "":
		b.Version = "devel-" + b.Revision[:min(12, len(b.Revision))]
		if dirty {
			b.Version += "-dirty"
		}
	default:
		b.Version = "devel"
	}
	return b
}
