package replication

import (
	"encoding/binary"
	"fmt"
	"time"
)

// A hint says that a target replica missed a write: key at version
// (deleted: a tombstone). It is metadata only; the bytes stay on the
// replicas that acked, and a replay copies the key's current version from a
// holder. Hints are stored per target under HintKey, so a cursor walks them
// oldest first (versions are hybrid logical clock stamps, ordered by time).
type Hint struct {
	Key     string
	Version uint64
	Deleted bool
}

// hintOverhead is what a stored hint costs besides its key: the 8-byte
// version prefix, the 2-byte value and the store's per-item bookkeeping.
const hintOverhead = 32

// HintBytes is what one hint for key counts against the hint store's
// bound: about the key plus 32 bytes, whatever the blob's size.
func HintBytes(key string) int64 { return int64(len(key)) + hintOverhead }

// hintFormat is the first byte of every encoded hint value.
const hintFormat = 1

const hintFlagDeleted = 1

// HintKey is the stored key of h: its version big endian, then its key,
// so byte order is oldest first and two versions of one key are two hints.
func HintKey(h Hint) []byte {
	b := make([]byte, 8+len(h.Key))
	binary.BigEndian.PutUint64(b, h.Version)
	copy(b[8:], h.Key)
	return b
}

// HintValue is the stored value of h: a format byte and a flags byte.
func HintValue(h Hint) []byte {
	var flags byte
	if h.Deleted {
		flags |= hintFlagDeleted
	}
	return []byte{hintFormat, flags}
}

// DecodeHint rebuilds a hint from its stored key and value; anything else
// than what HintKey and HintValue produce gets an error wrapping
// ErrBadHint.
func DecodeHint(k, v []byte) (Hint, error) {
	if len(k) < 9 {
		return Hint{}, fmt.Errorf("%w: key of %d bytes", ErrBadHint, len(k))
	}
	if len(v) != 2 || v[0] != hintFormat || v[1]&^hintFlagDeleted != 0 {
		return Hint{}, fmt.Errorf("%w: value %x", ErrBadHint, v)
	}
	h := Hint{
		Key:     string(k[8:]),
		Version: binary.BigEndian.Uint64(k),
		Deleted: v[1]&hintFlagDeleted != 0,
	}
	if h.Version == 0 {
		return Hint{}, fmt.Errorf("%w: version 0", ErrBadHint)
	}
	return h, nil
}

// HintBudget accounts the bytes the hint store holds against its bound.
// Past the bound a new hint is refused (the caller drops and counts it;
// anti-entropy covers the key). Not safe for concurrent use.
type HintBudget struct {
	Max  int64 // bound in bytes
	used int64
}

// Used is the bytes held.
func (b *HintBudget) Used() int64 { return b.used }

// Admit reserves n bytes and reports whether they fit under Max.
func (b *HintBudget) Admit(n int64) bool {
	if n < 0 || b.used+n > b.Max {
		return false
	}
	b.used += n
	return true
}

// Restore counts n bytes already stored (found when the store opens),
// even past Max: they were admitted under an earlier bound.
func (b *HintBudget) Restore(n int64) {
	if n > 0 {
		b.used += n
	}
}

// Release returns n bytes (a hint replayed or dropped).
func (b *HintBudget) Release(n int64) {
	b.used -= n
	if b.used < 0 {
		b.used = 0
	}
}

// Pacer is a token bucket: Rate tokens per second (hint replays, or bytes
// for anti-entropy), at most Burst saved up. Reserve never refuses: a
// request larger than what is saved goes into debt and the caller waits
// the returned delay, so a rate holds on average even for one large blob.
// Not safe for concurrent use; the clock is the caller's.
type Pacer struct {
	Rate, Burst float64
	tokens      float64
	last        time.Time
}

// NewPacer returns a pacer for rate per second with burst saved up at
// most (burst <= 0: one second's worth), starting full.
func NewPacer(rate, burst float64) *Pacer {
	if burst <= 0 {
		burst = rate
	}
	return &Pacer{Rate: rate, Burst: burst, tokens: burst}
}

// Reserve takes n tokens at now and returns how long the caller must wait
// before using them (0 when they were saved up).
func (p *Pacer) Reserve(now time.Time, n float64) time.Duration {
	if p.Rate <= 0 {
		return 0
	}
	if !p.last.IsZero() && now.After(p.last) {
		p.tokens += now.Sub(p.last).Seconds() * p.Rate
		if p.tokens > p.Burst {
			p.tokens = p.Burst
		}
	}
	if p.last.IsZero() || now.After(p.last) {
		p.last = now
	}
	p.tokens -= n
	if p.tokens >= 0 {
		return 0
	}
	return time.Duration(-p.tokens / p.Rate * float64(time.Second))
}
