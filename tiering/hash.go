package tiering

import "strata/internal/mix"

// itemHash is the 64-bit identity of one cached item: a blob key, the
// version and checksum of the blob it belongs to, and the segment number.
// An overwrite changes the version, so its items hash differently and old
// bytes can never be served for the new blob.
//
// It is FNV-1a over the key followed by a splitmix64-style finalizer over
// the other fields. It must stay stable across releases: the SSD index
// persisted on shutdown stores these hashes.
func itemHash(key string, version uint64, sum uint32, seg uint32) uint64 {
	const (
		offset64 = 14695981039346656037
		prime64  = 1099511628211
	)
	h := uint64(offset64)
	for i := 0; i < len(key); i++ {
		h ^= uint64(key[i])
		h *= prime64
	}
	h = mix.Mix64(h ^ version)
	h = mix.Mix64(h ^ (uint64(sum)<<32 | uint64(seg)))
	return h
}

// objectSeg is the segment number reserved for the object as a whole: the
// admission sketch counts reuse per object, not per segment, since a reader
// of a blob reads all its segments.
const objectSeg = ^uint32(0)

func objectHash(key string, version uint64, sum uint32) uint64 {
	return itemHash(key, version, sum, objectSeg)
}
