package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

// flagSet is a subcommand's flags plus the text its --help prints.
type flagSet struct {
	*flag.FlagSet
	name        string // subcommand name, e.g. "get"
	synopsis    string // positional arguments, e.g. "KEY [-o FILE]"
	description string
}

// newFlagSet returns an empty flag set for subcommand name. The flag package
// prints nothing itself: parse reports errors so every subcommand words them
// the same way.
func newFlagSet(name, synopsis, description string) *flagSet {
	fs := flag.NewFlagSet("strata "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &flagSet{FlagSet: fs, name: name, synopsis: synopsis, description: description}
}

// usage writes the subcommand's help text to w.
func (fs *flagSet) usage(w io.Writer) {
	fmt.Fprintf(w, "Usage: strata %s [flags] %s\n\n%s\n", fs.name, fs.synopsis, fs.description)
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n == 0 {
		return
	}
	fmt.Fprintln(w, "\nFlags:")
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}

// usageError reports a usage mistake on stderr and returns exitUsage.
func (fs *flagSet) usageError(stderr io.Writer, format string, args ...any) int {
	fmt.Fprintf(stderr, "strata %s: %s\n", fs.name, fmt.Sprintf(format, args...))
	fmt.Fprintf(stderr, "Run 'strata %s --help' for usage.\n", fs.name)
	return exitUsage
}

// parse parses flags that may be interleaved with positional arguments
// (`strata get KEY -o FILE` as well as `strata get -o FILE KEY`); "--" ends
// flag parsing. It returns the positional arguments and ok; when !ok the
// command is over and code is its exit code: exitOK after --help (usage on
// stdout), exitUsage after a bad flag (message on stderr).
func (fs *flagSet) parse(args []string, s stdio) (positional []string, code int, ok bool) {
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.usage(s.out)
				return nil, exitOK, false
			}
			return nil, fs.usageError(s.err, "%v", err), false
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, 0, true
		}
		// Parse stops at the first non-flag, or just after "--". After
		// "--" everything left is positional.
		consumed := len(args) - len(rest)
		if consumed > 0 && args[consumed-1] == "--" {
			return append(positional, rest...), 0, true
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// envOr returns the environment variable name, or def when it is unset or empty.
func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
