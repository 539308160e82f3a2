package main

import (
	"context"

	"strata/node"
)

const scrubDescription = `Start a scrub pass on a running node now: every record of every volume on
the disks in service is read (at background priority, scrub_rate per disk)
and its checksums verified. A corrupt record holding a key's current version
is marked so GET answers the corruption error; in a cluster it is rewritten
from a replica. --addr is the node's admin listener (a default strata serve
puts it at 127.0.0.1:7071). Needs an admin-scope token, or a read-write one
from the node's own host when the node has no admin token.

Exit codes: 0 the pass started (with --wait: it completed and found nothing
wrong); 1 failure: the node refused or could not be reached, or (with --wait)
the pass failed, or found corrupt records or failed reads (it says how many);
2 usage error; 3 a scrub pass was already running and --wait was not given
(nothing new started; with --wait, the running pass is followed instead and
decides).`

func runScrub(ctx context.Context, s stdio, args []string) int {
	return passCommand{name: "scrub", path: node.AdminScrubPath, noun: "scrub"}.run(ctx, s, args, scrubDescription)
}
