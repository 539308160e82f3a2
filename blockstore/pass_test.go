package blockstore

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"strata/ioengine/memfs"
)

// TestStartPassCompact starts a compaction pass on demand and holds it at
// its first durable step: a second start is refused with ErrPassRunning
// naming the running pass, the status shows it running with a total, and
// once released WaitPass reports it complete with the volumes compacted
// and its progress full; the finished pass stays known by its id, an
// unknown id is refused, and the next pass gets a higher id.
func TestStartPassCompact(t *testing.T) {
	opts := compactOptions(t)
	s := mustOpen(t, opts)
	defer s.Close()
	m := newBlobModel()
	garbageState(t, s, m, rand.New(rand.NewPCG(3, 3)))
	cands := sealedVolumesOver(s, opts.CompactThreshold)
	if len(cands) == 0 {
		t.Fatal("no volume to compact")
	}
	hold, held := make(chan struct{}), make(chan struct{})
	var once sync.Once
	s.compaction.step = func(string, uint32) {
		once.Do(func() {
			close(held)
			<-hold
		})
	}
	if st, err := s.Pass(PassCompact, 0); err != nil || st.ID != 0 || st.Running {
		t.Fatalf("Pass before any: %+v, %v", st, err)
	}
	st, err := s.StartPass(PassCompact)
	if err != nil || !st.Running || st.ID == 0 || st.Trigger != TriggerRequest || st.Kind != PassCompact {
		t.Fatalf("StartPass: %+v, %v", st, err)
	}
	id := st.ID
	<-held
	again, err := s.StartPass(PassCompact)
	if !errors.Is(err, ErrPassRunning) || again.ID != id || !again.Running {
		t.Fatalf("second StartPass while one runs: %+v, %v; want ErrPassRunning naming pass %d", again, err, id)
	}
	run, err := s.Pass(PassCompact, 0)
	if err != nil || !run.Running || run.ID != id || run.TotalBytes <= 0 || run.DoneBytes > run.TotalBytes {
		t.Fatalf("Pass while running: %+v, %v", run, err)
	}
	if _, err := s.Pass("defrag", 0); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("Pass of an unknown kind: %v", err)
	}
	close(hold)
	done, err := s.WaitPass(context.Background(), PassCompact, id)
	if err != nil || done.Running || done.Err != "" || done.Finished.IsZero() || done.Compact == nil || done.DoneBytes != done.TotalBytes {
		t.Fatalf("WaitPass: %+v, %v", done, err)
	}
	got := slices.Sorted(slices.Values(done.Compact.Volumes))
	if !slices.Equal(got, cands) {
		t.Fatalf("pass compacted %v, want %v", got, cands)
	}
	if err := m.check(s, "after the requested pass"); err != nil {
		t.Fatal(err)
	}
	if again, err := s.Pass(PassCompact, id); err != nil || again.ID != id || again.Running {
		t.Fatalf("Pass(%d) after it finished: %+v, %v", id, again, err)
	}
	if _, err := s.Pass(PassCompact, id+12345); !errors.Is(err, ErrUnknownPass) {
		t.Fatalf("Pass of an unknown id: %v", err)
	}
	if _, err := s.WaitPass(context.Background(), PassCompact, id+12345); !errors.Is(err, ErrUnknownPass) {
		t.Fatalf("WaitPass of an unknown id: %v", err)
	}
	s.compaction.step = nil
	next, err := s.StartPass(PassCompact)
	if err != nil || next.ID <= id {
		t.Fatalf("next StartPass: %+v, %v (previous id %d)", next, err, id)
	}
	if fin, err := s.WaitPass(context.Background(), PassCompact, next.ID); err != nil || fin.Err != "" || len(fin.Compact.Volumes) != 0 {
		t.Fatalf("a pass with nothing to do: %+v, %v", fin, err)
	}
}

// TestStartPassScrub starts a scrub on demand over a volume with a flipped
// bit, held at its first paced read: a second start is refused, Compact's
// runner is separate (a compaction pass may start), and the finished pass
// reports the corruption and its full progress.
func TestStartPassScrub(t *testing.T) {
	mfs := memfs.New(memfs.Options{})
	opts := testOptions(t, mfs)
	s := mustOpen(t, opts)
	info := put(t, s, "k", randBytes(newRand(1), 5000))
	put(t, s, "after", randBytes(newRand(2), 5000))
	manyVolumes(t, s) // enough for several paced reads
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	corruptAt(t, mfs, 1, payloadAt(info.loc, "k"))
	s = mustOpen(t, opts)
	defer s.Close()
	clock := newFakeClock()
	hold, held := make(chan struct{}), make(chan struct{})
	var once sync.Once
	s.scrub.sleep = func(ctx context.Context, d time.Duration) error {
		once.Do(func() {
			close(held)
			<-hold
		})
		return clock.sleep(ctx, d)
	}
	st, err := s.StartPass(PassScrub)
	if err != nil || !st.Running || st.Kind != PassScrub {
		t.Fatalf("StartPass(scrub): %+v, %v", st, err)
	}
	<-held
	if _, err := s.StartPass(PassScrub); !errors.Is(err, ErrPassRunning) {
		t.Fatalf("second scrub start: %v, want ErrPassRunning", err)
	}
	if c, err := s.StartPass(PassCompact); err != nil {
		t.Fatalf("a compaction pass during a scrub: %v", err)
	} else if _, err := s.WaitPass(context.Background(), PassCompact, c.ID); err != nil {
		t.Fatal(err)
	}
	if run, _ := s.Pass(PassScrub, st.ID); !run.Running || run.TotalBytes <= 0 {
		t.Fatalf("scrub status while held: %+v", run)
	}
	close(hold)
	done, err := s.WaitPass(context.Background(), PassScrub, st.ID)
	if err != nil || done.Running || done.Err != "" || done.Scrub == nil || done.Scrub.Corruptions != 1 || done.DoneBytes != done.TotalBytes || done.TotalBytes <= 0 {
		t.Fatalf("finished scrub: %+v (report %+v), %v", done, done.Scrub, err)
	}
}

// TestStartPassClose closes the store under a held pass: Close returns,
// the pass ends with an error, WaitPass returns it, and StartPass after
// Close answers ErrClosed.
func TestStartPassClose(t *testing.T) {
	s := mustOpen(t, testOptions(t, nil))
	manyVolumes(t, s)
	held := make(chan struct{})
	var once sync.Once
	s.scrub.sleep = func(ctx context.Context, d time.Duration) error {
		once.Do(func() { close(held) })
		<-ctx.Done()
		return ctx.Err()
	}
	st, err := s.StartPass(PassScrub)
	if err != nil {
		t.Fatal(err)
	}
	<-held
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	done, err := s.WaitPass(context.Background(), PassScrub, st.ID)
	if err != nil || done.Running || done.Err == "" {
		t.Fatalf("a pass cut by Close: %+v, %v", done, err)
	}
	for _, k := range []PassKind{PassScrub, PassCompact} {
		if _, err := s.StartPass(k); !errors.Is(err, ErrClosed) {
			t.Fatalf("StartPass(%s) after Close: %v", k, err)
		}
	}
}
