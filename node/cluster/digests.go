package cluster

import (
	"context"
	"fmt"
	"sync"
	"time"

	"strata/blockstore"
	"strata/node/placement"
	"strata/node/replication"
)

// scanPage is how many index entries one Local.Scan call returns to the
// background passes (digest rebuild, entries listing, rebalancing).
const scanPage = 512

// digestState holds this node's anti-entropy digests (one per peer) under
// the view they were built for, and a rebuild in progress.
//
// A rebuild reads the index page by page under mu, and noteApplied takes
// mu too: a change to a key the rebuild has already passed goes into both
// tables, a change to a key ahead of it only into the current one (the
// rebuild will read the new entry). The one window left is a change
// applied to the index but not yet noted when its page is read; the
// bucket is then off until the next rebuild, which costs an extra entries
// listing per round and never a wrong copy (pulls compare entries, not
// buckets).
type digestState struct {
	mu        sync.Mutex
	table     *replication.DigestTable // nil until the first rebuild ends
	tableView *view
	building  *replication.DigestTable // non-nil while a rebuild runs
	buildView *view
	cursor    string // the building table holds every key <= cursor ("" none: keys are never empty)
}

// sharedWith lists the other homes of key under v when this node is one
// of them (the peers whose digests the key is in); nil otherwise.
func (c *Cluster) sharedWith(v *view, key string) []string {
	var s sharing
	return s.with(c, v, key)
}

// sharing is reusable scratch for sharedWith, so a rebuild over millions
// of keys places each without allocating.
type sharing struct {
	homes []placement.Member
	peers []string
}

// with is sharedWith into s's buffers: the result is valid until the next
// call.
func (s *sharing) with(c *Cluster, v *view, key string) []string {
	s.peers = s.peers[:0]
	if v.ring == nil {
		return nil
	}
	s.homes = v.ring.AppendReplicas(s.homes[:0], key, c.opts.Replicas)
	self := false
	for _, h := range s.homes {
		if h.ID == v.self.ID {
			self = true
		} else {
			s.peers = append(s.peers, h.ID)
		}
	}
	if !self {
		return nil
	}
	return s.peers
}

// placedPeers lists the placed members of v other than this node.
func placedPeers(v *view) []string {
	var out []string
	for _, m := range v.members {
		if m.Placed() && m.ID != v.self.ID {
			out = append(out, m.ID)
		}
	}
	return out
}

func (d *digestState) note(c *Cluster, key string, old, cur blockstore.Entry) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.table != nil {
		d.table.Update(c.sharedWith(d.tableView, key), key, old, cur)
	}
	if d.building != nil && d.cursor != "" && key <= d.cursor {
		d.building.Update(c.sharedWith(d.buildView, key), key, old, cur)
	}
}

// rebuildDigests recomputes every peer's digest from Local.Scan (the index
// only, never data) under the current view, and swaps it in when done.
func (b *background) rebuildDigests(ctx context.Context) error {
	c, d := b.c, &b.digests
	v := c.currentView()
	t := replication.NewDigestTable(v.hash, placedPeers(v))
	var sh sharing
	d.mu.Lock()
	d.building, d.buildView, d.cursor = t, v, ""
	d.mu.Unlock()
	after := ""
	for {
		d.mu.Lock()
		page, err := c.opts.Local.Scan(ctx, after, scanPage)
		if err != nil {
			d.building, d.buildView = nil, nil
			d.mu.Unlock()
			return fmt.Errorf("cluster: digest rebuild: %w", err)
		}
		for _, e := range page {
			t.Add(sh.with(c, v, e.Key), e)
		}
		if len(page) > 0 {
			after = page[len(page)-1].Key
			d.cursor = after
		}
		done := len(page) < scanPage
		if done {
			d.table, d.tableView = t, v
			d.building, d.buildView = nil, nil
		}
		d.mu.Unlock()
		if done {
			b.counters.digestRebuilds.Add(1)
			return nil
		}
	}
}

