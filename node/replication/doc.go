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
