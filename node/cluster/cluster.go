package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"strata/internal/keylock"
)

// Options configure a Cluster. Local, Peer and Members are required.
type Options struct {
	Local   Local
	Peer    Peer
	Members Members

	// Replicas (N), WriteQuorum (W) and ReadQuorum (R). Defaults 3, 2, 2.
	Replicas, WriteQuorum, ReadQuorum int
	// ReplicaTimeout bounds a replica request that makes no progress (no
	// body bytes taken, no answer); past it the replica counts as failed
	// and gets a hint. Default 10s.
	ReplicaTimeout time.Duration

	// HintsPath is the durable hint store's file (hints.db next to the
	// index); HintsMaxBytes bounds it (default 64 MiB): past it new hints
	// are dropped (counted) and anti-entropy covers them. HintReplayRate
	// bounds replays per second (default 1000), HintReplayConcurrency the
	// replays in flight at once (default 8); their bytes count against
	// AntiEntropyBytesPerSec.
	HintsPath             string
	HintsMaxBytes         int64
	HintReplayRate        float64
	HintReplayConcurrency int

	// AntiEntropyInterval is the pause between anti-entropy rounds with
	// each peer (default 1m); a peer that becomes reachable gets a round
	// at once. AntiEntropyBytesPerSec bounds the bytes anti-entropy pulls,
	// rebalancing pushes and hint replays copy, together (default 32
	// MiB/s); AntiEntropyConcurrency bounds a round's pulls in flight at
	// once (default 8).
	AntiEntropyInterval    time.Duration
	AntiEntropyBytesPerSec int64
	AntiEntropyConcurrency int

	// TombstoneGrace is how long a tombstone must be kept before
	// compaction may drop it (default 10 days), and then only once every
	// home replica holds it.
	TombstoneGrace time.Duration

	// SetDraining marks this node draining (or not) in the gossiped
	// membership, so placement moves its keys away: Drain calls it.
	// node/membership's SetDraining, wired by cmd; nil: Drain refuses.
	SetDraining func(bool) error

	// Now is the clock (tests move it); default time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Defaults of the background rates (Options).
const (
	DefaultHintReplayRate         = 1000     // hint replays per second
	DefaultAntiEntropyBytesPerSec = 32 << 20 // background copies, bytes per second
	// DefaultBackgroundConcurrency is the default of HintReplayConcurrency
	// and AntiEntropyConcurrency: copies in flight at once, so their
	// replica writes share group commits instead of paying an fdatasync
	// each in turn.
	DefaultBackgroundConcurrency = 8
)

func (o *Options) setDefaults() error {
	if o.Local == nil || o.Peer == nil || o.Members == nil {
		return errors.New("cluster: Options need Local, Peer and Members")
	}
	if o.Replicas == 0 {
		o.Replicas = 3
	}
	if o.WriteQuorum == 0 {
		o.WriteQuorum = min(2, o.Replicas)
	}
	if o.ReadQuorum == 0 {
		o.ReadQuorum = min(2, o.Replicas)
	}
	if o.Replicas < 1 || o.WriteQuorum < 1 || o.WriteQuorum > o.Replicas || o.ReadQuorum < 1 || o.ReadQuorum > o.Replicas {
		return fmt.Errorf("cluster: replicas %d, write quorum %d, read quorum %d: want 1 <= W,R <= N", o.Replicas, o.WriteQuorum, o.ReadQuorum)
	}
	if o.ReplicaTimeout <= 0 {
		o.ReplicaTimeout = 10 * time.Second
	}
	if o.HintsMaxBytes <= 0 {
		o.HintsMaxBytes = 64 << 20
	}
	if o.HintReplayRate <= 0 {
		o.HintReplayRate = DefaultHintReplayRate
	}
	if o.HintReplayConcurrency <= 0 {
		o.HintReplayConcurrency = DefaultBackgroundConcurrency
	}
	if o.AntiEntropyConcurrency <= 0 {
		o.AntiEntropyConcurrency = DefaultBackgroundConcurrency
	}
	if o.AntiEntropyInterval <= 0 {
		o.AntiEntropyInterval = time.Minute
	}
	if o.AntiEntropyBytesPerSec <= 0 {
		o.AntiEntropyBytesPerSec = DefaultAntiEntropyBytesPerSec
	}
	if o.TombstoneGrace <= 0 {
		o.TombstoneGrace = 10 * 24 * time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Cluster is the coordinator and replica side of one node: it implements
// node.Store for the HTTP API (quorum writes and reads over the key's home
// replicas) and peer.Backend for the internal routes.
type Cluster struct {
	opts Options
	log  *slog.Logger
	view atomic.Pointer[view]

	// bg is the background machinery: hints, anti-entropy, rebalancing.
	bg *background

	// locks serializes the replica applies of one key (replica.go).
	locks *keylock.Set
	// bufs recycles the fan-out buffers of replicated PUTs (write.go).
	bufs sync.Pool
	// stragglers counts replica requests still running after their write
	// was answered; Close waits for them (each is bounded by ReplicaTimeout).
	stragglers sync.WaitGroup
	// versionTag is the low bits of this node's write versions
	// (writeVersion).
	versionTag uint64
	// watch sees the hints and repairs the coordinator asks for; nil in
	// production (the package's tests set it).
	watch *watcher

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New builds a Cluster over opts; Start runs its background work.
func New(opts Options) (*Cluster, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	c := &Cluster{opts: opts, log: opts.Logger, locks: keylock.New(), versionTag: versionTagOf(opts.Members.Self().ID)}
	c.bufs.New = func() any { return new([fanOutBufSize]byte) }
	if err := c.refreshView(); err != nil {
		return nil, err
	}
	bg, err := newBackground(c)
	if err != nil {
		return nil, err
	}
	c.bg = bg
	return c, nil
}

// refreshView takes a new membership snapshot.
func (c *Cluster) refreshView() error {
	v, err := newView(c.opts.Members.Self(), c.opts.Members.Members())
	if err != nil {
		return err
	}
	old := c.view.Swap(v)
	if c.bg != nil && (old == nil || old.hash != v.hash || !sameStates(old, v)) {
		c.bg.viewChanged(old, v)
	}
	return nil
}

// sameStates reports whether two views agree on every member's state.
func sameStates(a, b *view) bool {
	if len(a.members) != len(b.members) {
		return false
	}
	for i := range a.members {
		if a.members[i] != b.members[i] {
			return false
		}
	}
	return true
}

func (c *Cluster) currentView() *view { return c.view.Load() }

// Start runs the membership watcher and the background work until Close.
func (c *Cluster) Start(ctx context.Context) {
	ctx, c.cancel = context.WithCancel(ctx)
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case <-c.opts.Members.Changes():
				if err := c.refreshView(); err != nil {
					c.log.Error("cluster: membership view", "err", err)
				}
			}
		}
	}()
	c.bg.start(ctx)
}

// Close stops the background work. It does not close Local.
func (c *Cluster) Close() error {
	if c.cancel != nil {
		c.cancel()
	}
	c.wg.Wait()
	c.stragglers.Wait()
	return c.bg.close()
}
