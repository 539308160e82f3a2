// Package replication is the cluster's replication core without I/O: which
// acks make a write durable, which homes to hint, what a read quorum
// decides and whom to repair (and, with the background work, digests,
// hint policy, rebalancing and tombstone grace). No disk, no network, no
// goroutines, no clock: the node (package node/cluster) does the sending
// and receiving and drives these types, so their tests are deterministic.
//
// # Writes
//
// WriteQuorum tracks one PUT or DELETE over a key's home replicas (the
// placement's N homes) needing W durable acks:
//
//	q := replication.NewWriteQuorum(homes, w)
//	q.Unreachable("n3")      // membership says down: not sent to
//	q.Ack("n1"); q.Fail("n2")
//	q.Done(), q.Succeeded()  // decided? acknowledged?
//	q.ToHint()               // once Finished: who missed a write some home holds
//
// # Reads
//
// ResolveRead takes the answers of the homes asked for a key's version
// (index only) and returns the newest entry, the homes holding it readable
// (this node first, so a cold read costs one disk read in the cluster) and
// the stale homes to repair.
//
// # Anti-entropy digests
//
// A node keeps one Digest per peer: DigestBuckets (1024) buckets, bucket
// BucketOf(key) (FNV-1a of the key through mix.Mix64, stable across
// processes), each the XOR of EntryHash(key, version, deleted) over the
// local keys whose home set holds both the node and that peer. A
// DigestTable is built by Add over the index (never the data) and kept up
// to date by Update(old, cur) on every change; XOR makes both orders give
// the same table, which the property test checks after random puts,
// deletes, corruptions and drops. A corrupt entry contributes nothing, so
// the replica holding it differs from a healthy one and pulls the version
// again. DiffBuckets compares two digests of one view (ErrViewMismatch
// otherwise): a round between two nodes that agree costs 8 KiB per peer
// and lists nothing.
//
// # Hints
//
// A Hint is metadata only: target missed key at version (deleted: a
// tombstone). HintKey sorts a target's hints oldest first (the version,
// a hybrid logical clock stamp, big endian, then the key); HintValue and
// DecodeHint (fuzzed) encode the rest. HintBudget bounds the store at
// HintBytes (key + 32) per hint: past it a hint is refused and the caller
// counts the drop; anti-entropy covers the key. Pacer is the token bucket
// for replay rates and anti-entropy bytes.
//
// # Rebalancing and tombstones
//
// PlanMove keeps an entry while the node is one of the key's homes, else
// pushes it to every new home; DropAllowed lets the local copy go only
// once every home confirmed it holds the version, so a key never has
// fewer copies on its way. Holds says whether a replica's entry already
// covers another (same version in at least as strong a state, or newer;
// a corrupt copy covers nothing of its version). TombstoneDroppable
// allows compaction to drop a tombstone only past the grace period and
// only when every home holds it: a home that lacks it keeps it alive
// whatever the clock says.
// # Promises
//
//   - Strict quorums: only a home's durable ack counts toward W, each home
//     once, its first outcome standing. A hint, a non-home's answer or a
//     second answer never counts, so with R + W > N every read quorum
//     meets at least one home that acked every acknowledged write.
//   - A write is acknowledged only when Succeeded; a write that can no
//     longer reach W (Done without Succeeded) fails with ErrNoQuorum.
//     ToHint names no one when no home acked: there is nothing to replay.
//   - Last writer wins: Newer orders entries by version, then at equal
//     versions tombstone > blob > corrupt, the order the blockstore applies.
//     ResolveRead's newest is the maximum under Newer among the answers, so
//     a tombstone hides every older blob and a corrupt copy never hides a
//     readable one of the same version.
//   - A read needs R answers; an erroring home counts toward nothing, and
//     fewer than R answers is ErrNoQuorum, never a guess from fewer.
//   - Holders only ever hold the newest version readable (not a tombstone,
//     not marked corrupt); bytes are read from them alone. Stale lists only
//     homes that answered with something older, nothing, or the newest
//     version marked corrupt; silence is never taken for staleness.
package replication
