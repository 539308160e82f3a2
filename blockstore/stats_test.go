package blockstore

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestStatsLiveKeysAndBytes checks the live key and byte counts behind the
// HDD tier's items and bytes on /metrics: puts, overwrites and deletes move
// them, a reopen keeps them, an index without them counts them at open,
// and a rebuild from the volumes finds them again.
func TestStatsLiveKeysAndBytes(t *testing.T) {
	opts := testOptions(t, nil)
	s := mustOpen(t, opts)
	put(t, s, "a", make([]byte, 100))
	put(t, s, "b", make([]byte, 200))
	put(t, s, "c", make([]byte, 300))
	put(t, s, "b", make([]byte, 250)) // overwrite: one key, new size
	if err := s.Delete(context.Background(), "c", DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	put(t, s, "big", make([]byte, 3*opts.ChunkSize+5)) // chunked: one key
	const wantKeys, wantBytes = 3, 100 + 250 + 3*64<<10 + 5
	check := func(when string, s *Store) {
		t.Helper()
		if err := s.index.flush(); err != nil {
			t.Fatal(err)
		}
		if st := s.Stats(); st.LiveKeys != wantKeys || st.LiveBytes != wantBytes {
			t.Errorf("%s: %d live keys, %d live bytes; want %d, %d", when, st.LiveKeys, st.LiveBytes, wantKeys, wantBytes)
		}
	}
	check("after writes", s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, opts)
	check("after reopen", s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// An index written before the counts were kept: they are counted at open.
	db, err := bolt.Open(filepath.Join(opts.IndexDir, IndexFileName), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		mb := tx.Bucket(bucketMeta)
		return errors.Join(mb.Delete(metaLiveKeys), mb.Delete(metaLiveBytes))
	})
	if err := errors.Join(err, db.Close()); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, opts)
	check("after reopening an index without counts", s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(opts.IndexDir, IndexFileName)); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, opts)
	defer s.Close()
	check("after a rebuild", s)
}
