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

// The user-message and state-exchange hooks are unused: everything a
// member says about itself fits in its metadata.
func (d *delegates) NotifyMsg([]byte)                           {}
func (d *delegates) GetBroadcasts(overhead, limit int) [][]byte { return nil }
func (d *delegates) LocalState(join bool) []byte                { return nil }
func (d *delegates) MergeRemoteState(buf []byte, join bool)     {}

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
// memberlist never fills in Node.State (its nodeState.State shadows it),
// so the node's last metadata tells them apart: Leave sets the leaving
// flag and gossips it before the leave message. Dead stays a member;
// Left is removed.
func (d *delegates) NotifyLeave(n *memberlist.Node) {
	if meta, err := decodeMeta(n.Meta); err == nil && meta.Leaving {
		d.m.remove(n.Name)
		return
	}
	d.m.observe(n, Dead)
}

// NotifyMerge sees a peer's whole member list when either side joins
// (memberlist fills in State here, unlike in events). A member we hold as
// Dead that the peer saw leave is removed: this catches a leave whose
// flag update reached us after the leave message, and a leave that
// happened while this node was down.
func (d *delegates) NotifyMerge(peers []*memberlist.Node) error {
	for _, p := range peers {
		if p.State == memberlist.StateLeft {
			d.m.removeIfDead(p.Name)
		}
	}
	return nil
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

// remove forgets a member that left.
func (m *Membership) remove(id string) { m.removeWhen(id, func(Member) bool { return true }) }

// removeIfDead forgets a member that left, if we hold it as Dead (a live
// one would be a newer incarnation than the leave the peer saw).
func (m *Membership) removeIfDead(id string) {
	m.removeWhen(id, func(o Member) bool { return o.State == Dead })
}

func (m *Membership) removeWhen(id string, cond func(Member) bool) {
	if id == m.opts.NodeID {
		return
	}
	m.mu.Lock()
	o, known := m.others[id]
	known = known && cond(o)
	if known {
		delete(m.others, id)
	}
	closed := m.closed
	m.mu.Unlock()
	if !known || closed {
		return
	}
	m.log.Info("membership: member left", "id", id)
	m.notify()
	m.markDirty()
}
