package tiering

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"strata/blockstore"
	"strata/internal/poll"
	"strata/ioengine"
)

// waitIdle waits until every queued admission has been copied into a
// region buffer. It polls: no timing is asserted.
func (s *ssdCache) waitIdle(t testing.TB) {
	t.Helper()
	poll.Until(t, "the SSD admission queue to drain", s.idle)
}

// flushAll seals the fill region and waits until every region is on flash.
func (s *ssdCache) flushAll(t testing.TB) {
	t.Helper()
	s.waitIdle(t)
	s.mu.Lock()
	if r, ok := s.core.sealFill(); ok {
		s.flushQ <- r
	}
	s.mu.Unlock()
	poll.Until(t, "every SSD region on flash", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, r := range s.core.regions {
			if r.state == regionFlushing || r.state == regionReclaiming {
				return false
			}
		}
		return true
	})
}

type testEnv struct {
	t  *testing.T
	fb *fakeBackend
	s  *Store
	o  Options
}

// smallOpts is a store with small caches on the real filesystem in a
// temporary directory: 256 KiB regions, 16 KiB segments.
func smallOpts(t *testing.T, fb *fakeBackend) Options {
	return Options{
		Backend:         fb,
		RAMCacheBytes:   256 << 10,
		SSDCacheBytes:   4 << 20,
		SSDPath:         filepath.Join(t.TempDir(), "ssd", "cache"),
		FS:              ioengine.OSFS(),
		RegionSize:      256 << 10,
		RAMMaxItemBytes: 16 << 10,
		SSDMaxItemBytes: 64 << 10,
	}
}

func openEnv(t *testing.T, o Options) *testEnv {
	t.Helper()
	s, err := Open(context.Background(), o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	e := &testEnv{t: t, fb: o.Backend.(*fakeBackend), s: s, o: o}
	t.Cleanup(func() { s.Close() })
	return e
}

func randBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func (e *testEnv) put(key string, data []byte) blockstore.Info {
	e.t.Helper()
	info, err := e.s.Put(context.Background(), key, bytes.NewReader(data), int64(len(data)), blockstore.PutOptions{})
	if err != nil {
		e.t.Fatalf("Put %q: %v", key, err)
	}
	return info
}

// get reads the whole blob and returns its bytes and the tier that served
// it, once the fills its read queued are applied (the next read sees them).
func (e *testEnv) get(key string) ([]byte, string, error) {
	o, err := e.s.Open(context.Background(), key)
	if err != nil {
		return nil, "", err
	}
	defer o.Close()
	b, err := io.ReadAll(o)
	e.s.waitFilled(e.t)
	return b, o.Tier(), err
}

// waitFilled waits until every queued cache fill is applied. It polls: no
// timing is asserted.
func (s *Store) waitFilled(t testing.TB) {
	t.Helper()
	if s.fills != nil {
		poll.Until(t, "the fill queue to drain", s.fills.idle)
	}
}

func (e *testEnv) mustGet(key string, want []byte) string {
	e.t.Helper()
	got, tier, err := e.get(key)
	if err != nil {
		e.t.Fatalf("get %q: %v", key, err)
	}
	if !bytes.Equal(got, want) {
		e.t.Fatalf("get %q: %d bytes differ from the %d written (tier %s)", key, len(got), len(want), tier)
	}
	return tier
}
