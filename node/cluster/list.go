package cluster

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"strata/blockstore"
	"strata/node/membership"
	"strata/node/replication"
)

// listPage is how many entries a listing asks one member for at a time.
const listPage = 1024

// List returns up to limit live blobs whose keys start with prefix and
// sort after startAfter, in key order: it scatters to every reachable
// member (this node's index directly, the others through Peer.Entries
// asking each for the keys it shares with itself, that is all of them)
// and merges by key, the newest entry winning, so a tombstone on one home
// hides an older copy on another. Each key lives on N homes, so the answer
// is complete while at most N-R placed members are missing (down or
// failing); with more missing it fails with ErrNoQuorum rather than leave
// keys out silently.
func (c *Cluster) List(ctx context.Context, prefix, startAfter string, limit int) ([]blockstore.Info, error) {
	if limit <= 0 {
		return nil, nil
	}
	v := c.currentView()
	from := startAfter
	if prefix != "" {
		from = max(from, justBefore(prefix))
	}
	tolerate := c.opts.Replicas - c.opts.ReadQuorum
	missing := 0
	var sources []*listSource
	for _, m := range v.members {
		switch {
		case m.ID == v.self.ID || m.Reachable():
			sources = append(sources, &listSource{c: c, member: m, self: m.ID == v.self.ID, after: from, more: true})
		case m.Placed():
			missing++
		}
	}
	if missing > tolerate {
		return nil, fmt.Errorf("%w: list: %d placed members unreachable, at most %d may be", replication.ErrNoQuorum, missing, tolerate)
	}

	// First pages in parallel; later ones as the merge needs them.
	var wg sync.WaitGroup
	for _, s := range sources {
		wg.Add(1)
		go func() { defer wg.Done(); s.fill(ctx) }()
	}
	wg.Wait()

	var out []blockstore.Info
	for len(out) < limit {
		for _, s := range sources {
			if s.err == nil && len(s.page) == 0 && s.more {
				s.fill(ctx)
			}
		}
		for _, s := range sources {
			if s.err != nil && !s.counted {
				s.counted = true
				if s.member.Placed() {
					missing++
				}
			}
		}
		if missing > tolerate {
			return nil, fmt.Errorf("%w: list: %d placed members missing, at most %d may be", replication.ErrNoQuorum, missing, tolerate)
		}
		key, ok := smallestHead(sources)
		if !ok || key > prefix && !strings.HasPrefix(key, prefix) {
			break // every key left sorts past the prefix's keys
		}
		var newest blockstore.Entry
		found := false
		for _, s := range sources {
			if s.err == nil && len(s.page) > 0 && s.page[0].Key == key {
				if !found || replication.Newer(s.page[0], newest) {
					newest, found = s.page[0], true
				}
				s.page = s.page[1:]
			}
		}
		if !newest.Deleted && !newest.Corrupt && strings.HasPrefix(key, prefix) {
			out = append(out, newest.Info)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// listSource is one member's entries in key order, fetched a page at a
// time.
type listSource struct {
	c       *Cluster
	member  membership.Member
	self    bool
	after   string             // fetch the next page after this key
	page    []blockstore.Entry // fetched, not merged yet
	more    bool               // the member may have entries past page
	err     error
	counted bool // err already counted as a missing member
}

func (s *listSource) fill(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, s.c.opts.ReplicaTimeout)
	defer cancel()
	var page []blockstore.Entry
	var err error
	if s.self {
		page, err = s.c.opts.Local.Scan(ctx, s.after, listPage)
	} else {
		// forPeer the member itself, no buckets: every entry it holds.
		page, err = s.c.opts.Peer.Entries(ctx, s.member.HTTPAddr, s.member.ID, nil, s.after, listPage)
	}
	if err != nil {
		s.err = fmt.Errorf("cluster: list on %s: %w", s.member.ID, err)
		s.c.log.Warn("cluster: list: member failed", "member", s.member.ID, "err", err)
		return
	}
	s.page = page
	s.more = len(page) == listPage
	if len(page) > 0 {
		s.after = page[len(page)-1].Key
	}
}

// smallestHead is the smallest key at the head of any source's page.
func smallestHead(sources []*listSource) (string, bool) {
	var key string
	found := false
	for _, s := range sources {
		if s.err == nil && len(s.page) > 0 && (!found || s.page[0].Key < key) {
			key, found = s.page[0].Key, true
		}
	}
	return key, found
}

// justBefore returns a short key that sorts before every key with the
// given (non-empty) prefix, so a listing "after" it starts at or shortly
// before the prefix's keys: the prefix with its last byte decremented (the
// few keys between it and the prefix are skipped by the merge).
func justBefore(prefix string) string {
	last := prefix[len(prefix)-1]
	if last == 0 {
		return prefix[:len(prefix)-1]
	}
	return prefix[:len(prefix)-1] + string([]byte{last - 1})
}
