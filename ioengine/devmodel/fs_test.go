package devmodel_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"sync"
	"syscall"
	"testing"
	"time"

	"strata/ioengine"
	"strata/ioengine/devmodel"
	"strata/ioengine/errorfs"
	"strata/ioengine/memfs"
)

// fakeClock is time that moves only when told. With frozen set, time
// stands still, so every request arrives at the same instant: a burst that
// fills the queue. Otherwise SleepUntil moves time forward, as if the
// caller had waited, so one goroutine issues requests at queue depth one.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	frozen bool
	latest time.Time // the latest wake-up any request asked for
}

func newFakeClock(frozen bool) *fakeClock {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return &fakeClock{now: t0, latest: t0, frozen: frozen}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) SleepUntil(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.latest) {
		c.latest = t
	}
	if !c.frozen && t.After(c.now) {
		c.now = t
	}
}

// elapsed is how long after the start the last request completed.
func (c *fakeClock) elapsed(since time.Time) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.latest.Sub(since)
}

// testSpan keeps memfs files small; the seek curve depends only on
// distance/span.
const testSpan = 16 << 20

// testModel is the HDD preset over a span small enough for memfs.
func testModel() devmodel.Model {
	m := devmodel.HDD()
	m.Span = testSpan
	return m
}

// newDisk returns a model disk over memfs holding one file "/data" of
// testSpan bytes written before the head existed, opened through the
// model.
func newDisk(t *testing.T, m devmodel.Model, clock *fakeClock) (*devmodel.FS, ioengine.File) {
	t.Helper()
	mem := memfs.New(memfs.Options{})
	f, err := mem.OpenFile("/data", ioengine.FlagCreate)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(bytes.Repeat([]byte{0xa5}, testSpan), 0); err != nil {
		t.Fatal(err)
	}
	f.Close()
	fsys, err := devmodel.Wrap(mem, m, devmodel.Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	mf, err := fsys.OpenFile("/data", 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mf.Close() })
	return fsys, mf
}

// timeReads reads count blocks of size bytes, at sequential offsets or at
// uniformly random aligned ones (seeded), one after the other, and returns
// the model time they took.
func timeReads(t *testing.T, m devmodel.Model, size int64, count int, random bool) time.Duration {
	t.Helper()
	clock := newFakeClock(false)
	_, f := newDisk(t, m, clock)
	// Bring the head to the file's start, unmeasured: the run measures
	// the access pattern, not the first trip to the file.
	if _, err := f.ReadAt(nil, 0); err != nil {
		t.Fatal(err)
	}
	start := clock.Now()
	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, size)
	blocks := testSpan / size
	for i := range count {
		off := (int64(i) % blocks) * size
		if random {
			off = rng.Int64N(blocks) * size
		}
		if _, err := f.ReadAt(buf, off); err != nil {
			t.Fatal(err)
		}
	}
	return clock.elapsed(start)
}

// within reports whether got is within frac of want.
func within(got, want time.Duration, frac float64) bool {
	return float64(got) >= float64(want)*(1-frac) && float64(got) <= float64(want)*(1+frac)
}

func TestFiguresMatchParameters(t *testing.T) {
	tests := []struct {
		name      string
		spec      string
		wantIOPS  float64 // 4 KiB random reads at queue depth 1, from the datasheet arithmetic
		wantSeqMB float64 // 1 MiB sequential reads, MB/s
	}{
		// 8 ms seek + 4.17 ms half revolution + 0.02 ms transfer.
		{"7200rpm", "hdd", 1 / (8e-3 + 30.0/7200 + 4096/180e6), 180},
		{"5400rpm", "hdd:seek=12ms,rpm=5400,mbps=120", 1 / (12e-3 + 30.0/5400 + 4096/120e6), 120},
		{"15000rpm", "hdd:seek=3.5ms,settle=0.2ms,rpm=15000,mbps=250", 1 / (3.5e-3 + 30.0/15000 + 4096/250e6), 250},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := devmodel.ParseModel(tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			m.Span = testSpan
			const reads = 2000
			random := timeReads(t, m, 4096, reads, true)
			iops := reads / random.Seconds()
			if iops < tc.wantIOPS*0.97 || iops > tc.wantIOPS*1.03 {
				t.Errorf("4 KiB random reads: %.1f IOPS, want %.1f (within 3%%)", iops, tc.wantIOPS)
			}
			const seqReads = testSpan >> 20
			seq := timeReads(t, m, 1<<20, seqReads, false)
			mbps := seqReads * (1 << 20) / seq.Seconds() / 1e6
			if mbps < tc.wantSeqMB*0.999 || mbps > tc.wantSeqMB*1.001 {
				t.Errorf("1 MiB sequential reads: %.1f MB/s, want %.1f", mbps, tc.wantSeqMB)
			}
		})
	}
}

