package blockstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// compactOptions are small volumes (256 KiB) and chunks (16 KiB), so a few
// hundred KiB of writes seal volumes and chunked blobs span them.
func compactOptions(t testing.TB) Options {
	opts := testOptions(t, nil)
	opts.VolumeSize = 256 << 10
	opts.ChunkSize = 16 << 10
	opts.MaxBlobSize = 128 << 10
	opts.MaxBatchBytes = 64 << 10
	opts.IndexMmapSize = 1 << 20
	opts.Compression = CodecNone
	opts.CompactBytesPerSec = -1
	opts.CompactThreshold = DefaultCompactThreshold
	return opts
}

// diskRecord is one record found by walking a volume file.
type diskRecord struct {
	key     string
	version uint64
	flags   uint8
	loc     location
}

// walkVolumes returns every record of every volume file of s, walking the
// groups as written (the test stores have no corruption).
func walkVolumes(t testing.TB, s *Store) []diskRecord {
	t.Helper()
	ctx := context.Background()
	var out []diskRecord
	s.volMu.RLock()
	vols := slices.Collect(maps.Values(s.volumes))
	s.volMu.RUnlock()
	for _, v := range vols {
		if uint8(v.state.Load()) == volCompacted {
			continue
		}
		end := v.end.Load()
		sc := &scanReader{h: v.h, limit: end, align: int64(v.h.Alignment()), window: 1 << 20}
		for p := int64(0); p < end; {
			hb, err := sc.at(ctx, p, recordHeaderLen)
			if err != nil {
				t.Fatal(err)
			}
			h, st, _ := parseHeader(hb)
			if st == headerZero {
				if p%formatAlign == 0 {
					break
				}
				p = alignUp(p, formatAlign)
				continue
			}
			if st != headerValid {
				t.Fatalf("volume %d at %d: bad header", v.id, p)
			}
			rb, err := sc.at(ctx, p, h.recordLen())
			if err != nil {
				t.Fatal(err)
			}
			rec, _, err := decodeRecord(rb)
			if err != nil {
				t.Fatalf("volume %d at %d: %v", v.id, p, err)
			}
			out = append(out, diskRecord{string(rec.key), rec.version, rec.flags, location{v.id, p, int64(h.recordLen())}})
			p = alignUp(p+int64(h.recordLen()), recordAlign)
		}
	}
	return out
}

