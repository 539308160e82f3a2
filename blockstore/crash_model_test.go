package blockstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
)

// keyOp is one Put or Delete of a key and how it ended.
type keyOp struct {
	del   bool
	value []byte // put only
	// version is the op's version stamp: the one it asked for, or for a
	// store-assigned Put the one it got (0 if it did not return success).
	version uint64
	acked   bool // returned success before the crash
	ok      bool // returned success (possibly after the crash)
}

// crashModel is every key's history of ops.
type crashModel struct {
	mu      sync.Mutex
	history map[string][]keyOp
}

func (m *crashModel) add(key string, op keyOp) {
	m.mu.Lock()
	m.history[key] = append(m.history[key], op)
	m.mu.Unlock()
}

// maxAcked returns the highest version acknowledged for key.
func (m *crashModel) maxAcked(key string) uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var v uint64
	for _, op := range m.history[key] {
		if op.acked {
			v = max(v, op.version)
		}
	}
	return v
}

func (m *crashModel) keys() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	keys := make([]string, 0, len(m.history))
	for k := range m.history {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// check verifies what s holds for every key. The state must be one op that
// may have applied (crashed: any op not known to have failed before the
// crash; live: the ops that returned success), at a version at least that
// of every op known to have applied: last writer wins, whatever the order
// the ops ran in.
func (m *crashModel) check(s *Store, phase string, live bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for key, ops := range m.history {
		if err := checkKey(s, phase, live, key, ops); err != nil {
			return fmt.Errorf("%w\n%q's ops in return order: %v", err, key, ops)
		}
	}
	return nil
}

// checkKey checks one key against its ops; see check.
func checkKey(s *Store, phase string, live bool, key string, ops []keyOp) error {
	ctx := context.Background()
	var sure uint64 // highest version known to have applied
	var possible []keyOp
	for _, op := range ops {
		applied := op.acked
		if live {
			applied = op.ok
		}
		if applied {
			sure = max(sure, op.version)
		}
		if applied || !live {
			possible = append(possible, op)
		}
	}
	e, found, lerr := s.index.lookup(key)
	if lerr != nil {
		return fmt.Errorf("%s: index lookup %q: %w", phase, key, lerr)
	}
	info, got, err := s.Get(ctx, key)
	switch {
	case err == nil:
		if !found || e.tombstone() || e.version != info.Version {
			return fmt.Errorf("%s: %q: Get returned version %d, the index holds %+v (found %v)", phase, key, info.Version, e, found)
		}
		if info.Version < sure {
			return fmt.Errorf("%s: %q serves version %d (%s), older than version %d that was acknowledged",
				phase, key, info.Version, describe(got), sure)
		}
		match := slices.ContainsFunc(possible, func(op keyOp) bool {
			return !op.del && bytes.Equal(op.value, got) && (op.version == info.Version || (op.version == 0 && !op.ok))
		})
		if !match {
			return fmt.Errorf("%s: %q holds %s at version %d, which is none of the writes allowed here (%d ops)",
				phase, key, describe(got), info.Version, len(ops))
		}
	case errors.Is(err, ErrNotFound):
		if found && !e.tombstone() {
			return fmt.Errorf("%s: %q: Get says not found, the index holds a blob at version %d", phase, key, e.version)
		}
		if found && e.version < sure {
			return fmt.Errorf("%s: %q: deleted at version %d, older than version %d that was acknowledged", phase, key, e.version, sure)
		}
		match := slices.ContainsFunc(possible, func(op keyOp) bool {
			if !op.del {
				return false
			}
			if found {
				return op.version == e.version
			}
			return op.version >= sure
		})
		if !match && (found || sure > 0) {
			return fmt.Errorf("%s: %q is deleted (tombstone %v, version %d) but no delete at or above the acknowledged version %d explains it",
				phase, key, found, e.version, sure)
		}
	default:
		return fmt.Errorf("%s: Get %q: %w", phase, key, err)
	}
	return nil
}

// String lists the ops of the key in the order they returned, for a
// failure message: d/p (delete, put), version, A (acked) or ok or failed.
func (op keyOp) String() string {
	kind := "p"
	if op.del {
		kind = "d"
	}
	end := "failed"
	switch {
	case op.acked:
		end = "A"
	case op.ok:
		end = "ok"
	}
	return fmt.Sprintf("%s%d:%s", kind, op.version, end)
}

// versionSource hands out explicit version stamps near the wall clock,
// some seconds ahead or behind, so explicit versions interleave with the
// store's own and concurrent writers of a key arrive out of version order.
// The low 16 bits carry a sequence number above 0x8000, above the counters
// the store's clock reaches in one millisecond, so stamps seldom collide
// (the check accepts either write of a tie).
type versionSource struct {
	base uint64
	seq  atomic.Uint64
}

func (v *versionSource) next(r *rand.Rand) uint64 {
	jitter := int64(r.IntN(4000) - 2000) // milliseconds
	return uint64(int64(v.base)+jitter<<16) | 0x8000 | (v.seq.Add(1) & 0x7fff)
}

func describe(b []byte) string {
	if b == nil {
		return "nothing"
	}
	return fmt.Sprintf("%d bytes crc %08x", len(b), crc32c(b))
}