func TestSequentialFasterThanRandomByTheModelsFactor(t *testing.T) {
	m := testModel()
	const size, reads = 4096, 2000
	seq := timeReads(t, m, size, reads, false)
	random := timeReads(t, m, size, reads, true)
	want := float64(m.RandomCost(size)) / float64(m.SequentialCost(size))
	got := float64(random) / float64(seq)
	// 2000 random draws average the seek curve to about 1%.
	if got < want*0.97 || got > want*1.03 {
		t.Fatalf("random/sequential time for %d B reads: %.1f, want the model's %.1f", size, got, want)
	}
	if got < 100 {
		t.Fatalf("random/sequential = %.1f: a 4 KiB random read should cost a seek and half a turn, not a transfer", got)
	}
}

func TestReadsAndWritesShareTheHead(t *testing.T) {
	const mib = 1 << 20
	m := testModel()
	tests := []struct {
		name   string
		before []bool // writes (true) or reads (false) of 1 MiB queued ahead
		last   bool   // the request whose latency is measured: a write?
	}{
		{"read alone", nil, false},
		{"read behind 4 writes", []bool{true, true, true, true}, false},
		{"write behind 4 reads", []bool{false, false, false, false}, true},
		{"read behind reads and writes", []bool{true, false, true, false}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock(true) // all requests arrive at once
			_, f := newDisk(t, m, clock)
			start := clock.Now()
			buf := make([]byte, mib)
			for i, write := range tc.before {
				off := int64(i*2+1) * mib // never sequential
				var err error
				if write {
					_, err = f.WriteAt(buf, off)
				} else {
					_, err = f.ReadAt(buf, off)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			ahead := clock.elapsed(start)
			small := make([]byte, 4096)
			var err error
			if tc.last {
				_, err = f.WriteAt(small, 12*mib)
			} else {
				_, err = f.ReadAt(small, 12*mib)
			}
			if err != nil {
				t.Fatal(err)
			}
			latency := clock.elapsed(start)
			// Each request ahead holds the head for at least its transfer
			// plus a settle; the measured one adds its own seek and turn.
			minAhead := time.Duration(len(tc.before)) * (m.TransferTime(mib) + m.Settle)
			if ahead < minAhead {
				t.Fatalf("%d requests ahead took %v of head time, want >= %v", len(tc.before), ahead, minAhead)
			}
			if latency < ahead+m.Settle+m.Revolution()/2 {
				t.Fatalf("latency %v with %v of requests ahead: the measured request did not wait for the head", latency, ahead)
			}
		})
	}
}

func TestQueueDepthAddsNoThroughput(t *testing.T) {
	m := testModel()
	const clients, perClient, size = 32, 16, 4096
	qd1 := timeReads(t, m, size, clients*perClient, true)

	clock := newFakeClock(true) // a burst: every request queued at once
	fsys, f := newDisk(t, m, clock)
	start := clock.Now()
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for c := range clients {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(c), 9))
			buf := make([]byte, size)
			for range perClient {
				if _, err := f.ReadAt(buf, rng.Int64N(testSpan/size)*size); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	qd32 := clock.elapsed(start)
	st := fsys.Stats()
	if st.Reads != clients*perClient {
		t.Fatalf("%d reads counted, want %d", st.Reads, clients*perClient)
	}
	// One head: the burst ends exactly when the head has done all the work.
	if qd32 != st.Busy {
		t.Fatalf("burst of %d reads done after %v, but the head was busy %v: requests overlapped", clients*perClient, qd32, st.Busy)
	}
	if ratio := float64(qd1) / float64(qd32); ratio > 1.05 {
		t.Fatalf("queue depth %d ran %.2fx the throughput of queue depth 1 (%v vs %v); one head allows none", clients, ratio, qd32, qd1)
	}
}

func TestSyncWaitsForQueuedWrites(t *testing.T) {
	m := testModel()
	m.Flush = 3 * time.Millisecond
	clock := newFakeClock(true)
	fsys, f := newDisk(t, m, clock)
	start := clock.Now()
	if _, err := f.WriteAt(make([]byte, 1<<20), 4096); err != nil {
		t.Fatal(err)
	}
	written := clock.elapsed(start)
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if got := clock.elapsed(start); got != written+m.Flush {
		t.Fatalf("sync completed %v after the start, want the write's %v plus the flush %v", got, written, m.Flush)
	}
	if st := fsys.Stats(); st.Syncs != 1 || st.Writes != 1 || st.WriteBytes != 1<<20 {
		t.Fatalf("stats %+v", st)
	}
}

func TestSeededRotation(t *testing.T) {
	draws := func(seed uint64) []time.Duration {
		m := testModel()
		m.Seed = seed
		clock := newFakeClock(false)
		fsys, f := newDisk(t, m, clock)
		var out []time.Duration
		buf := make([]byte, 4096)
		for i := range 200 {
			before := fsys.Stats().Rotation
			if _, err := f.ReadAt(buf, int64(i%2)*8<<20); err != nil { // never sequential
				t.Fatal(err)
			}
			out = append(out, fsys.Stats().Rotation-before)
		}
		return out
	}
	a, b := draws(5), draws(5)
	rev := testModel().Revolution()
	var sum time.Duration
	distinct := map[time.Duration]bool{}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("draw %d: %v then %v with the same seed", i, a[i], b[i])
		}
		if a[i] < 0 || a[i] >= rev {
			t.Fatalf("draw %d: %v outside one revolution %v", i, a[i], rev)
		}
		sum += a[i]
		distinct[a[i]] = true
	}
	if len(distinct) < 100 {
		t.Fatalf("%d distinct rotational latencies in 200 draws", len(distinct))
	}
	if mean := sum / time.Duration(len(a)); !within(mean, rev/2, 0.15) {
		t.Fatalf("mean rotational latency %v, want about half a revolution %v", mean, rev/2)
	}
	if c := draws(0); c[0] != rev/2 || c[199] != rev/2 {
		t.Fatalf("without a seed every turn costs half a revolution, got %v and %v", c[0], c[199])
	}
}

