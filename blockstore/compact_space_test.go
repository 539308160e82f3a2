package blockstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"strata/ioengine/memfs"
)

// fillWithGarbage puts, until a Put answers ErrNoSpace, one record that
// stays live for every three overwrites of a few hot keys, so every
// sealed volume is about three quarters garbage yet holds live records
// compaction must copy. It returns the live values.
func fillWithGarbage(t *testing.T, s *Store) map[string][]byte {
	t.Helper()
	ctx := context.Background()
	live := map[string][]byte{}
	r := newRand(9)
	for i := 0; ; i++ {
		key := fmt.Sprintf("hot-%d", i%4)
		if i%4 == 0 {
			key = fmt.Sprintf("live-%04d", i/4)
		}
		v := randBytes(r, 4000)
		_, err := s.Put(ctx, key, bytes.NewReader(v), int64(len(v)), PutOptions{})
		if errors.Is(err, ErrNoSpace) {
			if i < 100 {
				t.Fatalf("ErrNoSpace after only %d puts", i)
			}
			return live
		}
		if err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
		live[key] = v
		if i > 100000 {
			t.Fatal("the disk never filled")
		}
	}
}

// TestFullDiskCompaction fills a disk with overwrites until puts answer
// ErrNoSpace: deletes still work, and because puts never made a volume in
// the space reserve, a compaction pass can make the one its copies go to,
// reclaims the garbage, and puts work again. Without a space reserve the
// same disk fills completely and compaction cannot move the live records.
func TestFullDiskCompaction(t *testing.T) {
	for _, tc := range []struct {
		name    string
		reserve int64
		reclaim bool
		race    bool // puts keep trying while the pass runs (groups mixing copies and puts)
	}{
		{"default reserve", 0, true, false},
		{"default reserve, puts racing", 0, true, true},
		{"no reserve", -1, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			opts := compactOptions(t)
			mfs := memfs.New(memfs.Options{FreeBytes: 6*opts.VolumeSize + 64<<10})
			opts.FS = mfs
			opts.SpaceReserve = tc.reserve
			s := mustOpen(t, opts)
			defer s.Close()
			live := fillWithGarbage(t, s)
			if err := s.Writable(); !errors.Is(err, ErrNoSpace) {
				t.Fatalf("Writable on a full disk: %v", err)
			}
			if err := s.Delete(ctx, "live-0000", DeleteOptions{}); err != nil {
				t.Fatalf("Delete on a full disk: %v", err)
			}
			delete(live, "live-0000")
			if len(sealedVolumesOver(s, opts.CompactThreshold)) < 3 {
				t.Fatalf("only %v volumes to compact", sealedVolumesOver(s, opts.CompactThreshold))
			}
			stop := make(chan struct{})
			racing := make(chan error, 1)
			go func() {
				if !tc.race {
					racing <- nil
					return
				}
				v := randBytes(newRand(5), 4000)
				for i := 0; ; i++ {
					select {
					case <-stop:
						racing <- nil
						return
					default:
					}
					_, err := s.Put(ctx, fmt.Sprint("race-", i%8), bytes.NewReader(v), int64(len(v)), PutOptions{})
					if err != nil && !errors.Is(err, ErrNoSpace) {
						racing <- err
						return
					}
				}
			}()
			rep, err := s.Compact(ctx)
			close(stop)
			if rerr := <-racing; rerr != nil {
				t.Fatalf("a put racing compaction on a full disk: %v", rerr)
			}
			if !tc.reclaim {
				if err == nil && len(rep.Failed) == 0 && len(rep.Volumes) > 0 && s.Writable() == nil {
					t.Fatalf("without a reserve a full disk still compacted: %+v; the test no longer shows what the reserve is for", rep)
				}
				return
			}
			if err != nil || len(rep.Volumes) == 0 || len(rep.Failed) != 0 || rep.RecordsCopied == 0 {
				t.Fatalf("compaction on a full disk: %+v, %v", rep, err)
			}
			if tc.race {
				// The racing puts may have taken the reclaimed room
				// again; what matters is that the pass completed.
				for k, v := range live {
					mustGet(t, s, k, v)
				}
				return
			}
			if err := s.Writable(); err != nil {
				t.Fatalf("Writable after compaction: %v", err)
			}
			for k, v := range live {
				mustGet(t, s, k, v)
			}
			if _, err := s.Stat(ctx, "live-0000"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("deleted key back: %v", err)
			}
			for i := range 20 {
				put(t, s, fmt.Sprint("after-", i), randBytes(newRand(uint64(i)), 4000))
			}
		})
	}
}
