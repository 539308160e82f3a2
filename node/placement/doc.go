// Package placement decides which members are home to a key: weighted
// rendezvous (highest random weight) hashing, spread across zones. It is the
// first piece of the replication core without I/O: no disk, no network, no
// goroutines, no clock, so its tests are deterministic. The node drives it.
//
// # Basics
//
// New validates a member list (non-empty unique IDs, finite weights > 0)
// and returns a Ring; Ring.Replicas(key, n) returns the key's n home
// replicas, best first. AppendReplicas does the same into a caller's slice
// without allocating.
//
// Each member scores a key as -weight / ln(u), with u in (0,1) taken from a
// 64-bit hash of (member ID, key); the member with the highest score is the
// key's primary. With this logarithmic method a member is primary for a
// share of keys proportional to its weight.
//
// # Promises
//
//   - Deterministic: the answer depends only on the members (ID, zone,
//     weight) and the key, never on the order members were given, the
//     process, the platform or the Go version (FNV-1a and splitmix64, not
//     maphash). Every node with the same member list computes the same homes.
//   - The first replica is the coordinator preference; Replicas(key, k) is a
//     prefix of Replicas(key, n) for k < n.
//   - Zone spread: two replicas never share a zone while a zone without a
//     replica remains. The best-scoring member of each unused zone is taken
//     in score order, then the rest are filled by score. Members without a
//     zone form one zone named "", so with no zones configured the order is
//     plain score order.
//   - n greater than the member count gives every member; n <= 0 gives none.
//   - Minimal movement: adding a member moves to it only the keys it now wins
//     (about weight/total of the primaries); removing one moves only the keys
//     it held. Without zones, a key whose replica set did not include the
//     removed member keeps its set unchanged.
//
// # Co-location
//
// A key of the form ".p/<16 lowercase hex digits>/<rest>" is placed by the
// 64-bit hash written in it instead of by its own hash, so
// Colocate(target, rest) names a key that has exactly target's homes under
// every member list (same members, same order). KeyHash is the one hash every
// placement decision uses; since the node places keys only through Ring,
// writes, reads, digests, anti-entropy, rebalance and hints all agree on
// where a co-located key lives. A ".p/" key that does not parse (wrong
// length, uppercase or non-hex digits, no "/" after them) is placed by its
// own hash like any other key. The scheme is generic; the S3 gateway uses it
// to keep an upload's parts on its object's homes so a cluster can compose
// them without moving bytes between nodes.
//
// # Caveats
//
// Rendezvous costs O(members) hashes per key (plus O(n^2) comparisons for
// the zone rule): microseconds for a hundred members, see the benchmarks.
// With zones, a membership change in one zone can reorder the later
// replicas of keys whose primary did not move. Weights so large that the
// score overflows to +Inf tie, and ties go to the lower ID.
package placement
