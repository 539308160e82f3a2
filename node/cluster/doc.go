// Package cluster makes one Strata node part of a cluster: a Cluster is
// the node.Store the HTTP API serves from (the coordinator: quorum writes
// and reads over each key's home replicas) and the replica side the
// internal routes serve (peer.Backend: ApplyPut, ApplyDelete, Lookup,
// OpenLocal, Digest, Entries), with the background work (hints,
// anti-entropy, rebalancing) in between. The decisions (placement, which
// acks count, what a read quorum says, whom to hint or repair) come from
// the I/O-free cores in node/placement and node/replication; this package
// does the sending. It reaches other nodes only through the Peer
// interface (node/peer's Client over HTTP; cmd wires them together) and
// its own disks only through Local.
//
// # Basics
//
//	c, err := cluster.New(cluster.Options{Local: cluster.LocalTiered(store), Peer: client, Members: m})
//	c.Start(ctx)
//	srv, err := node.New(cfg, c, logger) // the blob API over the cluster
//	srv.SetInternal(peer.NewHandler(peer.HandlerOptions{Backend: c, ...}))
//
// The homes of a key are placement's N members for it among the placed
// ones (not draining, not left); a dead member stays a home (writes to it
// become hints) until it leaves.
//
// # Promises
//
//   - Durable means W homes made the write durable (fdatasync returned on
//     each), counted strictly: a hint, a non-home or a repeated answer never
//     counts. PUT and DELETE return only then; fewer than W is an error
//     wrapping replication.ErrNoQuorum (503 with Retry-After), and with
//     fewer than W homes reachable nothing is sent at all.
//   - A PUT streams: the body goes through one 128 KiB buffer to every
//     home's pipe at once, the slowest home pacing it, so memory per PUT
//     is bounded whatever the blob size. A home that takes no bytes or
//     gives no answer for ReplicaTimeout is cut out (its stream fails, so
//     it stores nothing) and hinted. A body that fails (only the reader's
//     io.EOF ends it cleanly: io.ErrUnexpectedEOF from a chunked body cut
//     short is a failure), or a quorum that can no longer be reached,
//     fails every home's stream: nothing becomes visible anywhere and no
//     hints follow. Homes still answering after the quorum finish in the
//     background and are hinted if they fail.
//   - Every write carries a version from this node's hybrid logical clock,
//     its low 8 bits set to a tag derived from the node ID, so two
//     coordinators ticking in the same millisecond do not stamp one
//     version on two different writes. A fresh version ahead of the wall clock
//     (after a restart, the clock starts at its persisted ceiling) is held
//     until the wall clock passes it (commit wait, at most 3 s), so a
//     later write through another coordinator stamps higher. Every replica keeps the newest
//     version (last writer wins, tombstone > blob > corrupt at equal
//     versions), in every order of arrival.
//   - A GET or HEAD asks R homes for the key's entry (index only, this
//     node's first), takes the newest among the answers (tombstone or none:
//     404), and reads the bytes from one home holding exactly that version,
//     this node first: a cold read costs one disk read in the cluster.
//     Fewer than R answers is ErrNoQuorum, never a guess. Stale, missing
//     and corrupt homes seen on the way go to background read repair.
//   - Bad bytes are never served: when a holder fails (checksum, a newer
//     version there, a cut connection), the read continues at the same
//     offset from another holder of the same version, asking the homes not
//     yet asked when the first ones run out; with none left the read fails.
//     A remote read goes in windows (128 KiB doubling to 8 MiB), so a small
//     Range costs one small request.
//   - A node that is not a home proxies (X-Strata-Tier: peer) and keeps no
//     copy, so cache space stays partitioned by the hash.
//   - ?consistency=one (node.ConsistencyOne) reads this node's own copy
//     when it is a home, else the first reachable home holding the key,
//     without comparing versions: it may be stale.
//   - List scatters to every reachable member and merges by key (newest
//     wins, so a tombstone hides older copies elsewhere). It is complete
//     while at most N-R placed members are missing; with more it fails with
//     ErrNoQuorum rather than leave keys out silently.
//   - Readiness (Healthy) and Writable are the local store's: a cluster
//     node is ready while it serves reads from its own disks, even with
//     peers down (quorum failures are 503 answers, not unreadiness).
//     So are its counters: Stats, Devices, StoreStats, FailedDisks and
//     Disks pass the local store's through (LocalTiered passes them from
//     the tiered store), so /metrics and /readyz's failed_disks read as a
//     single node's.
//   - Replica applies of one key are serialized (taking the lock once the
//     body is complete, so two coordinators streaming the same key cannot
//     deadlock), and each reports the entry before and after it to the
//     background work, so digests follow every change.
//
// # Hints
//
// A home that is down or fails a write gets a hint on the coordinator: a
// record (target, key, version, deleted) of about key + 32 bytes in a
// bbolt file at Options.HintsPath, committed (fsync) before hint returns;
// the bytes stay on the homes that acked. The store is bounded by
// HintsMaxBytes: past it the hint is dropped and counted, and
// anti-entropy covers the key. Hints never count toward the write quorum.
// When membership shows the target reachable, hints replay oldest first
// at HintReplayRate (default 1000/s): a hint whose target already holds
// its version or newer is dropped; otherwise the current version is
// copied from a holder (this node first, then the key's homes), its
// bytes paced with anti-entropy's (AntiEntropyBytesPerSec). A batch's
// first key replays alone (a probe: a target that fails costs one
// request per try), then up to HintReplayConcurrency distinct keys
// replay at once (default 8), so their writes on the target share group
// commits instead of paying an fdatasync each in turn; the hints of one
// key replay in order. A hint whose target is no longer a home, or whose
// version no home holds any more, is dropped (obsolete, counted).
//
// # Anti-entropy
//
// Each node keeps one digest per peer (see node/replication) over the keys
// they share, rebuilt from the index (Local.Scan, never data) at start,
// when the view's hash changes and hourly, and updated on every replica apply
// (noteApplied). Every AntiEntropyInterval (jittered) a node fetches each
// reachable peer's digest for it, compares it with its own under the same
// view, lists the peer's entries in the differing buckets and pulls what
// the peer holds newer: a tombstone as a tombstone, a blob through
// OpenRange at that version, up to AntiEntropyConcurrency pulls at once
// (default 8), their bytes at AntiEntropyBytesPerSec (default 32 MiB/s,
// shared with hint replays and rebalancing pushes). A peer that becomes
// reachable (it restarted, or this node sees it again) gets a round at
// once, and Start runs one with every reachable peer (a restarted node
// may have missed writes); such a round that fails (digests not yet built
// for the view) is retried every second, up to ten times, then left to
// the periodic rounds. Pull only:
// the peer pulls from us in its own round, so both converge, and a wiped
// node refills from its peers. Rounds between nodes that agree copy
// nothing and list nothing.
//
// # Read repair
//
// Stale, missing or corrupt homes seen by a read are queued (bounded:
// when full the request is dropped, counted, and anti-entropy covers it)
// and brought to the newest version from a holder. RepairCorrupt queues
// the same repair for this node's own copy when the local store's scrub
// finds the key's current version corrupt (blockstore Options.OnCorrupt,
// wired by cmd/strata): a copy at that version or newer from another
// holder replaces the corrupt entry.
//
// # Rebalancing and decommission
//
// After a view change a pass walks the local index: every entry this node
// is no longer a home of is pushed to each new home that lacks it
// (durable on return, paced like anti-entropy), and only once every new
// home confirmed it holds the version is the local copy dropped
// (Local.Drop, which refuses if the entry changed). The drop is decided
// under the key's lock against the view current then, not the one the
// pass began with: if this node is a home again, or a current home is not
// among those that confirmed, the copy stays. A home down or failing keeps
// the local copy for a later pass; KeysMoving counts what is left.
//
// A replica write can land on a node that is not a home of its key under
// the node's current view (its coordinator has an older view, or the node
// is draining), also after the pass that followed the view change. Every
// apply checks: such a key is queued (bounded; when full, a full pass is
// woken instead) and moved the same way once the view has been stable for
// the settle time, without waiting for another view change.
//
// Drain marks the node draining (Options.SetDraining), so placement moves
// every key away. It then waits until its own view and every reachable
// member's view has it draining: a member is clear when its anti-entropy
// digest (which follows its view) is built under this node's view; where
// no other placed member's digest can be asked for, after a settle time
// longer than gossip takes. Writes are never refused meanwhile. Then it
// runs passes until one leaves nothing to move and no write landed on a
// non-home during it, and returns; the caller then leaves the membership.
// Status (DrainWaitingOn) names the members a drain is waiting for.
//
// # Tombstones
//
// TombstoneDroppable lets compaction drop a tombstone only past
// TombstoneGrace and only when every home, asked now, holds it or
// something newer; an unreachable or stale home keeps it. Non-home copies
// awaiting rebalancing are the grace period's business.
//
// # Metadata and Compose
//
// A blob's metadata and MD5 (blockstore Info.Meta, Info.MD5; the S3 API
// writes them) travel with every copy: the replicated PUT, hints, read
// repair, anti-entropy and rebalancing all copy through copyEntry, which
// passes Meta and asks the target to hash the content (WantMD5) itself.
// Compose (node.Composer) streams the parts, read through the cluster, to
// the key's homes as one replicated PUT at a new version (W acks, 503
// no_quorum otherwise) and then deletes the parts: the parts' homes are
// not the key's, so a cluster copies the bytes once per home where a
// single node composes without copying. A given MD5 is refused (the S3
// API keeps its multipart ETag in Meta). Co-located parts (the S3 API's)
// are composed in place on each home instead. A compose retried at the
// version of an earlier attempt (ComposeOptions.Version) finishes it: the
// homes that still hold the parts compose them, and when none does but W
// homes hold the blob at that version (every home composed, the answer
// was lost), the retry answers that blob, changing nothing.
//
// # Conditional writes
//
// node.Server checks If-Match, If-None-Match and If-Unmodified-Since with
// Stat (a quorum read) under its per-key lock, then writes. In a cluster
// that lock is per coordinator: conditional writes through one node are
// serialized and exact (the quorum read sees every acknowledged write, R +
// W > N). Two coordinators racing on one key can both pass their check
// (say, two If-None-Match: * creates) and both write; last writer wins,
// so every home converges on the newer version, and the older write was
// acknowledged but is superseded. A compare-and-swap across the cluster
// would need consensus, which Strata does not run.
//
// # Caveats
//
//   - A write that failed its quorum may still be durable on fewer than W
//     homes and be seen by later reads (it was never acknowledged; a
//     retried PUT supersedes it at a newer version).
//   - Two nodes whose version tags collide (1 in 256 per pair) can still
//     stamp equal versions on writes of one key in the same millisecond.
//     The replicas still converge: at equal versions the blockstore keeps
//     a tombstone over a blob, and of two blobs the one with the higher
//     content checksum, whatever order they arrive in. The other write is
//     lost as any concurrent overwrite is.
//   - Stragglers run on a context detached from the request; Close waits
//     for them (each is bounded by ReplicaTimeout). Close the Cluster after
//     the HTTP server stopped sending it requests: a write that starts
//     while Close waits is not waited for.
//   - List reads each peer through Peer.Entries with forPeer the peer's
//     own ID and no buckets, which the replica side (Entries) answers with
//     every local entry rather than a digest bucket's.
//   - Drain's last check and the leave are not atomic: a replica write a
//     coordinator sent before its view had this node draining, landing
//     after that check, leaves with the node (its other homes still hold
//     it; hints and anti-entropy bring the rest). Drain waits for every
//     reachable member's view first, so only a request already in flight
//     then can do that.
//   - A flapping peer gets an immediate anti-entropy round each time it
//     comes back: a digest exchange (8 KiB) per return, copies only for
//     what differs. Hint replay and anti-entropy may copy the same key to
//     a returning node at once; the second write finds it held (last
//     writer wins) and changes nothing.
//   - A digest rebuild reads index pages under the digest lock; a change
//     applied to the index but not yet noted when its page is read leaves
//     its bucket off until the next rebuild. That costs an extra entries
//     listing per round, never a wrong copy: pulls compare entries, not
//     buckets. Digests are therefore also rebuilt every 64 anti-entropy
//     intervals (about an hour by default).
package cluster
