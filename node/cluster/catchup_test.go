package cluster

import (
	"context"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"strata/blockstore"
	"strata/internal/poll"
	"strata/node/membership"
)

// gatedLocal is a fake store whose Puts, once armed, wait for release
// after a number of free passes; it tracks how many wait at once.
type gatedLocal struct {
	*memLocal
	armed    atomic.Bool
	passes   atomic.Int64
	release  chan struct{}
	inflight atomic.Int64
	maxSeen  atomic.Int64
}

func (g *gatedLocal) Put(ctx context.Context, key string, r io.Reader, size int64, opts blockstore.PutOptions) (blockstore.Info, error) {
	if g.armed.Load() && g.passes.Add(-1) < 0 {
		n := g.inflight.Add(1)
		for {
			m := g.maxSeen.Load()
			if n <= m || g.maxSeen.CompareAndSwap(m, n) {
				break
			}
		}
		<-g.release
		g.inflight.Add(-1)
	}
	return g.memLocal.Put(ctx, key, r, size, opts)
}

// newGatedCluster is a 3-node fake cluster whose n3 stores through a
// gatedLocal, returned.
func newGatedCluster(t *testing.T, opts func(*Options)) (*bgCluster, *gatedLocal) {
	gate := &gatedLocal{memLocal: newBGLocal(time.Now), release: make(chan struct{})}
	tc := newBGClusterWith(t, 3, opts, func(id string) Local {
		if id == "n3" {
			return gate
		}
		return newBGLocal(time.Now)
	})
	return tc, gate
}

// An anti-entropy round runs AntiEntropyConcurrency pulls at once (their
// writes share group commits on a real store), never more.
func TestAntiEntropyPullsRunConcurrently(t *testing.T) {
	tc, gate := newGatedCluster(t, func(o *Options) { o.AntiEntropyConcurrency = 4 })
	tc.rebuild()
	tc.stop("n3")
	want := writeKeys(tc, "n1", testKeys(40), 1)
	tc.restart("n3")
	tc.rebuild()
	gate.armed.Store(true)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tc.nodes["n3"].c.bg.antiEntropyRound(context.Background())
	}()
	poll.Until(t, "four pulls waiting at once", func() bool { return gate.inflight.Load() == 4 })
	close(gate.release)
	<-done
	if m := gate.maxSeen.Load(); m != 4 {
		t.Errorf("%d pulls at once, want AntiEntropyConcurrency 4", m)
	}
	assertHoldsAll(t, tc, "n3", want)
}

// Hint replay runs HintReplayConcurrency replays of distinct keys at once
// after the batch's first (the probe), never more.
func TestHintReplaysRunConcurrently(t *testing.T) {
	tc, gate := newGatedCluster(t, func(o *Options) { o.HintReplayConcurrency = 3 })
	tc.stop("n3")
	want := writeKeys(tc, "n1", testKeys(20), 1)
	tc.restart("n3")
	gate.armed.Store(true)
	gate.passes.Store(1) // the probe
	done := make(chan struct{})
	go func() {
		defer close(done)
		tc.nodes["n1"].c.bg.replayHints(context.Background(), func() bool { return true })
	}()
	poll.Until(t, "three replays waiting at once", func() bool { return gate.inflight.Load() == 3 })
	close(gate.release)
	<-done
	if m := gate.maxSeen.Load(); m != 3 {
		t.Errorf("%d replays at once, want HintReplayConcurrency 3", m)
	}
	assertHoldsAll(t, tc, "n3", want)
	if st := tc.nodes["n1"].c.bg.status(); len(st.HintsPending) != 0 {
		t.Errorf("hints left: %v", st.HintsPending)
	}
}

// A peer that becomes reachable is marked for an anti-entropy round at
// once; one that stays reachable, or this node, is not.
func TestPeerThatComesBackGetsAnImmediateRound(t *testing.T) {
	tc := newBGCluster(t, 3, nil)
	n1 := tc.nodes["n1"].c.bg
	n1.aeSoon.take()
	tc.stop("n3")
	if got := n1.aeSoon.take(); len(got) != 0 {
		t.Fatalf("marked %v after n3 went down, want none", got)
	}
	tc.restart("n3")
	if got := n1.aeSoon.take(); len(got) != 1 || got["n3"] != aeSoonTries {
		t.Fatalf("marked %v after n3 came back, want n3 alone", got)
	}
	select {
	case <-n1.aeSoon.wake:
	default:
		t.Error("the anti-entropy loop was not woken")
	}
}

// A node that starts (a restart: same store, new process) pulls what it
// missed at once, not an AntiEntropyInterval later, with hints off so only
// anti-entropy can bring it.
func TestRestartedNodePullsAtOnce(t *testing.T) {
	tc := newBGCluster(t, 3, func(o *Options) {
		o.AntiEntropyInterval = time.Hour
		o.HintsPath = ""
	})
	ctx := context.Background()
	for _, id := range tc.ids() {
		tc.nodes[id].c.Start(ctx)
	}
	poll.Until(t, "digests built", func() bool {
		for _, id := range tc.ids() {
			if tc.nodes[id].c.bg.status().DigestRebuilds == 0 {
				return false
			}
		}
		return true
	})
	tc.stop("n3")
	want := writeKeys(tc, "n1", testKeys(30), 1)
	// n3's process ends; a new one starts over the same store.
	old := tc.nodes["n3"].c
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	tc.net.setDown("n3", false)
	tc.world.update("n3", func(m *membership.Member) { m.State = membership.Alive })
	c, err := New(old.opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	tc.nodes["n3"].c = c
	tc.net.mu.Lock()
	tc.net.nodes["n3"] = c
	tc.net.mu.Unlock()
	tc.refresh()
	c.Start(ctx)
	poll.Until(t, "the restarted n3 to hold every key", func() bool {
		for k, w := range want {
			if e, _ := tc.nodes["n3"].entry(k); e.Version != w.version {
				return false
			}
		}
		return true
	})
	if st := c.bg.status(); st.AntiEntropySoonRounds == 0 {
		t.Errorf("no immediate round counted: %+v", st)
	}
}
