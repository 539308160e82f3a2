package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// Exit codes shared by every subcommand.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// stdio carries the streams a subcommand may use, so tests can run
// subcommands in-process without touching the real ones.
type stdio struct {
	in       io.Reader
	out, err io.Writer
}

// command is one subcommand of the binary.
type command struct {
	summary string
	run     func(ctx context.Context, io stdio, args []string) int
}

func commands() map[string]command {
	return map[string]command{
		"serve": {"run a storage node", func(ctx context.Context, s stdio, args []string) int {
			return runServe(ctx, args, s.out, s.err)
		}},
		"put":     {"upload a blob from a file or stdin", runPut},
		"get":     {"download a blob to stdout or a file", runGet},
		"rm":      {"delete blobs", runRm},
		"ls":      {"list keys", runLs},
		"stat":    {"show a blob's metadata, the cluster's members (--members) or the node's state (--node)", runStat},
		"leave":   {"decommission a cluster node: drain its keys, leave, exit", runLeave},
		"compact": {"start a compaction pass on a running node (--wait: until done)", runCompact},
		"scrub":   {"start a scrub pass on a running node (--wait: until done)", runScrub},
		"bench":   {"drive a node with a workload and report latency and throughput", runBench},
		"sim":     {"replay a cache trace through Strata's policy and baselines (no node, no I/O)", runSim},
		"fsck":    {"check a stopped node's volumes against its index; --repair rebuilds the index", runFsck},
		"version": {"print the version", runVersion},
	}
}

func main() {
	// SIGINT and SIGTERM cancel the context: client commands abort their
	// request, serve shuts down gracefully.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, stdio{in: os.Stdin, out: os.Stdout, err: os.Stderr}, os.Args[1:])
	stop()
	os.Exit(code)
}

// run dispatches args[0] to its subcommand and returns the exit code.
func run(ctx context.Context, s stdio, args []string) int {
	cmds := commands()
	if len(args) == 0 {
		printUsage(s.err, cmds)
		return exitUsage
	}
	name := args[0]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 {
			if c, ok := cmds[args[1]]; ok {
				return c.run(ctx, s, []string{"--help"})
			}
			fmt.Fprintf(s.err, "strata: unknown command %q\n", args[1])
			return exitUsage
		}
		printUsage(s.out, cmds)
		return exitOK
	case "-v", "-version", "--version":
		name = "version"
	}
	c, ok := cmds[name]
	if !ok {
		fmt.Fprintf(s.err, "strata: unknown command %q\n\n", name)
		printUsage(s.err, cmds)
		return exitUsage
	}
	return c.run(ctx, s, args[1:])
}

func printUsage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "Strata: a storage node for hosts with SSD and HDD tiers.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage: strata <command> [flags] [args]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'strata <command> --help' for a command's flags.")
	fmt.Fprintln(w, "Client commands use --addr (env STRATA_ADDR, default "+defaultAddr+") and --token (env STRATA_TOKEN).")
}
