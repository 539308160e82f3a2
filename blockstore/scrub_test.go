package blockstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"strata/internal/poll"
	"strata/ioengine"
	"strata/ioengine/memfs"
)

// fakeClock is a clock that only sleeps move: a scrub's pacing is then
// measured in bytes against virtual time, never against the wall clock.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	slept time.Duration
	// onSleep, when set, runs after each sleep (with the count so far).
	onSleep func(n int)
	sleeps  int
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.slept += d
	c.sleeps++
	n, hook := c.sleeps, c.onSleep
	c.mu.Unlock()
	if hook != nil {
		hook(n)
	}
	return ctx.Err()
}

// corruptAt flips one bit at off in volume id of /data0, under the store's feet.
func corruptAt(t *testing.T, mfs *memfs.FS, id uint32, off int64) {
	t.Helper()
	f := volumeFile(t, mfs, "/data0", id)
	defer f.Close()
	pokeFile(t, f, off, func(b []byte) []byte { b[off%4096] ^= 0x04; return b })
}

// payloadAt is an offset inside the payload of the record at loc.
func payloadAt(loc location, key string) int64 {
	return loc.offset + int64(recordHeaderLen+len(key)+len("application/octet-stream")+20)
}

type corruptCall struct {
	key     string
	version uint64
}