// neededLocations are the records the committed index needs: each entry's
// record and the chunks of each chunked blob's manifest.
func neededLocations(t testing.TB, s *Store) map[location]bool {
	t.Helper()
	if err := s.index.flush(); err != nil {
		t.Fatal(err)
	}
	need := map[location]bool{}
	var chunked []keyEntry
	err := s.index.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketKeys).ForEach(func(k, v []byte) error {
			e, err := decodeEntry(v)
			if err != nil {
				return err
			}
			need[e.loc] = true
			if e.flags&entryChunked != 0 {
				chunked = append(chunked, keyEntry{string(k), e})
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, ke := range chunked {
		m, err := s.manifestOf(context.Background(), ke.e.info(ke.key))
		if err != nil {
			t.Fatalf("manifest of %q: %v", ke.key, err)
		}
		for _, c := range m.chunks {
			need[c.loc] = true
		}
	}
	return need
}

// liveByWalk is the live bytes of every volume as a walk of the files
// finds them: the bytes of the records the index needs.
func liveByWalk(t testing.TB, s *Store) map[uint32]int64 {
	need := neededLocations(t, s)
	live := map[uint32]int64{}
	for _, r := range walkVolumes(t, s) {
		if need[r.loc] {
			live[r.loc.volume] += r.loc.length
		}
	}
	return live
}

// liveCounted is the index's live bytes of every volume still in use.
func liveCounted(s *Store) map[uint32]int64 {
	live := map[uint32]int64{}
	for _, u := range s.Stats().VolumeUsage {
		if n := s.index.liveOf(u.ID); n != 0 {
			live[u.ID] = n
		}
	}
	return live
}

func garbageCounted(s *Store) map[uint32]int64 {
	g := map[uint32]int64{}
	for _, u := range s.Stats().VolumeUsage {
		if u.Garbage != 0 {
			g[u.ID] = u.Garbage
		}
	}
	return g
}

// checkGarbage compares the index's live bytes per volume with a walk of
// the volume files (garbage is the rest of each volume).
func checkGarbage(t testing.TB, s *Store, when string) {
	t.Helper()
	want := liveByWalk(t, s)
	if got := liveCounted(s); !maps.Equal(got, want) {
		t.Fatalf("%s: live bytes per volume %v, a walk of the volumes finds %v", when, got, want)
	}
}

// TestGarbageAccounting checks the per-volume live bytes kept in the index
// (garbage is the rest of a volume) against a walk of the volume files
// after each kind of op: exactly the records the index needs are counted,
// each in its own volume, and the counts survive a reopen and come out
// the same from a rebuild.
func TestGarbageAccounting(t *testing.T) {
	ctx := context.Background()
	small := bytes.Repeat([]byte("s"), 3000)
	big := bytes.Repeat([]byte("b"), 40<<10) // three chunks
	tests := []struct {
		name string
		ops  func(t *testing.T, s *Store)
		// wantSome: the ops must leave some garbage records (beyond padding).
		wantSome bool
	}{
		{"puts only", func(t *testing.T, s *Store) {
			for i := range 20 {
				put(t, s, fmt.Sprint("k", i), small)
			}
		}, false},
		{"overwrite", func(t *testing.T, s *Store) {
			put(t, s, "a", small)
			put(t, s, "a", small[:100])
		}, true},
		{"overwrite across a seal", func(t *testing.T, s *Store) {
			for i := range 120 {
				put(t, s, fmt.Sprint("k", i%40), small)
			}
		}, true},
		{"delete", func(t *testing.T, s *Store) {
			put(t, s, "a", small)
			if err := s.Delete(ctx, "a", DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"delete then put", func(t *testing.T, s *Store) {
			put(t, s, "a", small)
			if err := s.Delete(ctx, "a", DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
			put(t, s, "a", small)
		}, true},
		{"older version loses", func(t *testing.T, s *Store) {
			v := s.NextVersion()
			if _, err := s.Put(ctx, "a", bytes.NewReader(small), int64(len(small)), PutOptions{Version: v + 10}); err != nil {
				t.Fatal(err)
			}
			// Skips the write: nothing to count.
			if _, err := s.Put(ctx, "a", bytes.NewReader(small), int64(len(small)), PutOptions{Version: v}); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"drop", func(t *testing.T, s *Store) {
			info := put(t, s, "a", small)
			if err := s.Drop(ctx, "a", info.Version); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"chunked overwrite", func(t *testing.T, s *Store) {
			put(t, s, "big", big)
			put(t, s, "big", big[:20<<10])
		}, true},
		{"chunked delete", func(t *testing.T, s *Store) {
			put(t, s, "big", big)
			if err := s.Delete(ctx, "big", DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"chunked drop", func(t *testing.T, s *Store) {
			info := put(t, s, "big", big)
			if err := s.Drop(ctx, "big", info.Version); err != nil {
				t.Fatal(err)
			}
		}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := compactOptions(t)
			s := mustOpen(t, opts)
			tc.ops(t, s)
			checkGarbage(t, s, "after the ops")
			var records int64
			for _, r := range walkVolumes(t, s) {
				records += r.loc.length
			}
			var live int64
			for _, n := range liveCounted(s) {
				live += n
			}
			if some := live < records; some != tc.wantSome {
				t.Fatalf("live %d of %d record bytes; want garbage records: %v", live, records, tc.wantSome)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = mustOpen(t, opts)
			checkGarbage(t, s, "after a reopen")
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(filepath.Join(opts.IndexDir, IndexFileName)); err != nil {
				t.Fatal(err)
			}
			s = mustOpen(t, opts)
			defer s.Close()
			if !tc.wantSome || !slices.Contains([]string{"drop", "chunked drop"}, tc.name) {
				// A rebuild brings dropped records back (documented).
				checkGarbage(t, s, "after a rebuild")
			}
		})
	}
}

// TestGarbageStats checks the per-volume and per-disk figures Stats
// derives from the counts.
func TestGarbageStats(t *testing.T) {
	opts := compactOptions(t)
	opts.DataDirs = []string{"/data0", "/data1"}
	s := mustOpen(t, opts)
	defer s.Close()
	small := bytes.Repeat([]byte("s"), 3000)
	for i := range 200 {
		put(t, s, fmt.Sprint("k", i%50), small)
	}
	checkGarbage(t, s, "after overwrites")
	st := s.Stats()
	var sum DiskUsage
	for _, u := range st.VolumeUsage {
		if u.Live+u.Garbage != u.Bytes || u.Bytes <= 0 {
			t.Errorf("volume %d: live %d + garbage %d != bytes %d", u.ID, u.Live, u.Garbage, u.Bytes)
		}
		if want := float64(u.Garbage) / float64(u.Bytes); u.GarbageRatio != want {
			t.Errorf("volume %d: ratio %v, want %v", u.ID, u.GarbageRatio, want)
		}
		sum.Bytes += u.Bytes
		sum.Garbage += u.Garbage
		sum.Volumes++
	}
	var disks DiskUsage
	for _, d := range st.DiskUsage {
		disks.Bytes += d.Bytes
		disks.Garbage += d.Garbage
		disks.Volumes += d.Volumes
		if d.DiskID == "" || d.Dir == "" {
			t.Errorf("disk %+v: no id or directory", d)
		}
	}
	if disks.Bytes != sum.Bytes || disks.Garbage != sum.Garbage || disks.Volumes != sum.Volumes || sum.Garbage == 0 {
		t.Errorf("disks sum to %+v, volumes to %+v (want equal, with garbage)", disks, sum)
	}
}

// TestEntryTailRoundTrip checks the format-2 index entry (shadow, chunk
// spans, manifest generation) decodes to what was encoded, and that an
// entry without a tail stays format 1.
func TestEntryTailRoundTrip(t *testing.T) {
	tails := []entryTail{
		{},
		{shadow: []uint32{3}},
		{shadow: []uint32{shadowUnknown}},
		{spans: []volBytes{{1, 100}, {7, 1 << 40}}},
		{shadow: []uint32{1, 2}, spans: []volBytes{{2, 5}}, gen: 3},
		{gen: 1},
	}
	for _, tl := range tails {
		e := indexEntry{flags: entryChunked, loc: location{4, 8192, 300}, size: 1 << 20, version: 77 << 16, checksum: 9, chunkSize: 1 << 16, contentType: "a/b", tail: tl.encode()}
		b := e.encode(nil)
		if (tl.encode() == "") != (b[0] == entryFormat) {
			t.Errorf("tail %+v: format %d", tl, b[0])
		}
		got, err := decodeEntry(b)
		if err != nil || got != e {
			t.Fatalf("tail %+v: decoded %+v, %v; want %+v", tl, got, err, e)
		}
		dt, err := decodeTail(got.tail)
		if err != nil || !slices.Equal(dt.shadow, tl.shadow) || !slices.Equal(dt.spans, tl.spans) || dt.gen != tl.gen {
			t.Fatalf("tail %+v: decoded %+v, %v", tl, dt, err)
		}
	}
	if _, err := decodeTail("\x05"); !errors.Is(err, ErrCorrupt) {
		t.Errorf("short tail: %v, want ErrCorrupt", err)
	}
}

func FuzzDecodeEntryTail(f *testing.F) {
	f.Add(entryTail{shadow: []uint32{1, 2}, spans: []volBytes{{2, 5}}, gen: 3}.encode())
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		tl, err := decodeTail(s)
		if err != nil {
			return
		}
		if _, err := decodeTail(tl.encode()); err != nil {
			t.Fatalf("re-encoded tail does not decode: %v", err)
		}
	})
}
