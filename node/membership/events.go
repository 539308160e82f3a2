package membership

import (
	"fmt"

	"github.com/hashicorp/memberlist"
)

// delegates are memberlist's hooks into a Membership. memberlist calls
// the event hooks with its node lock held, so they only update our map
// and signal; they never call back into memberlist or do I/O.
type delegates struct{ m *Membership }

// NodeMeta returns this node's encoded metadata (validated at New to fit
// memberlist.MetaMaxSize).
func (d *delegates) NodeMeta(limit int) []byte {
	d.m.mu.Lock()
	defer d.m.mu.Unlock()
	if len(d.m.selfMeta) > limit {
		return nil
	}
	return append([]byte(nil), d.m.selfMeta...)
}

// User messages are unused: everything a member says about itself fits
// in its metadata.
func (d *delegates) NotifyMsg([]byte)                           {}
func (d *delegates) GetBroadcasts(overhead, limit int) [][]byte { return nil }

// LocalState is this node's part of a push/pull: its left records and
// the members it holds as Dead (see exchange.go).
func (d *delegates) LocalState(join bool) []byte {
	d.m.mu.Lock()
	left, dead := d.m.leftRecords(), d.m.deadRecords()
	d.m.mu.Unlock()
	b, err := encodeExchange(left, dead)
	if err != nil {
		d.m.log.Error("membership: encode push/pull state", "err", err)
		return nil
	}
	return b
}

// MergeRemoteState takes a peer's left records, then its dead members.
// memberlist calls it after merging the peer's node states, so a member
// the peer knows alive is already known here.
func (d *delegates) MergeRemoteState(buf []byte, join bool) {
	if len(buf) == 0 {
		return
	}
	left, dead, err := decodeExchange(buf)
	if err != nil {
		d.m.log.Warn("membership: ignoring a peer's push/pull state", "err", err)
		return
	}
	d.m.mergeLeft(left)
	d.m.mergeDead(dead)
}

// NotifyAlive admits a node only when its metadata decodes, so every
// member we hold has a usable HTTP address and weight.
func (d *delegates) NotifyAlive(n *memberlist.Node) error {
	if n.Name == d.m.opts.NodeID {
		return nil
	}
	if err := validateID(n.Name); err != nil {
		return fmt.Errorf("%w: node id: %w", ErrBadMeta, err)
	}
	_, err := decodeMeta(n.Meta)
	return err
}

// NotifyConflict: two nodes claim one ID from different addresses.
// memberlist keeps the first; an operator has to fix the config.
func (d *delegates) NotifyConflict(existing, other *memberlist.Node) {
	d.m.log.Error("membership: two nodes claim the same node id; the second is ignored",
		"id", existing.Name, "existing", existing.Address(), "other", other.Address())
}

// NotifyJoin: a node became alive (new, or back from dead or left).
func (d *delegates) NotifyJoin(n *memberlist.Node) { d.m.observe(n, Alive) }

// NotifyUpdate: an alive node's metadata changed.
func (d *delegates) NotifyUpdate(n *memberlist.Node) { d.m.observe(n, Alive) }

// NotifyLeave is memberlist's event for both a dead and a left node, and
// memberlist never fills in Node.State (its nodeState.State shadows it).
// What tells them apart: the leaving flag Leave gossips just before the
// leave message, or a left record for this run of the node. Dead stays a
// member; Left is removed.
func (d *delegates) NotifyLeave(n *memberlist.Node) {
	meta, err := decodeMeta(n.Meta)
	if err == nil && meta.Leaving {
		d.m.removeLeft(n.Name, meta.Boot)
		return
	}
	if err == nil {
		d.m.mu.Lock()
		left := d.m.recordSaysLeft(n.Name, meta.Boot)
		d.m.mu.Unlock()
		if left {
			d.m.removeLeft(n.Name, meta.Boot)
			return
		}
	}
	d.m.observe(n, Dead)
}

// observe records what gossip says of node n: its state and, when its
// metadata decodes, its metadata (a dead node keeps what we knew).
func (m *Membership) observe(n *memberlist.Node, state State) {
	if n.Name == m.opts.NodeID {
		return
	}
	m.mu.Lock()
	old, known := m.others[n.Name]
	cur := old
	cur.ID, cur.GossipAddr, cur.State = n.Name, n.Address(), state
	meta, err := decodeMeta(n.Meta)
	if err == nil {
		cur.HTTPAddr, cur.Zone, cur.Weight, cur.Draining = meta.HTTPAddr, meta.Zone, meta.Weight, meta.Draining
		cur.boot = meta.Boot
	} else if !known {
		// Admission (NotifyAlive) checks metadata, so this is a node we
		// never admitted: nothing to place on it.
		m.mu.Unlock()
		m.log.Warn("membership: ignoring a node with bad metadata", "id", n.Name, "err", err)
		return
	}
	changed := !known || cur != old
	if changed {
		m.others[n.Name] = cur
	}
	closed := m.closed
	m.mu.Unlock()
	if !changed || closed {
		return
	}
	if !known || cur.State != old.State {
		m.log.Info("membership: member "+cur.State.String(), "id", cur.ID, "gossip", cur.GossipAddr, "http", cur.HTTPAddr, "zone", cur.Zone)
	}
	m.notify()
	m.markDirty()
}

// removeLeft forgets a member whose run boot left, and keeps the record
// so peers that missed the leave learn it by push/pull.
func (m *Membership) removeLeft(id string, boot uint64) {
	if id == m.opts.NodeID {
		return
	}
	m.mu.Lock()
	m.learnLeft(leftRecord{ID: id, Boot: boot, At: m.nowMilli()})
	_, known := m.others[id]
	if known {
		delete(m.others, id)
	}
	closed := m.closed
	m.mu.Unlock()
	if closed {
		return
	}
	if known {
		m.log.Info("membership: member left", "id", id)
		m.notify()
	}
	m.markDirty()
}

// mergeLeft takes left records from a peer.
func (m *Membership) mergeLeft(recs []leftRecord) {
	var removed []string
	m.mu.Lock()
	before := len(m.left)
	for _, r := range recs {
		if m.learnLeft(r) {
			removed = append(removed, r.ID)
		}
	}
	grew := len(m.left) != before
	closed := m.closed
	m.mu.Unlock()
	if closed {
		return
	}
	for _, id := range removed {
		m.log.Info("membership: member left (learnt from a peer)", "id", id)
	}
	if len(removed) > 0 {
		m.notify()
	}
	if len(removed) > 0 || grew {
		m.markDirty()
	}
}
