package replication

// Digest summarises the keys one node shares with one peer, for
// anti-entropy: Buckets[i] is an order-independent hash of (key, version,
// deleted) over the shared keys that fall in bucket i. Equal digests mean
// equal key sets with equal versions (up to hash collisions); a differing
// bucket names the keys to compare.
type Digest struct {
	// View identifies the membership the digest was computed under
	// (ViewHash); digests under different views are not compared.
	View    uint64
	Buckets []uint64
}