// TestScrubFindsFlippedBytes flips a bit in different records and checks
// what one scrub pass makes of each: counted and reported always; the key
// marked corrupt (Get answers ErrCorrupt, OnCorrupt called, the live count
// drops) only when the record holds the key's current version; a write at
// that version repairs it.
func TestScrubFindsFlippedBytes(t *testing.T) {
	for _, tc := range []struct {
		name string
		// setup writes the key and returns where to flip a bit.
		setup   func(t *testing.T, s *Store) int64
		current bool // the flip is in the key's current version
	}{
		{"blob payload", func(t *testing.T, s *Store) int64 {
			info := put(t, s, "k", randBytes(newRand(1), 5000))
			return payloadAt(info.loc, "k")
		}, true},
		{"blob trailer", func(t *testing.T, s *Store) int64 {
			info := put(t, s, "k", randBytes(newRand(1), 5000))
			return info.loc.offset + info.loc.length - 1
		}, true},
		{"chunk of a large blob", func(t *testing.T, s *Store) int64 {
			info := put(t, s, "k", randBytes(newRand(2), 3*64<<10+100))
			m, err := s.manifestOf(context.Background(), info)
			if err != nil {
				t.Fatal(err)
			}
			return payloadAt(m.chunks[1].loc, "k")
		}, true},
		{"manifest", func(t *testing.T, s *Store) int64 {
			info := put(t, s, "k", randBytes(newRand(2), 3*64<<10+100))
			return info.loc.offset + info.loc.length - 8
		}, true},
		{"older version", func(t *testing.T, s *Store) int64 {
			old := put(t, s, "k", randBytes(newRand(3), 5000))
			put(t, s, "k", randBytes(newRand(4), 5000))
			return payloadAt(old.loc, "k")
		}, false},
		{"tombstone", func(t *testing.T, s *Store) int64 {
			put(t, s, "k", randBytes(newRand(5), 5000))
			if err := s.Delete(context.Background(), "k", DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
			e, _, _ := s.index.lookup("k")
			return e.loc.offset + e.loc.length - 1
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			mfs := memfs.New(memfs.Options{})
			opts := testOptions(t, mfs)
			var mu sync.Mutex
			var calls []corruptCall
			opts.OnCorrupt = func(key string, version uint64) {
				mu.Lock()
				calls = append(calls, corruptCall{key, version})
				mu.Unlock()
			}
			opts.ScrubBytesPerSec = 1 << 40
			s := mustOpen(t, opts)
			defer s.Close()
			others := map[string][]byte{}
			for i := range 5 {
				k := fmt.Sprintf("other/%d", i)
				others[k] = randBytes(newRand(uint64(10+i)), 3000)
				put(t, s, k, others[k])
			}
			flip := tc.setup(t, s)
			want, wantData, wantErr := s.Get(ctx, "k")
			if err := s.index.flush(); err != nil {
				t.Fatal(err)
			}
			before := s.Stats()
			corruptAt(t, mfs, 1, flip)

			rep, err := s.Scrub(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Corruptions != 1 || len(rep.Problems) != 1 || rep.Problems[0].Key != "k" {
				t.Fatalf("report %+v: want one corruption, of key k", rep)
			}
			if st := s.Stats(); st.Corruptions != before.Corruptions+1 || st.Disks[0].Scrub.Corruptions != 1 {
				t.Fatalf("corruptions %d (was %d), disk's %d: want one more", st.Corruptions, before.Corruptions, st.Disks[0].Scrub.Corruptions)
			}
			for k, v := range others {
				mustGet(t, s, k, v)
			}
			if !tc.current {
				if rep.Marked != 0 || len(calls) != 0 {
					t.Fatalf("a record that is not the key's current version marked it: %d marked, OnCorrupt %v", rep.Marked, calls)
				}
				_, got, err := s.Get(ctx, "k")
				switch {
				case wantErr == nil && (err != nil || !bytes.Equal(got, wantData)):
					t.Fatalf("Get after the scrub: %v, want the current version", err)
				case wantErr != nil && !errors.Is(err, ErrNotFound):
					t.Fatalf("Get after the scrub: %v, want ErrNotFound", err)
				}
				return
			}
			if rep.Marked != 1 || len(calls) != 1 || calls[0] != (corruptCall{"k", want.Version}) {
				t.Fatalf("marked %d, OnCorrupt calls %v; want k at version %d once", rep.Marked, calls, want.Version)
			}
			if _, _, err := s.Get(ctx, "k"); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Get of the key scrub marked: %v, want ErrCorrupt", err)
			}
			if err := s.index.flush(); err != nil {
				t.Fatal(err)
			}
			if st := s.Stats(); st.LiveKeys != before.LiveKeys-1 {
				t.Fatalf("live keys %d, want %d: a corrupt key is not live", st.LiveKeys, before.LiveKeys-1)
			}
			// The mark is in the index: it survives a reopen.
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = mustOpen(t, opts)
			defer s.Close()
			if _, _, err := s.Get(ctx, "k"); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Get after a reopen: %v, want ErrCorrupt", err)
			}
			// A repair at the same version replaces the corrupt entry; the
			// damaged record left behind no longer marks the key.
			data := randBytes(newRand(99), int(want.Size))
			if _, err := s.Put(ctx, "k", bytes.NewReader(data), int64(len(data)), PutOptions{Version: want.Version}); err != nil {
				t.Fatal(err)
			}
			mustGet(t, s, "k", data)
			rep, err = s.Scrub(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Corruptions != 1 || rep.Marked != 0 {
				t.Fatalf("after the repair: %d corruptions, %d marked; want the old record found, nothing marked", rep.Corruptions, rep.Marked)
			}
			mustGet(t, s, "k", data)
		})
	}
}

// manyVolumes fills about three volumes of /data0 and returns the blobs.
func manyVolumes(t *testing.T, s *Store) map[string][]byte {
	t.Helper()
	blobs := map[string][]byte{}
	r := newRand(42)
	for i := range 100 {
		k := fmt.Sprintf("blob/%03d", i)
		blobs[k] = randBytes(r, 100<<10)
		put(t, s, k, blobs[k])
	}
	if st := s.Stats(); st.Volumes < 3 {
		t.Fatalf("%d volumes, want at least 3", st.Volumes)
	}
	return blobs
}

// TestScrubResumesAfterRestart stops a pass partway, restarts the store
// and checks the next pass resumes where the first stopped (a flip behind
// the cursor is not found, one ahead is), records the pass as complete,
// and keeps the completion time across a restart.
func TestScrubResumesAfterRestart(t *testing.T) {
	ctx := context.Background()
	mfs := memfs.New(memfs.Options{})
	clock := newFakeClock()
	opts := testOptions(t, mfs)
	opts.Now = clock.Now
	s := mustOpen(t, opts)
	manyVolumes(t, s)
	first, _ := s.Lookup(ctx, "blob/000")
	last, _ := s.Lookup(ctx, "blob/099")
	if first.Info.loc.volume == last.Info.loc.volume {
		t.Fatal("the first and last blobs share a volume")
	}

	stop, cancel := context.WithCancel(ctx)
	s.scrub.sleep = clock.sleep
	s.scrub.persistEvery = 1 << 20
	clock.onSleep = func(n int) {
		if n == 6 { // about 6 MiB in: past the first volume's start
			cancel()
		}
	}
	if _, err := s.Scrub(stop); !errors.Is(err, context.Canceled) {
		t.Fatalf("stopped pass: %v, want context.Canceled", err)
	}
	clock.onSleep = nil
	disk := s.Stats().Disks[0]
	at := disk.Scrub
	if at.PassStarted.IsZero() || at.Volume == 0 || at.Done <= 0 || at.Done >= disk.UsedBytes {
		t.Fatalf("progress after the stop: %+v of %d used bytes", at, disk.UsedBytes)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if !(at.Volume > first.Info.loc.volume || at.Offset > first.Info.loc.offset) || at.Volume > last.Info.loc.volume {
		t.Fatalf("stopped at volume %d offset %d: not between the first blob (%s) and the last (%s)", at.Volume, at.Offset, first.Info.loc, last.Info.loc)
	}
	corruptAt(t, mfs, first.Info.loc.volume, payloadAt(first.Info.loc, "blob/000"))
	corruptAt(t, mfs, last.Info.loc.volume, payloadAt(last.Info.loc, "blob/099"))

	s = mustOpen(t, opts)
	defer s.Close()
	if got := s.Stats().Disks[0].Scrub; got.Volume != at.Volume || got.Offset != at.Offset || !got.PassStarted.Equal(at.PassStarted) {
		t.Fatalf("progress after a restart %+v, want %+v", got, at)
	}
	s.scrub.sleep = clock.sleep
	rep, err := s.Scrub(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Resumed || rep.Corruptions != 1 || rep.Problems[0].Key != "blob/099" {
		t.Fatalf("resumed pass: %+v; want it resumed, finding only the flip ahead of its cursor", rep)
	}
	done := s.Stats().Disks[0].Scrub
	if done.LastComplete.IsZero() || !done.PassStarted.IsZero() || done.Volume != 0 {
		t.Fatalf("after the pass: %+v; want it complete", done)
	}
	rep, err = s.Scrub(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Resumed || rep.Corruptions != 2 {
		t.Fatalf("a new pass: %+v; want both flips found", rep)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, opts)
	defer s.Close()
	if got := s.Stats().Disks[0].Scrub.LastComplete; got.IsZero() || got.Before(done.LastComplete) {
		t.Fatalf("last complete pass after a restart: %v, want at least %v", got, done.LastComplete)
	}
}

// TestScrubRate checks the pacing in bytes against a fake clock: a pass
// reads at most the configured rate (plus one read) over the virtual time
// it took, all at background priority.
func TestScrubRate(t *testing.T) {
	for _, rate := range []int64{1 << 20, 8 << 20} {
		t.Run(fmt.Sprint(rate), func(t *testing.T) {
			clock := newFakeClock()
			opts := testOptions(t, nil)
			opts.Now = clock.Now
			opts.ScrubBytesPerSec = rate
			s := mustOpen(t, opts)
			defer s.Close()
			manyVolumes(t, s)
			s.scrub.sleep = clock.sleep
			before := s.Devices()[0].Classes
			rep, err := s.Scrub(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			after := s.Devices()[0].Classes
			bg := after[ioengine.ClassBackground].ReadBytes - before[ioengine.ClassBackground].ReadBytes
			fg := after[ioengine.ClassRead].ReadBytes - before[ioengine.ClassRead].ReadBytes
			if int64(bg) != rep.Bytes || fg != 0 || rep.Bytes < 10<<20 {
				t.Fatalf("%d background bytes, %d foreground; report says %d", bg, fg, rep.Bytes)
			}
			allowed := int64(clock.slept.Seconds()*float64(rate)) + scrubWindow
			if rep.Bytes > allowed {
				t.Fatalf("read %d bytes in %v of virtual time: more than %d bytes/s allows (%d)", rep.Bytes, clock.slept, rate, allowed)
			}
			if min := int64(clock.slept.Seconds()*float64(rate)) - scrubWindow; rep.Bytes < min {
				t.Fatalf("read %d bytes in %v: slept longer than %d bytes/s needs", rep.Bytes, clock.slept, rate)
			}
		})
	}
}

// TestScrubBackgroundLoop opens a store with ScrubInterval set over a
// volume with a flipped bit: the loop's first pass finds it on its own and
// calls OnCorrupt, whose repair (a write at that version from a "replica",
// through the store) replaces the corrupt entry; Close stops the loop.
func TestScrubBackgroundLoop(t *testing.T) {
	ctx := context.Background()
	mfs := memfs.New(memfs.Options{})
	opts := testOptions(t, mfs)
	s := mustOpen(t, opts)
	replica := randBytes(newRand(1), 5000)
	info := put(t, s, "k", replica)
	put(t, s, "after", randBytes(newRand(2), 5000))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	corruptAt(t, mfs, 1, payloadAt(info.loc, "k"))
	found := make(chan corruptCall, 1)
	var repaired error
	var s2 *Store
	ready := make(chan struct{})
	opts.OnCorrupt = func(key string, version uint64) {
		<-ready
		if _, _, err := s2.Get(ctx, key); !errors.Is(err, ErrCorrupt) {
			repaired = fmt.Errorf("Get in OnCorrupt: %v, want ErrCorrupt", err)
		} else {
			_, repaired = s2.Put(ctx, key, bytes.NewReader(replica), int64(len(replica)), PutOptions{Version: version})
		}
		found <- corruptCall{key, version}
	}
	opts.ScrubInterval = time.Hour
	opts.ScrubBytesPerSec = 1 << 40
	s = mustOpen(t, opts)
	s2 = s
	close(ready)
	var call corruptCall
	poll.Until(t, "the background scrub to report the corrupt key", func() bool {
		select {
		case call = <-found:
			return true
		default:
			return false
		}
	})
	if call != (corruptCall{"k", info.Version}) {
		t.Fatalf("OnCorrupt(%v), want k at %d", call, info.Version)
	}
	poll.Until(t, "the pass to complete", func() bool { return !s.Stats().Disks[0].Scrub.LastComplete.IsZero() })
	if repaired != nil {
		t.Fatal(repaired)
	}
	mustGet(t, s, "k", replica)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.scrub.done:
	default:
		t.Fatal("the scrub loop still runs after Close")
	}
	if _, err := s.Scrub(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("Scrub after Close: %v", err)
	}
}

func FuzzDecodeScrubProgress(f *testing.F) {
	f.Add(scrubProgress{volume: 3, offset: 1 << 20, maxVolume: 9, started: 1, completed: 2}.encode())
	f.Add([]byte{1})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := decodeScrubProgress(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		q, err := decodeScrubProgress(p.encode())
		if err != nil || q != p {
			t.Fatalf("round trip of %+v: %+v, %v", p, q, err)
		}
	})
}

// BenchmarkScrub measures an unthrottled pass over 64 MiB of 64 KiB blobs
// on the real filesystem (STRATA_BENCH_DIR picks the disk): the checking
// cost, which a real pass spreads out at ScrubBytesPerSec.
func BenchmarkScrub(b *testing.B) {
	s := benchStore(b, Options{VolumeSize: 32 << 20, ScrubBytesPerSec: 1 << 40})
	data := payloads(16, 64<<10)
	for i := range 1024 {
		if _, err := s.Put(context.Background(), fmt.Sprintf("blob/%05d", i), bytes.NewReader(data[i%len(data)]), int64(len(data[i%len(data)])), PutOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	var read int64
	for range b.N {
		rep, err := s.Scrub(context.Background())
		if err != nil || rep.Corruptions != 0 {
			b.Fatalf("%+v: %v", rep, err)
		}
		read += rep.Bytes
	}
	b.SetBytes(read / int64(b.N))
}

// TestScrubUnderWrites scrubs while writers fill and seal volumes: the
// active volume is read only up to what was written, so a pass finds no
// corruption where there is none, and ends although writes keep coming.
func TestScrubUnderWrites(t *testing.T) {
	opts := testOptions(t, nil)
	opts.ScrubBytesPerSec = 1 << 40
	s := mustOpen(t, opts)
	defer s.Close()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	stopWriters := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer stopWriters() // before Close, also when the test fails
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := newRand(uint64(w))
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				data := randBytes(r, 1000+int(r.Uint32()%(40<<10)))
				if _, err := s.Put(context.Background(), fmt.Sprintf("w%d/%d", w, i), bytes.NewReader(data), int64(len(data)), PutOptions{}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	// Passes until the writers have sealed two volumes (bounded: each
	// pass reads at most a few volumes of 4 MiB).
	for pass := 0; pass < 5 || s.Stats().Volumes < 3; pass++ {
		if pass == 10000 {
			t.Fatal("the writers never filled three volumes")
		}
		rep, err := s.Scrub(context.Background())
		if err != nil || rep.Corruptions != 0 {
			t.Fatalf("pass %d under writes: %+v, %v", pass, rep, err)
		}
	}
	stopWriters()
	if st := s.Stats(); st.Corruptions != 0 {
		t.Fatalf("%d corruptions, %d volumes", st.Corruptions, st.Volumes)
	}
}

// BenchmarkGetUnderScrub measures foreground Get latency over 64 MiB of
// 16 KiB blobs with no scrub, with a scrub at the default 8 MiB/s, and
// with an unthrottled one (the worst case the pacing avoids); compare the
// p99s of the sub-benchmarks (STRATA_BENCH_DIR picks the disk).
func BenchmarkGetUnderScrub(b *testing.B) {
	for _, tc := range []struct {
		name string
		rate int64 // 0: no scrub
	}{{"idle", 0}, {"scrub-8MiBps", DefaultScrubBytesPerSec}, {"scrub-unthrottled", 1 << 40}} {
		b.Run(tc.name, func(b *testing.B) {
			s := benchStore(b, Options{VolumeSize: 32 << 20, ScrubBytesPerSec: max(tc.rate, 1)})
			data := payloads(16, 16<<10)
			const n = 4096
			for i := range n {
				if _, err := s.Put(context.Background(), fmt.Sprintf("blob/%05d", i), bytes.NewReader(data[i%len(data)]), int64(len(data[i%len(data)])), PutOptions{}); err != nil {
					b.Fatal(err)
				}
			}
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			if tc.rate > 0 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for ctx.Err() == nil {
						s.Scrub(ctx)
					}
				}()
			}
			lat := newLatencies()
			r := newRand(7)
			b.ResetTimer()
			for range b.N {
				start := time.Now()
				if _, _, err := s.Get(ctx, fmt.Sprintf("blob/%05d", r.IntN(n))); err != nil {
					b.Fatal(err)
				}
				lat.record(time.Since(start))
			}
			b.StopTimer()
			cancel()
			wg.Wait()
			lat.report(b)
		})
	}
}

// TestScrubDamagedHeader flips a bit in a record's header: the scrub
// reports corrupt bytes (the record cannot name its key), resumes at the
// next record and verifies every record after it.
func TestScrubDamagedHeader(t *testing.T) {
	mfs := memfs.New(memfs.Options{})
	opts := testOptions(t, mfs)
	opts.ScrubBytesPerSec = 1 << 40
	s := mustOpen(t, opts)
	defer s.Close()
	var infos []Info
	for i := range 10 {
		infos = append(infos, put(t, s, fmt.Sprintf("k%d", i), randBytes(newRand(uint64(i)), 3000)))
	}
	clean, err := s.Scrub(context.Background())
	if err != nil || clean.Corruptions != 0 || clean.Records != 10 {
		t.Fatalf("clean pass %+v, %v", clean, err)
	}
	corruptAt(t, mfs, 1, infos[4].loc.offset+10)
	rep, err := s.Scrub(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Corruptions != 1 || rep.Records != 9 || rep.Marked != 0 || !strings.Contains(rep.Problems[0].What, "corrupt bytes") || rep.Problems[0].Offset != infos[4].loc.offset {
		t.Fatalf("pass over a damaged header: %+v", rep)
	}
}