// digestRefreshRounds: besides view changes, the digests are rebuilt
// every this many anti-entropy intervals (about an hour by default), so a
// bucket knocked off by the races the Caveats in doc.go name is right
// again within that time. A rebuild reads the index only.
const digestRefreshRounds = 64

// digestLoop rebuilds the digests at start, whenever the view's hash
// changes, and every digestRefreshRounds anti-entropy intervals.
func (b *background) digestLoop(ctx context.Context) {
	refresh := time.NewTicker(digestRefreshRounds * b.c.opts.AntiEntropyInterval)
	defer refresh.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-b.rebuildWake:
		case <-refresh.C:
		}
		if err := b.rebuildDigests(ctx); err != nil && ctx.Err() == nil {
			b.c.log.Warn("cluster: digest rebuild failed; retrying", "err", err)
			if sleep(ctx, b.c.opts.AntiEntropyInterval) {
				wake(b.rebuildWake)
			}
			continue
		}
		// Immediate rounds waiting for digests under this view can run.
		wake(b.aeSoon.wake)
	}
}

// localDigest is this node's digest for peer under its table's view.
func (b *background) localDigest(forPeer string) (replication.Digest, *view, error) {
	d := &b.digests
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.table == nil {
		return replication.Digest{}, nil, fmt.Errorf("%w: digests not built yet", replication.ErrViewMismatch)
	}
	dg, ok := d.table.Digest(forPeer)
	if !ok {
		return replication.Digest{}, nil, fmt.Errorf("%w: %q is not a placed peer under view %016x", replication.ErrViewMismatch, forPeer, d.table.View())
	}
	return dg, d.tableView, nil
}

// digestViewFor is the view the digests were built under, when forPeer
// has one.
func (b *background) digestViewFor(forPeer string) (*view, error) {
	d := &b.digests
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.table == nil || !d.table.Has(forPeer) {
		return nil, fmt.Errorf("%w: no digest for %q yet", replication.ErrViewMismatch, forPeer)
	}
	return d.tableView, nil
}

// digest is the local digest of the keys shared with member forPeer
// (peer.Backend's Digest).
func (b *background) digest(ctx context.Context, forPeer string) (replication.Digest, error) {
	dg, _, err := b.localDigest(forPeer)
	return dg, err
}

// maxEntriesLimit bounds one entries answer.
const maxEntriesLimit = 4096

// entries lists local entries (tombstones and corrupt ones included) of
// the keys shared with forPeer under the digests' view, in the given
// buckets, after startAfter, in key order: up to limit (peer.Backend's
// Entries). It reads the index only.
func (b *background) entries(ctx context.Context, forPeer string, buckets []int, startAfter string, limit int) ([]blockstore.Entry, error) {
	var want [replication.DigestBuckets]bool
	for _, bk := range buckets {
		if bk < 0 || bk >= replication.DigestBuckets {
			return nil, fmt.Errorf("%w: bucket %d out of [0,%d)", replication.ErrBadDigest, bk, replication.DigestBuckets)
		}
		want[bk] = true
	}
	if limit <= 0 || limit > maxEntriesLimit {
		limit = maxEntriesLimit
	}
	v, err := b.digestViewFor(forPeer)
	if err != nil {
		return nil, err
	}
	var out []blockstore.Entry
	var sh sharing
	after := startAfter
	for {
		page, err := b.c.opts.Local.Scan(ctx, after, scanPage)
		if err != nil {
			return nil, fmt.Errorf("cluster: entries: %w", err)
		}
		for _, e := range page {
			if !want[replication.BucketOf(e.Key)] || !sharesWith(sh.with(b.c, v, e.Key), forPeer) {
				continue
			}
			out = append(out, e)
			if len(out) == limit {
				return out, nil
			}
		}
		if len(page) < scanPage {
			return out, nil
		}
		after = page[len(page)-1].Key
	}
}

func sharesWith(shared []string, id string) bool {
	for _, s := range shared {
		if s == id {
			return true
		}
	}
	return false
}
