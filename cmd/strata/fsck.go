package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"strata/blockstore"
	"strata/node"
)

// exitCannotCheck is fsck's exit code when it could not check at all (a
// running node holds the directories, a directory is unreadable).
const exitCannotCheck = 3

const fsckDescription = `Check a stopped node's HDD tier: read every record of every volume (checksums,
torn tails, corruption in the middle) and compare the volumes with the index both
ways (entries pointing at missing or mismatched records, records the index lacks
or holds older), and check the identity files. Without --repair nothing is
changed. See docs/fsck.md for what each problem means.

The directories come from --config FILE (hdd_dirs, index_dir and the sizes), from
--data ROOT (the embedded layout a plain 'strata serve' uses: ROOT/hdd and
ROOT/index, default ./strata-data for serve), or DIR... (HDD data directories,
with the index in --index, default the first DIR). A running node holds locks on
them: stop it first.

--repair rebuilds the index from the volumes (index.db is moved aside as
index.db.fsck-<unix>) and seals torn tails at their last valid record, then
checks again. It never touches acknowledged bytes, and it refuses while a data
directory's identity is in doubt. Corrupt records are not repaired here: a
replica has the good copy.

Exit codes: 0 clean; 1 problems found (with --repair also when they were
repaired: the output says whether the re-check is clean); 2 usage error;
3 could not check (directories locked by a running node, missing or\nunreadable). Options the store refuses (say, a volume_size below its minimum)\nare a usage error.`

func runFsck(ctx context.Context, s stdio, args []string) int {
	fs := newFlagSet("fsck", "(--config FILE | --data ROOT | DIR...)", fsckDescription)
	repair := fs.Bool("repair", false, "rebuild the index from the volumes and seal torn tails, then check again")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	config := fs.String("config", "", "take hdd_dirs, index_dir and sizes from this TOML config `file`")
	data := fs.String("data", "", "root `dir` of the embedded layout, as for strata serve --data (ROOT/hdd, ROOT/index)")
	indexDir := fs.String("index", "", "index `dir` (default: from the config or layout; with DIRs, the first DIR)")
	verbose := fs.Bool("v", false, "log what the scan finds to stderr as it goes")
	pos, code, ok := fs.parse(args, s)
	if !ok {
		return code
	}
	sources := 0
	for _, given := range []bool{*config != "", *data != "", len(pos) > 0} {
		if given {
			sources++
		}
	}
	if sources != 1 {
		return fs.usageError(s.err, "want exactly one of --config FILE, --data ROOT or DIR...")
	}
	var opts blockstore.Options
	if len(pos) > 0 {
		opts = blockstore.Options{DataDirs: pos, IndexDir: *indexDir}
	} else {
		cfg := node.EmbeddedConfig("")
		if *config != "" {
			var err error
			if cfg, err = node.LoadConfig(*config); err != nil {
				return fs.usageError(s.err, "%v", err)
			}
		} else {
			cfg.SetDataDir(*data)
		}
		if *indexDir != "" {
			cfg.IndexDir = *indexDir
		}
		mode, err := cfg.FileModeBits()
		if err != nil {
			return fs.usageError(s.err, "%v", err)
		}
		opts = blockstore.Options{
			DataDirs:    cfg.HDDDirs,
			IndexDir:    cfg.IndexDir,
			NodeID:      cfg.NodeID,
			FileMode:    mode,
			VolumeSize:  int64(cfg.VolumeSize),
			ChunkSize:   int64(cfg.ChunkSize),
			MaxBlobSize: int64(cfg.MaxBlobSize),
		}
	}
	opts.Logger = slog.New(slog.DiscardHandler)
	if *verbose {
		opts.Logger = slog.New(slog.NewTextHandler(s.err, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	rep, err := blockstore.Check(ctx, opts, blockstore.CheckOptions{Repair: *repair})
	if errors.Is(err, blockstore.ErrInvalidArgument) {
		return fs.usageError(s.err, "%v", err)
	}
	if err != nil {
		fmt.Fprintf(s.err, "strata fsck: could not check: %v\n", err)
		return exitCannotCheck
	}
	if *asJSON {
		enc := json.NewEncoder(s.out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return fail(s, "fsck", err)
		}
	} else {
		printFsck(s.out, rep)
	}
	if rep.ProblemCount == 0 {
		return exitOK
	}
	return exitError
}

func printFsck(w io.Writer, rep blockstore.CheckReport) {
	fmt.Fprintf(w, "checked %d volumes: %d records, %d index entries", rep.Volumes, rep.Records, rep.IndexEntries)
	if rep.Unindexed > 0 {
		fmt.Fprintf(w, ", %d records not yet indexed (the next start replays them)", rep.Unindexed)
	}
	fmt.Fprintln(w)
	for _, p := range rep.Problems {
		fmt.Fprintf(w, "problem: %s\n", p)
	}
	switch {
	case rep.ProblemCount == 0:
		fmt.Fprintln(w, "clean")
		return
	case rep.ProblemCount > len(rep.Problems):
		fmt.Fprintf(w, "%d problems (%d listed)\n", rep.ProblemCount, len(rep.Problems))
	default:
		fmt.Fprintf(w, "%d problems\n", rep.ProblemCount)
	}
	switch {
	case rep.RepairRefused != "":
		fmt.Fprintf(w, "not repaired: %s\n", rep.RepairRefused)
	case rep.Repaired && rep.After.ProblemCount == 0:
		fmt.Fprintln(w, "repaired: index rebuilt from the volumes; the re-check is clean")
	case rep.Repaired:
		fmt.Fprintf(w, "repaired: index rebuilt from the volumes; the re-check still finds %d problems:\n", rep.After.ProblemCount)
		for _, p := range rep.After.Problems {
			fmt.Fprintf(w, "remaining: %s\n", p)
		}
	default:
		fmt.Fprintln(w, "run with --repair to rebuild the index and seal torn tails (the node must stay stopped)")
	}
}
