package blockstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"strata/internal/poll"
	"strata/ioengine"
	"strata/ioengine/memfs"
)

// blobModel is what every key must read as: a value, or deleted (nil).
type blobModel struct {
	value   map[string][]byte
	version map[string]uint64
}

func newBlobModel() *blobModel {
	return &blobModel{value: map[string][]byte{}, version: map[string]uint64{}}
}

func (m *blobModel) put(t testing.TB, s *Store, key string, v []byte) {
	t.Helper()
	info := put(t, s, key, v)
	m.value[key], m.version[key] = v, info.Version
}

func (m *blobModel) del(t testing.TB, s *Store, key string) {
	t.Helper()
	if err := s.Delete(context.Background(), key, DeleteOptions{}); err != nil {
		t.Fatalf("Delete %q: %v", key, err)
	}
	m.value[key], m.version[key] = nil, 0
}

// check reads every key of the model from s: the value at its version, or
// not found. Stat, Get and Lookup must agree on the version.
func (m *blobModel) check(s *Store, when string) error {
	ctx := context.Background()
	for _, key := range slices.Sorted(func(yield func(string) bool) {
		for k := range m.value {
			if !yield(k) {
				return
			}
		}
	}) {
		want := m.value[key]
		info, got, err := s.Get(ctx, key)
		if want == nil {
			if !errors.Is(err, ErrNotFound) {
				return fmt.Errorf("%s: Get %q of a deleted key: %v, want ErrNotFound", when, key, err)
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("%s: Get %q: %w", when, key, err)
		}
		if !bytes.Equal(got, want) || info.Version != m.version[key] {
			return fmt.Errorf("%s: Get %q: %d bytes at version %d, want %d bytes at version %d", when, key, len(got), info.Version, len(want), m.version[key])
		}
		e, err := s.Lookup(ctx, key)
		if err != nil || e.Version != info.Version || e.Deleted {
			return fmt.Errorf("%s: Lookup %q: %+v, %v; Get read version %d", when, key, e, err, info.Version)
		}
	}
	return nil
}

// garbageState writes a store with sealed volumes that are mostly garbage:
// a few chunked blobs and small blobs, tombstones, and many overwrites.
func garbageState(t testing.TB, s *Store, m *blobModel, r *rand.Rand) {
	for i := range 3 {
		m.put(t, s, fmt.Sprint("big", i), randBytes(r, 20<<10+i*9000))
	}
	for i := range 30 {
		m.put(t, s, fmt.Sprint("k", i), randBytes(r, 500+r.IntN(3000)))
	}
	for i := range 5 {
		m.del(t, s, fmt.Sprint("k", i))
	}
	for round := range 12 {
		for i := 10; i < 30; i++ {
			m.put(t, s, fmt.Sprint("k", i), randBytes(r, 500+r.IntN(3000)))
		}
		switch round {
		case 2:
			m.put(t, s, "big1", randBytes(r, 30<<10))
		case 4:
			// Tombstones next to the records they delete, in a volume
			// of garbage: past the grace, compaction may drop them.
			for i := range 4 {
				m.put(t, s, fmt.Sprint("gone", i), randBytes(r, 1000))
				m.del(t, s, fmt.Sprint("gone", i))
			}
		}
	}
}

// sealedVolumesOver are the ids of sealed volumes at or above the ratio.
func sealedVolumesOver(s *Store, min float64) []uint32 {
	var out []uint32
	for _, u := range s.Stats().VolumeUsage {
		if u.Sealed && u.GarbageRatio >= min {
			out = append(out, u.ID)
		}
	}
	return out
}

// TestCompactReclaimsAndKeepsData compacts volumes full of overwritten and
// deleted records: the volumes go (files removed), every key reads as
// before, at its version, from the store, after a reopen and after a
// rebuild; the accounting matches a walk of the files; fsck is clean; the
// reads went at background priority.
func TestCompactReclaimsAndKeepsData(t *testing.T) {
	ctx := context.Background()
	opts := compactOptions(t)
	s := mustOpen(t, opts)
	m := newBlobModel()
	garbageState(t, s, m, rand.New(rand.NewPCG(1, 1)))
	checkGarbage(t, s, "before compaction")
	cands := sealedVolumesOver(s, opts.CompactThreshold)
	if len(cands) == 0 {
		t.Fatal("no volume to compact: the test state is too small")
	}
	// An Info taken before the switch still reads its bytes after it.
	var stale Info
	for key, v := range m.value {
		if e, ok, _ := s.index.lookup(key); ok && v != nil && e.flags&entryChunked == 0 && slices.Contains(cands, e.loc.volume) {
			stale = e.info(key)
			break
		}
	}
	before := s.Devices()[0].Classes
	rep, err := s.Compact(ctx)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(rep.Volumes)
	if !slices.Equal(rep.Volumes, cands) || len(rep.Failed) != 0 || rep.BytesReclaimed == 0 || rep.ManifestsRewritten == 0 {
		t.Fatalf("report %+v; want volumes %v compacted, a manifest rewritten", rep, cands)
	}
	after := s.Devices()[0].Classes
	if got := after[ioengine.ClassBackground].ReadBytes - before[ioengine.ClassBackground].ReadBytes; got < uint64(rep.BytesCopied) {
		t.Errorf("background reads %d bytes, copied %d", got, rep.BytesCopied)
	}
	if n := after[ioengine.ClassRead].ReadOps - before[ioengine.ClassRead].ReadOps; n != 0 {
		t.Errorf("compaction made %d reads at foreground priority", n)
	}
	for _, id := range rep.Volumes {
		if _, err := opts.FS.Stat(filepath.Join(opts.DataDirs[0], volumeFileName(id))); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("volume %d still on disk: %v", id, err)
		}
	}
	if left := sealedVolumesOver(s, opts.CompactThreshold); len(left) != 0 {
		t.Errorf("volumes %v still over the threshold", left)
	}
	if got, err := s.ReadChunk(ctx, stale, 0); err != nil || !bytes.Equal(got, m.value[stale.Key]) {
		t.Errorf("ReadChunk of an Info from before compaction (volume %d): %d bytes, %v", stale.loc.volume, len(got), err)
	}
	if err := m.check(s, "after compaction"); err != nil {
		t.Fatal(err)
	}
	checkGarbage(t, s, "after compaction")
	if st := s.Stats().Compaction; st.VolumesCompacted != uint64(len(rep.Volumes)) || st.BytesCopied != uint64(rep.BytesCopied) || st.Passes != 1 {
		t.Errorf("Stats.Compaction %+v, report %+v", st, rep)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if cr, err := Check(ctx, opts, CheckOptions{}); err != nil || !cr.Clean() {
		t.Fatalf("fsck after compaction: %v, %+v", err, cr.Problems)
	}
	s = mustOpen(t, opts)
	if err := m.check(s, "after a reopen"); err != nil {
		t.Fatal(err)
	}
	checkGarbage(t, s, "after a reopen")
	s.Close()
	if err := os.Remove(filepath.Join(opts.IndexDir, IndexFileName)); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, opts)
	defer s.Close()
	if err := m.check(s, "after a rebuild"); err != nil {
		t.Fatal(err)
	}
	checkGarbage(t, s, "after a rebuild")
}

