package node_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"strata/node"
)

// pacingEnv is a node over a MemStore whose pacing controller runs on a
// fake clock and records the waits it asks for, moving the clock by each
// instead of sleeping.
type pacingEnv struct {
	*env
	mu      sync.Mutex
	now     time.Time
	slept   []time.Duration
	onSleep func() // called by each wait before it returns ctx.Err()
}

func newPacingEnv(t *testing.T, tier string, mutate func(*node.Config)) *pacingEnv {
	t.Helper()
	e := &pacingEnv{env: newEnv(t, func(c *node.Config) {
		c.MaxBlobSize = 4 << 20
		c.Pacing.ReadLatencyTarget = time.Millisecond
		if mutate != nil {
			mutate(c)
		}
	}), now: time.Unix(1_800_000_000, 0)}
	e.store.SetTier(tier)
	if _, err := node.SetPacingClock(e.srv, e.clock, e.sleep); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *pacingEnv) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

func (e *pacingEnv) advance(d time.Duration) {
	e.mu.Lock()
	e.now = e.now.Add(d)
	e.mu.Unlock()
}

func (e *pacingEnv) sleep(ctx context.Context, d time.Duration) error {
	e.mu.Lock()
	e.slept = append(e.slept, d)
	e.now = e.now.Add(d) // the wait takes its time on the fake clock
	f := e.onSleep
	e.mu.Unlock()
	if f != nil {
		f()
	}
	return ctx.Err()
}

// takeSlept returns the waits asked for since the last call.
func (e *pacingEnv) takeSlept() []time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.slept
	e.slept = nil
	return s
}

// slowReads makes every GET take at least d (held in Open), well over the
// 1ms target; 0 makes them fast again.
func (e *pacingEnv) slowReads(d time.Duration) {
	if d == 0 {
		e.store.SetOpenGate(nil)
		return
	}
	e.store.SetOpenGate(func(context.Context, string) error { time.Sleep(d); return nil })
}

// upload PUTs n bytes and returns the waits pacing asked for.
func (e *pacingEnv) upload(key string, n int) []time.Duration {
	e.t.Helper()
	w := e.do(http.MethodPut, "/blobs/"+key, bytes.NewReader(make([]byte, n)))
	if w.Code != http.StatusCreated {
		e.t.Fatalf("PUT %s: %d %s", key, w.Code, w.Body)
	}
	return e.takeSlept()
}

// intervals runs n control intervals of reads of the hot key beside a
// 1 MiB upload each (10 MiB/s).
func (e *pacingEnv) intervals(n int) {
	e.t.Helper()
	for range n {
		for range 3 {
			if w := e.do(http.MethodGet, "/blobs/hot", nil); w.Code != 200 {
				e.t.Fatalf("GET: %d", w.Code)
			}
		}
		e.upload("big", 1<<20)
		e.advance(100 * time.Millisecond)
	}
}

func sum(ds []time.Duration) (t time.Duration) {
	for _, d := range ds {
		t += d
	}
	return t
}

// Reads from RAM over the target while uploads stream: the controller
// backs off, the next upload is held to the budget in small steps, and the
// metrics say so. Once reads stop for a window, uploads run free again.
func TestPacingBacksOffUploadsForSlowRAMReads(t *testing.T) {
	e := newPacingEnv(t, "ram", nil)
	e.put("hot", strings.Repeat("h", 1024))
	if slept := e.upload("big", 1<<20); len(slept) != 0 {
		t.Fatalf("uploads waited %v before any read", slept)
	}
	if v := metricValue(t, e.env, "strata_pacing_limited"); v != 0 {
		t.Fatalf("strata_pacing_limited %v before reads", v)
	}
	e.slowReads(3 * time.Millisecond)
	e.intervals(3)
	if v := metricValue(t, e.env, "strata_pacing_backoffs_total"); v < 1 {
		t.Fatalf("strata_pacing_backoffs_total %v after slow reads beside uploads", v)
	}
	rate := metricValue(t, e.env, "strata_pacing_upload_rate_bytes")
	if rate <= 0 || metricValue(t, e.env, "strata_pacing_limited") != 1 {
		t.Fatalf("upload rate %v, limited %v: want a limit", rate, metricValue(t, e.env, "strata_pacing_limited"))
	}
	if p99 := metricValue(t, e.env, "strata_pacing_read_p99_seconds"); p99 < 0.003 {
		t.Fatalf("strata_pacing_read_p99_seconds %v, want at least the 3ms reads took", p99)
	}
	slept := e.upload("big", 4<<20)
	// 4 MiB at the limit, less the bucket's 50ms burst, in 64 KiB steps.
	want := time.Duration((float64(4<<20) - rate*0.05) / rate * float64(time.Second))
	if got := sum(slept); got < want*9/10 || got > want*11/10 {
		t.Fatalf("a 4 MiB upload waited %v in %d steps, want about %v at %v B/s", got, len(slept), want, rate)
	}
	if len(slept) < 32 {
		t.Fatalf("%d waits for 4 MiB: want the body read in steps of at most 64 KiB", len(slept))
	}
	if v := metricValue(t, e.env, "strata_pacing_upload_wait_seconds_total"); v < want.Seconds()*0.9 {
		t.Fatalf("strata_pacing_upload_wait_seconds_total %v, want at least %v", v, want.Seconds())
	}

	// No reads for a whole window: the limit is lifted.
	e.slowReads(0)
	for range 11 {
		e.upload("big", 1<<20)
		e.advance(100 * time.Millisecond)
	}
	if slept := e.upload("big", 4<<20); len(slept) != 0 {
		t.Fatalf("uploads waited %v a window after the last read", sum(slept))
	}
	if v := metricValue(t, e.env, "strata_pacing_limited"); v != 0 {
		t.Fatalf("strata_pacing_limited %v without reads", v)
	}
}

