// Command strata is the one Strata binary: the storage node (`strata serve`)
// and a small client and operator's toolbox that talks to a running node over
// its HTTP blob API.
//
// # Basics
//
//	strata serve [flags]                 run a node (defaults: 127.0.0.1:7070, ./strata-data)
//	strata put KEY [FILE|-]              upload a blob, streaming
//	strata get KEY [-o FILE]             download a blob, streaming
//	strata rm KEY...                     delete blobs
//	strata ls [--prefix P]               list keys, following continuation
//	strata stat                          show the node: tiers (items, bytes, capacity, hit ratio), disks
//	                                     (used, free, garbage, scrub), compaction, passes, errors (/metrics)
//	strata stat KEY                      show size, ETag, content type, tier
//	strata stat --disks                  show the data disks in detail
//	strata compact [--addr ADMIN] [--wait]  start a compaction pass on a running node (admin listener)
//	strata scrub [--addr ADMIN] [--wait]    start a scrub pass on a running node (admin listener)
//	strata stat --members                show the cluster: members, hints, anti-entropy (admin listener)
//	strata stat --node                   show readiness, writability, read-only mode, listeners (/readyz)
//	strata leave [--addr ADMIN]          decommission a cluster node: drain, leave, exit
//	strata bench [flags]                 drive a node (or --embedded DIR: the store in-process) with a workload, print fio-style figures
//	strata sim --trace FILE [flags]      replay a cache trace through Strata's policy and baselines (docs/sim.md)
//	strata fsck [--repair] [--json] (--config FILE | --data ROOT | DIR...)
//	                                     check a stopped node's volumes against its index (docs/fsck.md)
//	strata version                       print the build version
//
// `strata bench --verify` writes content derived from (key, generation) and
// checks every GET against it: a content mismatch or a stale read (a
// generation superseded by a write acknowledged before the GET started, or a
// missing key whose write was acknowledged) is counted as its own error kind
// and the run exits 1. A generation whose PUT is still in flight is
// accepted, since the node may serve it before the client sees the
// acknowledgement; PUTs of one key that overlap may commit in either order,
// so only a PUT sent while no other PUT of the key was in flight supersedes
// the generations before it (with one client the check is exact).
//
// `strata bench` is a closed loop by default (each client sends its next
// request when the last one returns). `--rate R` makes it an open loop: the
// clients together send request i at start+i/R and its latency is measured
// from that intended start, so a node stall that delays later requests shows
// in their latency (wrk2's rule against coordinated omission); the output
// gives the achieved rate and how many requests went out late.
//
// `strata bench --embedded DIR` opens the store in-process on DIR, as
// `strata serve --data DIR` would (hdd/, ssd/, index/ under it, the
// embedded layout's sizes; with --config FILE that file's layout and sizes,
// DIR replacing its data_dir), and drives it with no HTTP in the way, to
// isolate disk behaviour. PUT, GET and DELETE keep the HTTP semantics and
// error kinds (a missing key is "not found"), the tier of each GET is the
// one the store's Object reports (what X-Strata-Tier says over HTTP), every
// other flag works the same, and the text header and the JSON ("mode")
// say which mode ran. The store is closed at the end; a failed close fails
// the run (exit 1). --embedded and --addr exclude each other, and no node may
// be serving DIR at the same time.
//
// With --embedded, `--device-model hdd` (or hdd:seek=8ms,rpm=7200,mbps=180,...)
// puts the HDD directories on one modelled disk head (package
// ioengine/devmodel): reads, writes and fdatasyncs share its time and pay
// seek, rotation and transfer, so a run on an SSD shows what a spinning disk
// would do; the run ends with a line on how busy the head was.
//
// `strata bench --scenario read-under-write` asks whether uploads starve
// reads: a reader set (--read-size, --read-concurrency, --read-keys,
// --zipf; open loop with --rate) GETs a prefilled working set, read once
// beforehand to warm the caches, while a writer set (--write-size,
// --write-concurrency, closed loop) streams uploads over a bounded set of
// keys. Three phases of --duration each (--warmup before each): reads
// alone, reads with uploads, uploads alone. The report gives each phase's
// figures, read p50/p99/p99.9 with uploads over alone, and upload MB/s
// with reads over alone (the design's goal: at least 0.5). With --verify
// the readers check every GET and, after the last phase, every uploaded
// key is read back once and checked; a failure of either makes the run
// exit 1. The defaults (4KiB reads at 8 clients over 10000 keys, 8MiB
// uploads at 8) saturate a single disk; the mixed-workload flags (--size,
// --read-ratio, --keys, --concurrency, --churn, --ops, --no-prefill) do
// not apply.
//
// Every bench run is measured in intervals of about a second: --json
// holds that series (ops, MB/s, p50 and p99 per operation, tier counts)
// next to the totals, with errors counted by kind and a schema_version
// (docs/bench-json.md documents every field and the versioning rule).
// --plot-dir DIR writes PNG plots (gonum.org/v1/plot): latency by
// percentile per operation (for read-under-write, reads alone and with
// uploads on one plot), throughput, bandwidth and p99 per second, and
// each tier's share of reads per second. When stdout is a terminal a
// progress line (phase, elapsed, ops/s, p99 so far, errors) is rewritten
// in place each second; when it is not (a file, a pipe) there is none.
//
// `strata serve --gossip ADDR --join ADDR,ADDR --cluster-secret-file FILE`
// runs the node in cluster mode (docs/cluster.md): the local store behind
// the cluster coordinator (node/cluster), gossip membership
// (node/membership) and the internal replica routes (node/peer), wired in
// serve_cluster.go; the admin listener adds /admin/cluster and
// /admin/leave. SIGTERM stops the node without leaving the cluster; only
// `strata leave` (or decommission = true) drains, leaves and exits 0.
//
// `strata sim` needs no node: it runs the tiering package's simulator.
// Client subcommands find the node through --addr (env STRATA_ADDR, default
// http://127.0.0.1:7070) and authenticate with --token (env STRATA_TOKEN).
// Flags may come before or after positional arguments; "--" ends flags.
//
// Exit codes: 0 success, 1 failure (including "not found"), 2 usage error;
// for `strata serve`, 2 is any configuration error, including an option the
// store refuses when it opens (the systemd unit does not restart on it).
// `strata fsck` exits 0 clean, 1 problems found (also when --repair
// repaired them; its output says whether the re-check is clean), 2 usage
// error, 3 could not check (a running node holds the directories, or they
// are missing or unreadable).
// `strata compact` and `strata scrub` exit 0 once the pass started (with
// --wait: once it completed with nothing wrong), 1 on failure (the node
// refused or was unreachable; with --wait the pass failed, compaction left
// volumes in place, or the scrub found corrupt records or failed reads,
// counted in the message), 2 usage error, 3 a pass of that kind was
// already running and --wait was not given (nothing new started; with
// --wait the running pass is followed and decides). Their --addr is the
// admin listener (default 127.0.0.1:7071, node.DefaultAdminListen, as
// for `strata leave`; env STRATA_ADMIN_ADDR). `strata stat` with no KEY
// exits 1 when a disk failed or the scrub found corruption.
// `strata serve` sets the Go memory limit from its configuration and logs
// it (docs/config.md, Memory).
//
// # Caveats
//
// Keys are escaped with url.PathEscape, so a "/" in a key travels as %2F; the
// node decides what is a valid key. `strata bench` over HTTP measures the
// node plus the loopback HTTP stack plus itself (--embedded leaves HTTP out): run it on the same machine only when the
// baseline it is compared against is measured the same way.
package main
