package replication

import (
	"fmt"

	"strata/blockstore"
	"strata/internal/mix"
)

// DigestBuckets is the number of buckets of every anti-entropy digest: a
// round exchanges DigestBuckets x 8 bytes per peer (8 KiB) and a differing
// bucket names about 1/1024 of the shared keys to list.
const DigestBuckets = 1024

// FNV-1a constants: stable across processes and Go versions, as every node
// must put a key in the same bucket.
const (
	fnvOffset64 = 14695981039346656037
	fnvPrime64  = 1099511628211
)

func hashKey(key string) uint64 {
	h := uint64(fnvOffset64)
	for i := 0; i < len(key); i++ {
		h ^= uint64(key[i])
		h *= fnvPrime64
	}
	return mix.Mix64(h)
}

// BucketOf is the digest bucket of key.
func BucketOf(key string) int { return int(hashKey(key) % DigestBuckets) }

// EntryHash is the 64-bit hash of (key, version, deleted) that a key
// contributes to its bucket. It is never 0 for a version above 0, so a key
// present always changes its bucket.
func EntryHash(key string, version uint64, deleted bool) uint64 {
	h := mix.Mix64(hashKey(key) ^ mix.Mix64(version))
	if deleted {
		h = mix.Mix64(h ^ 0x9e3779b97f4a7c15)
	}
	if h == 0 {
		h = 1
	}
	return h
}

// Contribution is what entry e adds to its bucket: EntryHash of a blob or
// tombstone, 0 (nothing) for no entry (version 0) or a corrupt one, so a
// replica holding a corrupt copy differs from a healthy one and pulls the
// version again.
func Contribution(e blockstore.Entry) uint64 {
	if e.Version == 0 || e.Corrupt {
		return 0
	}
	return EntryHash(e.Key, e.Version, e.Deleted)
}

// DigestTable holds this node's digests, one per peer, under one view: the
// bucket of a key shared with peer P is the XOR of the Contributions of
// those keys. XOR makes the table order independent and lets a change be
// applied incrementally (out with the old contribution, in with the new),
// so it follows the index without scanning data. A DigestTable is not safe
// for concurrent use: its owner locks it.
type DigestTable struct {
	view   uint64
	byPeer map[string]*[DigestBuckets]uint64
}

// NewDigestTable returns an empty table for view with one digest per peer.
func NewDigestTable(view uint64, peers []string) *DigestTable {
	t := &DigestTable{view: view, byPeer: make(map[string]*[DigestBuckets]uint64, len(peers))}
	for _, p := range peers {
		t.byPeer[p] = new([DigestBuckets]uint64)
	}
	return t
}

// View is the view hash the table was built under.
func (t *DigestTable) View() uint64 { return t.view }

// Add folds entry e of a key shared with the given peers into their
// digests (a rebuild adds every local entry once).
func (t *DigestTable) Add(sharedWith []string, e blockstore.Entry) {
	t.xor(sharedWith, e.Key, Contribution(e))
}

// Update applies the change of key's entry from old to cur (either may be
// the zero Entry: none) to the digests of the peers the key is shared
// with. key is passed because old and cur may both be empty entries.
func (t *DigestTable) Update(sharedWith []string, key string, old, cur blockstore.Entry) {
	old.Key, cur.Key = key, key
	t.xor(sharedWith, key, Contribution(old)^Contribution(cur))
}

func (t *DigestTable) xor(sharedWith []string, key string, delta uint64) {
	if delta == 0 {
		return
	}
	b := BucketOf(key)
	for _, p := range sharedWith {
		if d := t.byPeer[p]; d != nil {
			d[b] ^= delta
		}
	}
}

// Digest returns a copy of the digest for peer; ok is false when the table
// has none for it (not a peer under this view).
func (t *DigestTable) Digest(peer string) (Digest, bool) {
	d := t.byPeer[peer]
	if d == nil {
		return Digest{}, false
	}
	return Digest{View: t.view, Buckets: append([]uint64(nil), d[:]...)}, true
}

// Has reports whether the table keeps a digest for peer.
func (t *DigestTable) Has(peer string) bool { return t.byPeer[peer] != nil }

// DiffBuckets returns the buckets where a and b differ, ascending. Digests
// under different views, or malformed ones, are not comparable:
// ErrViewMismatch or ErrBadDigest.
func DiffBuckets(a, b Digest) ([]int, error) {
	if a.View != b.View {
		return nil, fmt.Errorf("%w: %016x and %016x", ErrViewMismatch, a.View, b.View)
	}
	if len(a.Buckets) != DigestBuckets || len(b.Buckets) != DigestBuckets {
		return nil, fmt.Errorf("%w: %d and %d buckets, want %d", ErrBadDigest, len(a.Buckets), len(b.Buckets), DigestBuckets)
	}
	var diff []int
	for i := range a.Buckets {
		if a.Buckets[i] != b.Buckets[i] {
			diff = append(diff, i)
		}
	}
	return diff, nil
}

// Holds reports whether a replica whose entry is held already has want or
// something newer, so nothing needs to be copied to it: a higher version,
// or the same version in a state at least as strong (a corrupt copy does
// not hold the version).
func Holds(held, want blockstore.Entry) bool {
	if held.Version == 0 || (held.Corrupt && held.Version <= want.Version) {
		return false
	}
	return !Newer(want, held)
}
