package tiering

import (
	"path/filepath"
	"testing"

	"strata/internal/poll"
)

func TestSSDPacerReady(t *testing.T) {
	for _, tc := range []struct {
		name       string
		inFlight   int64
		readsSince uint64 // foreground reads since the pacer's last look
		credit     int64
		n          int64
		want       bool
		wantCredit int64
	}{
		{"idle disk: full speed", 0, 0, 0, 1 << 20, true, 0},
		{"read in flight, no credit", 1, 0, 0, 1 << 20, false, 0},
		{"reads finished since last look, no credit", 0, 3, 0, 1 << 20, false, 0},
		{"read in flight, enough credit", 2, 5, 1 << 20, 1 << 20, true, 0},
		{"read in flight, credit short", 2, 5, 1<<20 - 1, 1 << 20, false, 1<<20 - 1},
		{"idle disk keeps credit", 0, 0, 4096, 1 << 20, true, 4096},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fg := &foreground{}
			p := &ssdPacer{fg: fg}
			fg.inFlight.Store(tc.inFlight)
			fg.reads.Store(100)
			p.lastRds = 100 - tc.readsSince
			fg.credit.Store(tc.credit)
			if got := p.ready(tc.n); got != tc.want {
				t.Fatalf("ready(%d) = %v, want %v", tc.n, got, tc.want)
			}
			if c := fg.credit.Load(); c != tc.wantCredit {
				t.Fatalf("credit left %d, want %d", c, tc.wantCredit)
			}
		})
	}
}

// Foreground reads earn 1/32 of their bytes as SSD credit, capped.
func TestForegroundEarnsCredit(t *testing.T) {
	var fg foreground
	fg.begin()
	fg.end(80 << 10)
	if c := fg.credit.Load(); c != 80<<10>>ssdPaceShareShift {
		t.Fatalf("credit %d after 80 KiB read, want %d", c, 80<<10>>ssdPaceShareShift)
	}
	fg.begin()
	fg.end(1 << 30)
	if c := fg.credit.Load(); c != ssdPaceBurst {
		t.Fatalf("credit %d after 1 GiB read, want the cap %d", c, ssdPaceBurst)
	}
	if fg.inFlight.Load() != 0 || fg.reads.Load() != 2 {
		t.Fatalf("in flight %d, reads %d", fg.inFlight.Load(), fg.reads.Load())
	}
}

// With pacing on, a sealed region is not written while a backend read is
// in flight and has earned nothing; the credit of reads lets it go.
func TestSSDWritesYieldToReads(t *testing.T) {
	fb := newFakeBackend(1 << 20)
	o := smallOpts(t, fb)
	o.SSDPacing = SSDPaceAlways
	e := openEnv(t, o)
	ssd := e.s.ssd
	if ssd.cfg.pacer == nil {
		t.Fatal("SSDPaceAlways: no pacer")
	}
	e.s.fg.begin() // a foreground read in flight throughout
	for i := range 4 {
		k := ramKey{key: "item", seg: uint32(i)}
		ssd.offer(k, k.hash(), 8<<10, randBytes(uint64(i), 8<<10))
	}
	ssd.waitIdle(t)
	ssd.mu.Lock()
	r, ok := ssd.core.sealFill()
	ssd.mu.Unlock()
	if !ok {
		t.Fatal("nothing to flush")
	}
	ssd.flushQ <- r
	poll.Until(t, "the writer to wait for the reads", func() bool { return ssd.cfg.pacer.waits.Load() > 0 })
	if w := ssd.c.bytesWritten.Load(); w != 0 {
		t.Fatalf("%d bytes written to the SSD while a read was in flight without credit", w)
	}
	e.s.fg.begin()
	e.s.fg.end(64 << 20) // the most credit; a read is still in flight
	poll.Until(t, "the region written on credit", func() bool { return ssd.c.regionsWritten.Load() == 1 })
	if st := e.s.Stats().SSDCache; !st.Paced || st.PacedWaits == 0 {
		t.Fatalf("stats %+v", st)
	}
	e.s.fg.end(0)
}

func TestSameDevice(t *testing.T) {
	dir := t.TempDir()
	if !sameDevice(filepath.Join(dir, "not", "yet", "made"), []string{"/nonexistent-strata-dir", dir}) {
		t.Fatal("a directory not yet made under a temp dir is not on the temp dir's device")
	}
	if sameDevice(filepath.Join(dir, "x"), nil) {
		t.Fatal("no backend directories, yet the same device")
	}
	if sameDevice(filepath.Join(dir, "x"), []string{"/proc"}) {
		t.Fatal("a temp dir on the same device as /proc")
	}
}