// TestCompactConcurrentWriteWins overwrites, deletes and drops keys whose
// records are being moved, after their copies are written and before the
// switch: the writes win and the copies count as garbage.
func TestCompactConcurrentWriteWins(t *testing.T) {
	ctx := context.Background()
	opts := compactOptions(t)
	s := mustOpen(t, opts)
	defer s.Close()
	m := newBlobModel()
	garbageState(t, s, m, rand.New(rand.NewPCG(2, 2)))
	var moving []string // live keys whose records are being moved
	s.compaction.step = func(what string, vol uint32) {
		if what != "copies committed" || moving != nil {
			return
		}
		for _, key := range slices.Sorted(maps.Keys(m.value)) {
			if e, ok, _ := s.index.lookup(key); ok && e.live() && e.loc.volume == vol && e.flags&entryChunked == 0 {
				moving = append(moving, key)
			}
		}
		if len(moving) < 3 {
			moving = nil // the next volume's switch
			return
		}
		m.put(t, s, moving[0], []byte("newer"))
		m.del(t, s, moving[1])
		e, _, _ := s.index.lookup(moving[2])
		if err := s.Drop(ctx, moving[2], e.version); err != nil {
			t.Error(err)
		}
		delete(m.value, moving[2])
		if err := s.index.flush(); err != nil {
			t.Error(err)
		}
	}
	rep, err := s.Compact(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if moving == nil {
		t.Fatal("no volume with three live keys was compacted")
	}
	if rep.Lost < 3 {
		t.Errorf("%d copies lost; want at least the 3 keys written meanwhile", rep.Lost)
	}
	if err := m.check(s, "after compaction"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Lookup(ctx, moving[2]); !errors.Is(err, ErrNotFound) {
		t.Errorf("dropped key %q: %v, want no entry", moving[2], err)
	}
	checkGarbage(t, s, "after compaction")
}

// tombstoneClock is a settable clock for tombstone grace tests.
type tombstoneClock struct{ t time.Time }

func (c *tombstoneClock) now() time.Time { return c.t }

// TestTombstoneExpiry checks when compaction drops a tombstone: only past
// the grace, when the hook agrees, and when no older record of its key is
// left in a volume that stays. Every case then rebuilds the index from the
// volumes: a deleted key must never come back.
func TestTombstoneExpiry(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		// olderElsewhere: the key's older record is in a volume of live
		// data that compaction keeps.
		olderElsewhere bool
		// dropFirst: Drop forgot the key before it was deleted, so its
		// older records are in the volumes unnamed.
		dropFirst   bool
		advance     time.Duration
		hook        func(context.Context, Entry) bool
		wantDropped bool
	}{
		{name: "past grace", advance: 2 * time.Hour, wantDropped: true},
		{name: "within grace", advance: 30 * time.Minute},
		{name: "hook refuses", advance: 2 * time.Hour, hook: func(context.Context, Entry) bool { return false }},
		{name: "hook agrees", advance: 2 * time.Hour, hook: func(_ context.Context, e Entry) bool { return e.Deleted && e.Key == "gone" }, wantDropped: true},
		{name: "older record in a kept volume", olderElsewhere: true, advance: 2 * time.Hour},
		{name: "dropped before", dropFirst: true, advance: 2 * time.Hour},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := &tombstoneClock{t: time.Now()}
			opts := compactOptions(t)
			opts.Now = clock.now
			opts.TombstoneGrace = time.Hour
			opts.TombstoneDroppable = tc.hook
			s := mustOpen(t, opts)
			m := newBlobModel()
			r := rand.New(rand.NewPCG(3, 3))
			if tc.olderElsewhere {
				m.put(t, s, "gone", randBytes(r, 3000))
				for i := range 100 { // a volume of live data
					m.put(t, s, fmt.Sprint("keep", i), randBytes(r, 3000))
				}
			}
			for i := range 20 {
				m.put(t, s, fmt.Sprint("churn", i), randBytes(r, 3000))
			}
			if !tc.olderElsewhere {
				m.put(t, s, "gone", randBytes(r, 3000))
			}
			if tc.dropFirst {
				if err := s.Drop(ctx, "gone", m.version["gone"]); err != nil {
					t.Fatal(err)
				}
				if err := s.index.flush(); err != nil {
					t.Fatal(err)
				}
				if err := s.Delete(ctx, "gone", DeleteOptions{Version: s.NextVersion()}); !errors.Is(err, ErrNotFound) {
					t.Fatalf("versioned delete of a dropped key: %v, want ErrNotFound (a tombstone written)", err)
				}
				m.value["gone"] = nil
			} else {
				m.del(t, s, "gone")
			}
			goneAt, _, _ := s.index.lookup("gone")
			for range 8 {
				for i := range 20 {
					m.put(t, s, fmt.Sprint("churn", i), randBytes(r, 3000))
				}
			}
			clock.t = clock.t.Add(tc.advance)
			if !slices.Contains(sealedVolumesOver(s, opts.CompactThreshold), goneAt.loc.volume) {
				t.Fatalf("the tombstone's volume %d is not a candidate: %+v", goneAt.loc.volume, s.Stats().VolumeUsage)
			}
			rep, err := s.Compact(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(rep.Volumes, goneAt.loc.volume) {
				t.Fatalf("volume %d not compacted: %+v", goneAt.loc.volume, rep)
			}
			_, err = s.Lookup(ctx, "gone")
			if dropped := errors.Is(err, ErrNotFound); dropped != tc.wantDropped || (rep.TombstonesDropped == 1) != tc.wantDropped {
				t.Fatalf("tombstone dropped: %v (Lookup: %v, report %+v), want %v", dropped, err, rep, tc.wantDropped)
			}
			if err := m.check(s, "after compaction"); err != nil {
				t.Fatal(err)
			}
			checkGarbage(t, s, "after compaction")
			s.Close()
			if err := os.Remove(filepath.Join(opts.IndexDir, IndexFileName)); err != nil {
				t.Fatal(err)
			}
			s = mustOpen(t, opts)
			defer s.Close()
			if err := m.check(s, "after a rebuild"); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestTombstoneExpiryOldIndex: an index without complete shadows (made
// before they were kept) never drops a tombstone.
func TestTombstoneExpiryOldIndex(t *testing.T) {
	clock := &tombstoneClock{t: time.Now()}
	opts := compactOptions(t)
	opts.Now = clock.now
	opts.TombstoneGrace = time.Hour
	s := mustOpen(t, opts)
	defer s.Close()
	m := newBlobModel()
	r := rand.New(rand.NewPCG(4, 4))
	m.put(t, s, "gone", randBytes(r, 3000))
	m.del(t, s, "gone")
	for range 8 {
		for i := range 20 {
			m.put(t, s, fmt.Sprint("churn", i), randBytes(r, 3000))
		}
	}
	clock.t = clock.t.Add(2 * time.Hour)
	s.index.garbage.mu.Lock()
	s.index.garbage.shadows = false
	s.index.garbage.mu.Unlock()
	rep, err := s.Compact(context.Background())
	if err != nil || rep.TombstonesDropped != 0 || len(rep.Volumes) == 0 {
		t.Fatalf("report %+v, %v: want volumes compacted and no tombstone dropped", rep, err)
	}
	if e, err := s.Lookup(context.Background(), "gone"); err != nil || !e.Deleted {
		t.Fatalf("Lookup: %+v, %v; want the tombstone", e, err)
	}
}

// TestCompactLoop: with CompactInterval set, passes run on their own, and
// Close stops them.
func TestCompactLoop(t *testing.T) {
	opts := compactOptions(t)
	opts.CompactInterval = 5 * time.Millisecond
	s := mustOpen(t, opts)
	m := newBlobModel()
	garbageState(t, s, m, rand.New(rand.NewPCG(5, 5)))
	poll.Until(t, "a background pass to compact a volume", func() bool {
		return s.Stats().Compaction.VolumesCompacted > 0
	})
	if err := m.check(s, "after background compaction"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestCompactRateLimiter checks the pacing arithmetic: after n bytes at
// rate bytes/s the pass sleeps until start + n/rate.
func TestCompactRateLimiter(t *testing.T) {
	start := time.Unix(1000, 0)
	tests := []struct {
		rate    int64
		elapsed time.Duration
		bytes   []int64
		want    []time.Duration // sleep asked for after each wait
	}{
		{rate: 1000, bytes: []int64{500, 500}, want: []time.Duration{500 * time.Millisecond, time.Second}},
		{rate: 1000, elapsed: 2 * time.Second, bytes: []int64{1000, 1500}, want: []time.Duration{0, 500 * time.Millisecond}},
		{rate: -1, bytes: []int64{1 << 40}, want: []time.Duration{0}},
	}
	for _, tc := range tests {
		var slept time.Duration
		l := &rateLimiter{rate: tc.rate, start: start,
			now:   func() time.Time { return start.Add(tc.elapsed) },
			sleep: func(_ context.Context, d time.Duration) error { slept = d; return nil }}
		for i, n := range tc.bytes {
			slept = 0
			if err := l.wait(context.Background(), n); err != nil {
				t.Fatal(err)
			}
			if slept != tc.want[i] {
				t.Errorf("rate %d, %v elapsed, wait #%d of %d bytes: slept %v, want %v", tc.rate, tc.elapsed, i, n, slept, tc.want[i])
			}
		}
	}
}

// crashState is a state a crash during compaction could leave.
type crashState struct {
	step     string
	fs       *memfs.FS
	indexDir string
}

// TestCompactCrash crashes a compaction after each of its durable steps
// (each copy, the copies' commit, the switch, the tombstone expiry, the
// volume marked compacted, the file removed, the directory synced), with
// the unsynced pages lost or kept at random, and reopens each state: every
// key reads as before, at its version, from one place; the garbage counts
// match the files; the store compacts to the end from there; and a rebuild
// of the index from the volumes brings back no deleted key.
func TestCompactCrash(t *testing.T) {
	ctx := context.Background()
	clock := &tombstoneClock{t: time.Now()}
	mfs := memfs.New(memfs.Options{})
	opts := compactOptions(t)
	opts.FS = mfs
	opts.Now = clock.now
	opts.TombstoneGrace = time.Hour
	s := mustOpen(t, opts)
	m := newBlobModel()
	r := rand.New(rand.NewPCG(6, 6))
	garbageState(t, s, m, r)
	clock.t = clock.t.Add(2 * time.Hour) // the tombstones may go
	var states []crashState
	copies := 0
	s.compaction.step = func(what string, _ uint32) {
		if what == "copied" {
			if copies++; copies%7 != 1 {
				return // every 7th copy keeps the test fast
			}
		}
		for _, mode := range []memfs.Unsynced{memfs.LoseUnsynced, memfs.KeepUnsyncedRandom} {
			dir := t.TempDir()
			if err := snapshotIndex(s, dir); err != nil {
				t.Fatal(err)
			}
			clone := mfs.CrashCloneWith(memfs.CrashOptions{Unsynced: mode, Rand: rand.New(rand.NewPCG(uint64(len(states)), 7))})
			states = append(states, crashState{step: fmt.Sprintf("%s (%d, unsynced %v)", what, len(states), mode), fs: clone, indexDir: dir})
		}
	}
	rep, err := s.Compact(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.TombstonesDropped == 0 || len(rep.Volumes) == 0 {
		t.Fatalf("report %+v: the test wants tombstones dropped and volumes removed", rep)
	}
	steps := map[string]bool{}
	for _, st := range states {
		steps[st.step[:bytes.IndexByte([]byte(st.step), ' ')]] = true
	}
	for _, want := range []string{"copied", "copies", "switched", "expired", "marked", "file", "directory"} {
		if !steps[want] {
			t.Errorf("no crash state after step %q (have %v)", want, steps)
		}
	}
	if err := m.check(s, "the store that compacted"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	for _, st := range states {
		copts := opts
		copts.FS, copts.IndexDir = st.fs, st.indexDir
		c, err := Open(ctx, copts)
		if err != nil {
			t.Fatalf("crash after %s: reopen: %v", st.step, err)
		}
		if err := m.check(c, "crash after "+st.step); err != nil {
			c.Close()
			t.Fatal(err)
		}
		checkGarbage(t, c, "crash after "+st.step)
		// Copies a crash left unswitched are garbage of the volume that
		// was active: it may need a pass of its own once sealed.
		for pass := 0; pass < 4 && (pass == 0 || len(sealedVolumesOver(c, opts.CompactThreshold)) > 0); pass++ {
			if _, err := c.Compact(ctx); err != nil {
				t.Fatalf("crash after %s: compaction from there: %v", st.step, err)
			}
		}
		if err := m.check(c, "crash after "+st.step+", compacted again"); err != nil {
			t.Fatal(err)
		}
		if left := sealedVolumesOver(c, opts.CompactThreshold); len(left) != 0 {
			t.Errorf("crash after %s: volumes %v still over the threshold", st.step, left)
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		if cr, err := Check(ctx, copts, CheckOptions{}); err != nil || !cr.Clean() {
			t.Fatalf("crash after %s: fsck: %v, %v", st.step, err, cr.Problems)
		}
		if err := os.Remove(filepath.Join(st.indexDir, IndexFileName)); err != nil {
			t.Fatal(err)
		}
		c, err = Open(ctx, copts)
		if err != nil {
			t.Fatalf("crash after %s: rebuild: %v", st.step, err)
		}
		if err := m.check(c, "crash after "+st.step+", rebuilt"); err != nil {
			c.Close()
			t.Fatal(err)
		}
		c.Close()
	}
}

// TestCompactSkipsFailedDisk: a disk marked failed is out of service, so
// compaction neither reads its volumes nor copies onto it.
func TestCompactSkipsFailedDisk(t *testing.T) {
	opts := compactOptions(t)
	s := mustOpen(t, opts)
	defer s.Close()
	garbageState(t, s, newBlobModel(), rand.New(rand.NewPCG(7, 7)))
	if err := s.index.flush(); err != nil {
		t.Fatal(err)
	}
	if len(s.compactCandidates()) == 0 {
		t.Fatal("no candidate to begin with")
	}
	failed := fmt.Errorf("%w: test", ErrDiskFailed)
	s.dirs[0].health.failed.Store(&failed)
	rep, err := s.Compact(context.Background())
	if err != nil || len(rep.Volumes) != 0 || rep.RecordsCopied != 0 {
		t.Fatalf("report %+v, %v: want nothing compacted on a failed disk", rep, err)
	}
}
