package blockstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"strata/ioengine/memfs"
)

// TestCorruptNewestRecordDoesNotRollBack flips a bit in a key's newest
// record (a blob's payload, or a tombstone's checksum) and checks that
// after recovery finds it the key answers ErrCorrupt, never the older
// version or a deleted key come back: in the middle and at the end of a
// volume, with the index watermark before the record and with index.db
// removed; then after the corrupt entry reaches bbolt and another reopen;
// and that a newer write replaces it.
func TestCorruptNewestRecordDoesNotRollBack(t *testing.T) {
	for _, newest := range []string{"blob", "tombstone", "tombstone key"} {
		for _, where := range []string{"middle", "end"} {
			for _, index := range []string{"watermark", "rebuild"} {
				t.Run(newest+"/"+where+"/"+index, func(t *testing.T) {
					testCorruptNewest(t, newest, where, index)
				})
			}
		}
	}
}

func testCorruptNewest(t *testing.T, newest, where, index string) {
	ctx := context.Background()
	mfs := memfs.New(memfs.Options{})
	opts := testOptions(t, mfs)
	s := mustOpen(t, opts)
	r := newRand(7)
	others := map[string][]byte{}
	for i := range 5 {
		k := fmt.Sprintf("before/%d", i)
		others[k] = randBytes(r, 3000)
		put(t, s, k, others[k])
	}
	put(t, s, "k", randBytes(r, 5000)) // the version a rollback would serve
	if err := s.index.flush(); err != nil {
		t.Fatal(err)
	}
	reopen := opts
	if index == "watermark" {
		reopen.IndexDir = t.TempDir()
		copyIndex(t, s, reopen.IndexDir) // recovery rescans the newest record
	}
	var flipAt int64
	var version uint64
	if newest == "blob" {
		info := put(t, s, "k", randBytes(r, 5000))
		flipAt, version = info.loc.offset+int64(recordHeaderLen+len("k")+30), info.Version
	} else {
		if err := s.Delete(ctx, "k", DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		e, _, err := s.index.lookup("k")
		if err != nil || !e.tombstone() {
			t.Fatalf("tombstone entry %+v: %v", e, err)
		}
		// The last byte of its body checksum, or the key itself ("k"
		// would read as "{", another valid key).
		flipAt, version = e.loc.offset+e.loc.length-1, e.version
		if newest == "tombstone key" {
			flipAt = e.loc.offset + recordHeaderLen
		}
	}
	if where == "middle" {
		for i := range 5 {
			k := fmt.Sprintf("after/%d", i)
			others[k] = randBytes(r, 3000)
			put(t, s, k, others[k])
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	f := volumeFile(t, mfs, "/data0", 1)
	pokeFile(t, f, flipAt, func(b []byte) []byte { b[flipAt%4096] ^= 0x10; return b })
	f.Close()
	if index == "rebuild" {
		if err := os.Remove(filepath.Join(opts.IndexDir, IndexFileName)); err != nil {
			t.Fatal(err)
		}
	}

	check := func(s *Store, when string) {
		t.Helper()
		if _, err := s.Stat(ctx, "k"); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("%s: Stat of the key whose newest record is corrupt: %v, want ErrCorrupt", when, err)
		}
		if _, data, err := s.Get(ctx, "k"); !errors.Is(err, ErrCorrupt) || data != nil {
			t.Fatalf("%s: Get: %v with %d bytes, want ErrCorrupt", when, err, len(data))
		}
		list, err := s.List(ctx, "", "", 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range list {
			if in.Key == "k" {
				t.Fatalf("%s: List shows the corrupt key", when)
			}
		}
		if _, err := s.Stat(ctx, "{"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("%s: the key a flipped bit spells is indexed: %v", when, err)
		}
		if len(list) != len(others) {
			t.Fatalf("%s: List has %d keys, want %d", when, len(list), len(others))
		}
		for k, v := range others {
			mustGet(t, s, k, v)
		}
	}
	s = mustOpen(t, reopen)
	if c := s.Stats().Corruptions; c == 0 {
		t.Fatal("corruption counter is 0 after recovery found a corrupt record")
	}
	if tt := s.Stats().TornTails; tt != 0 {
		t.Fatalf("corrupt record counted as %d torn tails", tt)
	}
	check(s, "after recovery")
	if err := s.index.flush(); err != nil {
		t.Fatal(err)
	}
	check(s, "once committed")
	if n := s.Stats().LiveKeys; n != int64(len(others)) {
		t.Fatalf("live keys %d, want %d (a corrupt key is not live)", n, len(others))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, reopen)
	defer s.Close()
	check(s, "after another reopen")

	// A write older than the corrupt version loses; one at the same
	// version (a repair) or newer replaces it.
	old := []byte("older")
	if _, err := s.Put(ctx, "k", bytes.NewReader(old), int64(len(old)), PutOptions{Version: version - 1}); err != nil {
		t.Fatal(err)
	}
	check(s, "after an older put")
	fresh := []byte("repaired")
	info, err := s.Put(ctx, "k", bytes.NewReader(fresh), int64(len(fresh)), PutOptions{Version: version})
	if err != nil {
		t.Fatal(err)
	}
	if info.Version != version {
		t.Fatalf("repair at v%d answered v%d", version, info.Version)
	}
	mustGet(t, s, "k", fresh)
	info = put(t, s, "k", []byte("newest"))
	if info.Version <= version {
		t.Fatalf("new version %d not above the corrupt one %d", info.Version, version)
	}
	mustGet(t, s, "k", []byte("newest"))
}

// TestDamagedRecordTornOrCorrupt pins how recovery classifies a record
// whose header decodes but whose body does not: torn only when it has a
// sector that reads as zero (what an unwritten part looks like) and lies
// in the last groups of the volume; corrupt otherwise.
func TestDamagedRecordTornOrCorrupt(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		zeroPages bool // the damaged record has an all-zero sector
		later     int  // bytes written after it
		wantTorn  bool
	}{
		{"flipped bit at the end", false, 0, false},
		{"zero sector at the end", true, 0, true},
		{"zero sector followed by one more group", true, 64 << 10, true},
		{"zero sector in an acknowledged group", true, 2 << 20, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mfs := memfs.New(memfs.Options{})
			opts := testOptions(t, mfs)
			s := mustOpen(t, opts)
			r := newRand(3)
			put(t, s, "k", []byte("previous"))
			if err := s.index.flush(); err != nil {
				t.Fatal(err)
			}
			reopen := opts
			reopen.IndexDir = t.TempDir()
			copyIndex(t, s, reopen.IndexDir)
			value := randBytes(r, 20000)
			info := put(t, s, "k", value)
			flipAt := info.loc.offset + int64(recordHeaderLen+len("k")+100)
			for i := 0; i < tc.later; i += 40000 {
				put(t, s, fmt.Sprintf("later/%d", i), randBytes(r, 40000))
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			f := volumeFile(t, mfs, "/data0", 1)
			pokeFile(t, f, flipAt, func(b []byte) []byte { b[flipAt%4096] ^= 1; return b })
			if tc.zeroPages {
				// What a lost page of the record looks like: zeros.
				zeroAt := alignUp(info.loc.offset+8192, 4096)
				pokeFile(t, f, zeroAt, func(b []byte) []byte { clear(b[:4096]); return b })
			}
			f.Close()

			s = mustOpen(t, reopen)
			defer s.Close()
			st := s.Stats()
			_, err := s.Stat(ctx, "k")
			if tc.wantTorn {
				// An unacknowledged write that did not make it: the key
				// keeps its previous version.
				if err != nil || st.TornTails == 0 || st.Corruptions != 0 {
					t.Fatalf("torn: Stat %v, torn tails %d, corruptions %d", err, st.TornTails, st.Corruptions)
				}
				mustGet(t, s, "k", []byte("previous"))
				if v := put(t, s, "new", []byte("n")); v.loc.volume == 1 {
					t.Fatal("appended to a volume after a torn record")
				}
				return
			}
			if !errors.Is(err, ErrCorrupt) || st.Corruptions == 0 {
				t.Fatalf("corrupt: Stat %v, corruptions %d, want ErrCorrupt", err, st.Corruptions)
			}
		})
	}
}

// TestRebuildKeepsCorruptionInSealedVolumes: a rebuild knows no volume's
// state, but only a directory's newest volumes (and volumes still at their
// preallocated size) can end in unacknowledged groups. A damaged record
// that happens to hold an all-zero sector, in a sealed and trimmed volume
// with newer volumes after it, is corruption: the key must answer
// ErrCorrupt, not go back to its older version.
func TestRebuildKeepsCorruptionInSealedVolumes(t *testing.T) {
	ctx := context.Background()
	mfs := memfs.New(memfs.Options{})
	opts := testOptions(t, mfs)
	s := mustOpen(t, opts)
	r := newRand(11)
	put(t, s, "k", []byte("the older version a rollback would serve"))
	filler := 0
	fill := func() location {
		filler++
		return put(t, s, fmt.Sprintf("filler/%04d", filler), randBytes(r, 60<<10)).loc
	}
	// Up to the last scan window of volume 1 (its end is about
	// VolumeSize less the tombstone reserve), where a damaged record has
	// no valid record a window beyond it.
	for loc := fill(); loc.volume == 1 && loc.offset < opts.VolumeSize*13/16; loc = fill() {
	}
	// Incompressible but for a few zero sectors, so it is stored raw and a
	// sector of it reads as all zero, as an unwritten one would.
	payload := randBytes(r, 32<<10)
	clear(payload[8<<10 : 10<<10])
	info := put(t, s, "k", payload)
	if info.loc.volume != 1 {
		t.Fatalf("newest record in volume %d, want 1", info.loc.volume)
	}
	for loc := fill(); loc.volume < 4; loc = fill() {
		if filler > 1000 {
			t.Fatal("no fourth volume after 1000 fillers")
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	flipAt := info.loc.offset + int64(recordHeaderLen+len("k")) + 100
	f := volumeFile(t, mfs, "/data0", 1)
	pokeFile(t, f, flipAt, func(b []byte) []byte { b[flipAt%4096] ^= 0x01; return b })
	f.Close()
	if err := os.Remove(filepath.Join(opts.IndexDir, IndexFileName)); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, opts)
	defer s.Close()
	if _, err := s.Stat(ctx, "k"); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("after a rebuild, Stat of the key whose newest record is corrupt: %v, want ErrCorrupt", err)
	}
	if st := s.Stats(); st.Corruptions == 0 || st.TornTails != 0 {
		t.Fatalf("corruptions %d, torn tails %d: want the damaged record counted as corruption", st.Corruptions, st.TornTails)
	}
}
