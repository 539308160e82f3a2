package blockstore

import (
	"sync"
	"sync/atomic"

	bolt "go.etcd.io/bbolt"
)

// Lookups read bbolt through a shared read transaction (the snapshot)
// instead of opening one per Get: bbolt's begin and end of a read
// transaction take three locks, which 16 concurrent readers contend on.
//
// The snapshot must never be older than an entry a lookup relies on.
// Lookups check pending first, and the indexer drops an entry from pending
// only after its commit; every bbolt write goes through index.update,
// which retires the snapshot before the write transaction and publishes a
// new one (opened after the commit) once no write is in progress. So a
// lookup that misses pending finds either a snapshot opened after the
// commit that emptied pending, or none, and then opens its own
// transaction as before. Snapshots only move forward (by transaction id).
//
// No snapshot is open while a write transaction runs, so a commit that
// remaps the file (which waits for every read transaction) never waits
// for it; a retired snapshot is rolled back by the last lookup using it.
type lookupSnaps struct {
	cur atomic.Pointer[lookupSnap]

	mu      sync.Mutex // serialises retire and publish
	writers int        // write transactions in progress
	closed  bool
}

type lookupSnap struct {
	tx   *bolt.Tx
	keys *bolt.Bucket
	// refs counts the lookups using the snapshot, plus one while it is
	// published; the one that takes it to zero rolls the transaction back.
	refs atomic.Int64
}

// acquire returns the published snapshot with a reference, or nil.
func (ss *lookupSnaps) acquire() *lookupSnap {
	for {
		sn := ss.cur.Load()
		if sn == nil {
			return nil
		}
		r := sn.refs.Load()
		if r == 0 {
			return nil // retired and rolled back meanwhile
		}
		if sn.refs.CompareAndSwap(r, r+1) {
			return sn
		}
	}
}

func (sn *lookupSnap) release() {
	if sn.refs.Add(-1) == 0 {
		sn.tx.Rollback()
	}
}

// beginWrite retires the snapshot before a write transaction.
func (ss *lookupSnaps) beginWrite() {
	ss.mu.Lock()
	ss.writers++
	old := ss.cur.Swap(nil)
	ss.mu.Unlock()
	if old != nil {
		old.release()
	}
}

// endWrite publishes a snapshot opened now, if no other write is in
// progress and the store is not closing.
func (ss *lookupSnaps) endWrite(db *bolt.DB) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.writers--
	if ss.writers > 0 || ss.closed {
		return
	}
	tx, err := db.Begin(false)
	if err != nil {
		return // lookups open their own transactions
	}
	keys := tx.Bucket(bucketKeys)
	if keys == nil {
		tx.Rollback()
		return
	}
	sn := &lookupSnap{tx: tx, keys: keys}
	sn.refs.Store(1)
	if old := ss.cur.Swap(sn); old != nil {
		old.release()
	}
}

// close retires the snapshot for good (before the database closes).
func (ss *lookupSnaps) close() {
	ss.mu.Lock()
	ss.closed = true
	old := ss.cur.Swap(nil)
	ss.mu.Unlock()
	if old != nil {
		old.release()
	}
}

// update is db.Update for every write of the index: it keeps the lookup
// snapshot from holding a read transaction across the write.
func (ix *index) update(fn func(tx *bolt.Tx) error) error {
	ix.snaps.beginWrite()
	defer ix.snaps.endWrite(ix.db)
	return ix.db.Update(fn)
}
