package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"strata/blockstore"
	"strata/node"
	"strata/node/membership"
	"strata/node/replication"
)

// readPlan is what a read decided before touching any bytes: the newest
// version's metadata and where to read it.
type readPlan struct {
	info blockstore.Info
	// holders hold exactly info.Version readable, in read order (this node
	// first when it is one of them).
	holders []membership.Member
	// spare are reachable homes not asked yet; the reader looks them up
	// when every holder failed.
	spare []membership.Member
}

// Stat returns the metadata of the key's newest live version, from a read
// quorum of home index lookups (no data read).
func (c *Cluster) Stat(ctx context.Context, key string) (blockstore.Info, error) {
	if err := blockstore.ValidateKey(key); err != nil {
		return blockstore.Info{}, err
	}
	plan, err := c.planRead(ctx, key)
	if err != nil {
		return blockstore.Info{}, err
	}
	return plan.info, nil
}

// Open asks R homes for the key's version (index only), then opens the
// newest version for reading from one home that holds it, this node first;
// the bytes come from that one home (one disk read in the cluster for a
// cold blob) and, when it fails, from another holder of the same version.
// A node that is not a home proxies (Tier "peer") and caches nothing.
// node.ConsistencyOne(ctx) skips the quorum: see planOne.
func (c *Cluster) Open(ctx context.Context, key string) (node.Object, error) {
	if err := blockstore.ValidateKey(key); err != nil {
		return nil, err
	}
	plan, err := c.planRead(ctx, key)
	if err != nil {
		return nil, err
	}
	return c.openObject(ctx, key, plan)
}

// planRead resolves a read: newest version among R home answers, stale
// homes sent to read repair, tombstone or nothing as ErrNotFound.
func (c *Cluster) planRead(ctx context.Context, key string) (readPlan, error) {
	v := c.currentView()
	order := readOrder(v, v.homes(key, c.opts.Replicas))
	if node.ConsistencyOne(ctx) {
		return c.planOne(ctx, v, key, order)
	}
	answers, asked := c.lookupQuorum(ctx, v.self.ID, key, order, c.opts.ReadQuorum)
	res, err := replication.ResolveRead(v.self.ID, answers, c.opts.ReadQuorum)
	if err != nil {
		return readPlan{}, fmt.Errorf("cluster: read %q: %w", key, err)
	}
	if !res.Found {
		return readPlan{}, fmt.Errorf("cluster: %q: %w", key, blockstore.ErrNotFound)
	}
	c.opts.Local.ObserveVersion(res.Newest.Version)
	c.repair(key, res.Newest.Version, res.Stale)
	if res.Newest.Deleted {
		return readPlan{}, fmt.Errorf("cluster: %q: %w (deleted at version %d)", key, blockstore.ErrNotFound, res.Newest.Version)
	}
	plan := readPlan{info: res.Newest.Info, spare: order[asked:]}
	for _, id := range res.Holders {
		plan.holders = append(plan.holders, v.byID[id])
	}
	if res.Newest.Corrupt {
		// Every answer at the newest version is marked corrupt: the homes
		// not asked may hold it readable. Their metadata is the real one.
		info, holders := c.lookupSpare(ctx, v.self.ID, key, res.Newest.Version, plan.spare)
		if len(holders) == 0 {
			return readPlan{}, fmt.Errorf("cluster: %q version %d: %w on every home that answered", key, res.Newest.Version, blockstore.ErrCorrupt)
		}
		plan.info, plan.holders, plan.spare = info, holders, nil
	}
	return plan, nil
}

