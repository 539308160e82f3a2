// Package trace reads cache request traces for the simulator (`strata sim`
// and the tiering tests): libCacheSim's oracleGeneral binary format and a
// CSV of time,key,size[,op].
//
// # Basics
//
// A Reader streams one Request at a time and returns io.EOF after the last
// one; nothing holds the whole trace in memory. Records of size 0 are
// skipped (libCacheSim does the same). Malformed input is an error wrapping
// ErrMalformed that says where (record number or line), never a panic.
//
// oracleGeneral records are 24 bytes, little-endian:
//
//	u32 time | u64 object id | u32 size | i64 next access (request number from 1, -1 if none)
//
// The next access lets Belady run in one streaming pass; CSV traces do not
// carry it (NextAccess is NoNextAccess) and a Belady replay must compute it
// first (NextAccesses).
//
// # Caveats
//
//   - CSV keys that are decimal integers become that id; any other key is
//     hashed (FNV-1a 64), so two distinct string keys may in principle share
//     an id.
//   - A CSV op of delete/del/remove is skipped; every other op (get, set,
//     read, write, or none) counts as an access, as libCacheSim's replay does.
package trace
