package blockstore

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	bolt "go.etcd.io/bbolt"

	"strata/ioengine/memfs"
)

// TestEmptyOrInterruptedIndexTakesBoundedPath: an index.db that exists but
// knows nothing (0 bytes, or a bbolt file without watermarks) or that a
// rebuild left behind must be rebuilt with the indexer committing while
// the scan runs, so pending entries stay near the backpressure bound
// instead of holding every key at once.
func TestEmptyOrInterruptedIndexTakesBoundedPath(t *testing.T) {
	const keys, limit = 3000, 64
	mfs := memfs.New(memfs.Options{})
	opts := testOptions(t, mfs)
	opts.VolumeSize = 1 << 20 // several volumes
	s := mustOpen(t, opts)
	var wg sync.WaitGroup
	const writers = 8
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < keys; i += writers {
				put(t, s, fmt.Sprintf("key-%05d", i), []byte(fmt.Sprint(i)))
			}
		}()
	}
	wg.Wait()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	indexPath := filepath.Join(opts.IndexDir, IndexFileName)
	good, err := os.ReadFile(indexPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		index func(t *testing.T)
	}{
		{"zero bytes", func(t *testing.T) {
			if err := os.WriteFile(indexPath, nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"bbolt without state", func(t *testing.T) {
			os.Remove(indexPath)
			db, err := bolt.Open(indexPath, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			db.Close()
		}},
		{"interrupted rebuild", func(t *testing.T) {
			// Watermarks say everything is indexed, but the rebuild
			// never got to the keys.
			if err := os.WriteFile(indexPath, good, 0o600); err != nil {
				t.Fatal(err)
			}
			db, err := bolt.Open(indexPath, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			err = db.Update(func(tx *bolt.Tx) error {
				if err := tx.DeleteBucket(bucketKeys); err != nil {
					return err
				}
				if _, err := tx.CreateBucket(bucketKeys); err != nil {
					return err
				}
				return tx.Bucket(bucketMeta).Put(metaRebuilding, []byte{1})
			})
			db.Close()
			if err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.index(t)
			o := opts
			o.IndexQueueLimit = limit
			s := mustOpen(t, o)
			defer s.Close()
			st := s.Stats()
			// The queue may overshoot the limit by one scan batch (the
			// same size), and as much again is in bbolt's transaction.
			if st.PeakPendingKeys > 4*limit {
				t.Fatalf("recovery held %d keys pending at once; bound %d", st.PeakPendingKeys, limit)
			}
			for i := 0; i < keys; i += 97 {
				mustGet(t, s, fmt.Sprintf("key-%05d", i), []byte(fmt.Sprint(i)))
			}
			if marked, err := s.index.rebuildMarked(); err != nil || marked {
				t.Fatalf("rebuild marker left after Open: %v %v", marked, err)
			}
		})
	}
}
