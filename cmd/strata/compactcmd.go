package main

import (
	"context"

	"strata/node"
)

const compactDescription = `Start a compaction pass on a running node now: every sealed volume whose
garbage (deleted, overwritten records) is at least compact_threshold has its
live records copied to an active volume and is removed. --addr is the node's
admin listener (a default strata serve puts it at 127.0.0.1:7071). Needs an
admin-scope token, or a read-write one from the node's own host when the node
has no admin token (none at all without tokens).

Exit codes: 0 the pass started (with --wait: it completed and every volume it
chose was compacted); 1 failure: the node refused or could not be reached, or
(with --wait) the pass failed or left volumes in place; 2 usage error; 3 a
compaction pass was already running and --wait was not given (nothing new
started; with --wait, the running pass is followed instead and decides).`

func runCompact(ctx context.Context, s stdio, args []string) int {
	return passCommand{name: "compact", path: node.AdminCompactPath, noun: "compaction"}.run(ctx, s, args, compactDescription)
}
