package tiering

import (
	"context"
	"fmt"
	"time"

	"strata/blockstore"
)

// Ranged misses. A small read (an HTTP Range of a few KiB) of a large blob
// that no cache holds would fetch its whole segment (RAMMaxItemBytes) or
// backend chunk to return a few bytes; when the backend can read and
// verify a byte range alone (*blockstore.Store reads the 64 KiB
// sub-blocks a range covers), it is read that way instead: one device read
// of the sub-blocks, none of the chunk. The bytes are not offered to the
// caches (they are not a segment); the read still counts as an access of
// the object for admission, and the next sequential read of the Object
// fetches whole segments again.

// rangeReader is implemented by backends that read a byte range of one
// version, verifying only what they read (*blockstore.Store does).
type rangeReader interface {
	ReadRange(ctx context.Context, info blockstore.Info, off, n int64, dst []byte) ([]byte, error)
}

var _ rangeReader = (*blockstore.Store)(nil)

// rangeMissRatio: a read is served as a ranged miss only when its segment
// is more than this many times larger than the bytes it wants (under
// 32 KiB of a 1 MiB segment), so a stream's reads (64 KiB copy buffers)
// keep fetching and caching whole segments.
const rangeMissRatio = 32

// rangeOrFetch returns bytes holding pos for an Object read that wants
// want bytes there: a ranged backend read of exactly [pos, pos+want) when
// that is a miss of a chunked blob much smaller than its segment and seq
// is false (the read does not continue the previous one), else fetch's
// segment or chunk.
func (s *Store) rangeOrFetch(ctx context.Context, info blockstore.Info, lay layout, pos, want int64, seq bool) ([]byte, int64, Tier, error) {
	seg := int(pos / lay.seg)
	rr, ok := s.backend.(rangeReader)
	want = min(want, info.Size-pos)
	segLen := min(lay.seg, info.Size-int64(seg)*lay.seg)
	// Only a chunked blob's chunks can be read in part (sub-block CRCs);
	// a single-record blob is one read either way.
	if !ok || seq || info.NumChunks() <= 1 || want <= 0 || want*rangeMissRatio >= segLen || s.cached(info, seg) {
		return s.fetch(ctx, info, lay, seg)
	}
	start := time.Now()
	if s.ram != nil {
		s.ramC.misses.Add(1)
	}
	if s.ssd != nil {
		s.ssdC.misses.Add(1)
	}
	// A foreground read of the data disk like fetch's: the SSD pacer
	// yields to it.
	s.fg.begin()
	data, err := rr.ReadRange(ctx, info, pos, want, make([]byte, 0, want))
	s.fg.end(len(data))
	if err == nil && int64(len(data)) != want {
		err = fmt.Errorf("tiering: range [%d,+%d) of %q: %d bytes: %w", pos, want, info.Key, len(data), blockstore.ErrCorrupt)
	}
	if err != nil {
		s.hddC.misses.Add(1)
		return nil, 0, TierHDD, err
	}
	s.hddC.hit(len(data), time.Since(start))
	return data, pos, TierHDD, nil
}

// cached reports whether RAM or the SSD index holds segment seg of info's
// version (no device read, no counters): then fetch serves it.
func (s *Store) cached(info blockstore.Info, seg int) bool {
	k := ramKey{key: info.Key, version: info.Version, sum: info.Checksum, seg: uint32(seg)}
	if s.ram != nil && s.ram.containsQuietly(k) {
		return true
	}
	return s.ssd != nil && s.ssd.contains(k.hash())
}