func TestDataAndErrorsPassThrough(t *testing.T) {
	toggle := errorfs.NewToggle()
	fsys, err := devmodel.Wrap(errorfs.Wrap(memfs.New(memfs.Options{}), toggle), testModel(), devmodel.Options{Clock: newFakeClock(false)})
	if err != nil {
		t.Fatal(err)
	}
	f, err := fsys.OpenFile("/f", ioengine.FlagCreate)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt([]byte("hello"), 10); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 5)
	if _, err := f.ReadAt(got, 10); err != nil || string(got) != "hello" {
		t.Fatalf("read back %q, %v", got, err)
	}
	toggle.Set(errorfs.OpSync, errorfs.EIO)
	if err := f.Sync(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("sync: %v, want the wrapped file's EIO", err)
	}
	toggle.Set(errorfs.OpRead, errorfs.EIO)
	if _, err := f.ReadAt(got, 10); !errors.Is(err, syscall.EIO) {
		t.Fatalf("read: %v, want the wrapped file's EIO", err)
	}
	if _, err := f.ReadAt(got, -1); err == nil {
		t.Fatal("read at a negative offset succeeded")
	}
	if st := fsys.Stats(); st.Reads != 2 || st.Writes != 1 || st.Syncs != 1 {
		t.Fatalf("stats %+v: a negative offset must not reach the head", st)
	}
}

func TestWrapRejectsInvalidModel(t *testing.T) {
	m := devmodel.HDD()
	m.RPM = 0
	if _, err := devmodel.Wrap(memfs.New(memfs.Options{}), m, devmodel.Options{}); !errors.Is(err, devmodel.ErrInvalidModel) {
		t.Fatalf("Wrap with rpm=0: %v, want ErrInvalidModel", err)
	}
}