// Which reads count: slow reads from the disk tiers, and slow reads with
// pacing off, never hold uploads back.
func TestPacingIgnoresWhatItCannotHelp(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tier   string
		mutate func(*node.Config)
	}{
		{"hdd reads", "hdd", nil},
		{"ssd reads", "ssd", nil},
		{"pacing off", "ram", func(c *node.Config) { c.Pacing.Enabled = false }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newPacingEnv(t, tc.tier, tc.mutate)
			e.put("hot", strings.Repeat("h", 1024))
			e.slowReads(3 * time.Millisecond)
			e.intervals(3)
			if slept := e.upload("big", 4<<20); len(slept) != 0 {
				t.Fatalf("upload waited %v", sum(slept))
			}
			if v := metricValue(t, e.env, "strata_pacing_backoffs_total"); v != 0 {
				t.Fatalf("strata_pacing_backoffs_total %v", v)
			}
			wantEnabled := 1.0
			if tc.mutate != nil {
				wantEnabled = 0
			}
			if v := metricValue(t, e.env, "strata_pacing_enabled"); v != wantEnabled {
				t.Fatalf("strata_pacing_enabled %v, want %v", v, wantEnabled)
			}
		})
	}
}

// A paced upload whose client goes away while it waits stops at that
// wait: the PUT fails, nothing more is read and nothing is stored.
func TestPacedUploadCancelled(t *testing.T) {
	e := newPacingEnv(t, "ram", nil)
	e.put("hot", strings.Repeat("h", 1024))
	e.slowReads(3 * time.Millisecond)
	e.intervals(3)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e.mu.Lock()
	e.onSleep = cancel
	e.mu.Unlock()
	body := bytes.NewReader(make([]byte, 4<<20))
	w := e.serve(newRequest(http.MethodPut, "/blobs/gone", body).WithContext(ctx))
	if w.Code == http.StatusCreated {
		t.Fatalf("cancelled paced upload answered %d", w.Code)
	}
	if slept := e.takeSlept(); len(slept) != 1 {
		t.Fatalf("%d waits, want the upload to stop at the first", len(slept))
	}
	if body.Len() == 0 {
		t.Fatal("the whole body was read after the wait was cancelled")
	}
	if _, ok := e.store.Bytes("gone"); ok {
		t.Fatal("a cancelled upload was stored")
	}
}

// The [pacing] table loads, defaults and validates.
func TestPacingConfig(t *testing.T) {
	d := node.DefaultConfig("")
	if !d.Pacing.Enabled || d.Pacing.ReadLatencyTarget != node.DefaultReadLatencyTarget || d.Pacing.MinUploadRate != node.DefaultMinUploadRate {
		t.Fatalf("defaults %+v", d.Pacing)
	}
	for _, tc := range []struct {
		name   string
		mutate func(*node.PacingConfig)
		err    string
	}{
		{"defaults", func(*node.PacingConfig) {}, ""},
		{"off", func(p *node.PacingConfig) { p.Enabled = false }, ""},
		{"zero target", func(p *node.PacingConfig) { p.ReadLatencyTarget = 0 }, "pacing.read_latency_target"},
		{"hour target", func(p *node.PacingConfig) { p.ReadLatencyTarget = time.Hour }, "pacing.read_latency_target"},
		{"zero floor", func(p *node.PacingConfig) { p.MinUploadRate = 0 }, "pacing.min_upload_rate"},
		{"ratio off", func(p *node.PacingConfig) { p.ReadLatencyRatio = 0 }, ""},
		{"ratio under 1", func(p *node.PacingConfig) { p.ReadLatencyRatio = 0.5 }, "pacing.read_latency_ratio"},
		{"ratio negative", func(p *node.PacingConfig) { p.ReadLatencyRatio = -1 }, "pacing.read_latency_ratio"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := node.DefaultConfig(t.TempDir())
			tc.mutate(&c.Pacing)
			err := c.Validate()
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("Validate: %v, want %q", err, tc.err)
			}
		})
	}
}

// The S3 seam paces with the same budget: PaceUpload's reader waits while
// uploads are limited, and is the body itself with pacing off.
func TestPaceUploadSeam(t *testing.T) {
	e := newPacingEnv(t, "ram", nil)
	e.put("hot", strings.Repeat("h", 1024))
	e.slowReads(3 * time.Millisecond)
	e.intervals(3)
	r := e.srv.PaceUpload(context.Background(), bytes.NewReader(make([]byte, 4<<20)))
	if n, err := io.Copy(io.Discard, r); err != nil || n != 4<<20 {
		t.Fatalf("copy: %d %v", n, err)
	}
	if slept := e.takeSlept(); len(slept) < 32 {
		t.Fatalf("%d waits for 4 MiB through PaceUpload under a limit", len(slept))
	}

	off := newPacingEnv(t, "ram", func(c *node.Config) { c.Pacing.Enabled = false })
	body := bytes.NewReader(nil)
	if got := off.srv.PaceUpload(context.Background(), body); got != io.Reader(body) {
		t.Fatalf("pacing off: PaceUpload wrapped the body in %T", got)
	}
}