// planOne is the single-replica read (?consistency=one): this node's own
// copy when it is a home, else the first reachable home, without comparing
// versions. A home with no entry, or only a corrupt one, hands over to the
// next; the first entry found decides (a tombstone: ErrNotFound).
func (c *Cluster) planOne(ctx context.Context, v *view, key string, order []membership.Member) (readPlan, error) {
	answered := 0
	for i, m := range order {
		a := c.lookupHome(ctx, v.self.ID, m, key)
		if a.Err != nil {
			if ctx.Err() != nil {
				return readPlan{}, ctx.Err()
			}
			continue
		}
		answered++
		if !a.Found || a.Entry.Corrupt {
			continue
		}
		if a.Entry.Deleted {
			return readPlan{}, fmt.Errorf("cluster: %q: %w (deleted at version %d)", key, blockstore.ErrNotFound, a.Entry.Version)
		}
		return readPlan{info: a.Entry.Info, holders: []membership.Member{m}, spare: order[i+1:]}, nil
	}
	if answered == 0 {
		return readPlan{}, fmt.Errorf("%w: read %q: no home answered", replication.ErrNoQuorum, key)
	}
	return readPlan{}, fmt.Errorf("cluster: %q: %w", key, blockstore.ErrNotFound)
}

// readOrder lists the homes to ask: this node first when it is a home
// (its copy costs no network), then the others in placement order; homes
// membership calls dead are left out.
func readOrder(v *view, homes []membership.Member) []membership.Member {
	order := make([]membership.Member, 0, len(homes))
	for _, h := range homes {
		if h.ID == v.self.ID {
			order = append(order, h)
		}
	}
	for _, h := range homes {
		if h.ID != v.self.ID && h.Reachable() {
			order = append(order, h)
		}
	}
	return order
}

// lookupQuorum asks homes (in order) for their entry of key until r have
// answered: r at once in parallel, and the next one whenever one fails. It
// returns the answers in arrival order and how many homes of order it
// asked. Lookups still running when r answered are cancelled.
func (c *Cluster) lookupQuorum(ctx context.Context, self, key string, order []membership.Member, r int) ([]replication.ReadAnswer, int) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make(chan replication.ReadAnswer, len(order))
	next, inflight, answered := 0, 0, 0
	ask := func() {
		m := order[next]
		next++
		inflight++
		go func() { results <- c.lookupHome(ctx, self, m, key) }()
	}
	for next < len(order) && next < r {
		ask()
	}
	var answers []replication.ReadAnswer
	for inflight > 0 && answered < r {
		a := <-results
		inflight--
		answers = append(answers, a)
		if a.Err == nil {
			answered++
		} else if next < len(order) {
			ask()
		}
	}
	return answers, next
}

// lookupHome asks one home for its entry of key, bounded by ReplicaTimeout.
func (c *Cluster) lookupHome(ctx context.Context, self string, m membership.Member, key string) replication.ReadAnswer {
	ctx, cancel := context.WithTimeout(ctx, c.opts.ReplicaTimeout)
	defer cancel()
	var e blockstore.Entry
	var err error
	if m.ID == self {
		e, err = c.opts.Local.Lookup(ctx, key)
	} else {
		e, err = c.opts.Peer.Lookup(ctx, m.HTTPAddr, key)
	}
	switch {
	case err == nil:
		return replication.ReadAnswer{Home: m.ID, Entry: e, Found: true}
	case errors.Is(err, blockstore.ErrNotFound):
		return replication.ReadAnswer{Home: m.ID}
	default:
		return replication.ReadAnswer{Home: m.ID, Err: err}
	}
}

// lookupSpare asks the homes not asked yet for key and returns those that
// hold exactly version readable (with that copy's metadata); the ones
// holding something older, or nothing, go to read repair.
func (c *Cluster) lookupSpare(ctx context.Context, self, key string, version uint64, spare []membership.Member) (blockstore.Info, []membership.Member) {
	var info blockstore.Info
	var holders []membership.Member
	var stale []string
	for _, m := range spare {
		a := c.lookupHome(ctx, self, m, key)
		switch {
		case a.Err != nil:
		case a.Found && a.Entry.Version == version && !a.Entry.Deleted && !a.Entry.Corrupt:
			info = a.Entry.Info
			holders = append(holders, m)
		case !a.Found || a.Entry.Version < version || (a.Entry.Version == version && a.Entry.Corrupt):
			stale = append(stale, m.ID)
		}
	}
	c.repair(key, version, stale)
	if i := slices.IndexFunc(holders, func(m membership.Member) bool { return m.ID == self }); i > 0 {
		holders[0], holders[i] = holders[i], holders[0]
	}
	return info, holders
}
