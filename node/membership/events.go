package membership

import (
	"context"
	"fmt"
	"time"

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
func (d *delegates) NotifyUpdate(n *memberlist.Node) { d.m.observe(n, stateOf(n.State)) }

// NotifyLeave is memberlist's event for both dead and left nodes: the
// node's State tells them apart. Dead stays a member; Left is removed.
func (d *delegates) NotifyLeave(n *memberlist.Node) {
	if n.State == memberlist.StateLeft {
		d.m.remove(n.Name)
		return
	}
	d.m.observe(n, Dead)
}

// stateOf maps memberlist's node state onto ours.
func stateOf(s memberlist.NodeStateType) State {
	switch s {
	case memberlist.StateSuspect:
		return Suspect
	case memberlist.StateDead:
		return Dead
	case memberlist.StateLeft:
		return Left
	}
	return Alive
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
func (m *Membership) remove(id string) {
	if id == m.opts.NodeID {
		return
	}
	m.mu.Lock()
	_, known := m.others[id]
	delete(m.others, id)
	closed := m.closed
	m.mu.Unlock()
	if !known || closed {
		return
	}
	m.log.Info("membership: member left", "id", id)
	m.notify()
	m.markDirty()
}

// pollLoop reads memberlist's member list for suspect state. memberlist
// raises no event when a node turns suspect or refutes a suspicion, and
// its PingDelegate only reports this node's own successful probes (not a
// suspicion gossiped by others, nor a failed probe), so reading the
// states is the one way to see Suspect.
func (m *Membership) pollLoop(ctx context.Context) {
	t := time.NewTicker(m.opts.Timing.StatePollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			m.applyLiveStates(m.ml.Members())
		}
	}
}

// applyLiveStates moves members between Alive and Suspect as memberlist's
// list (alive and suspect nodes only) shows them. Dead and Left come from
// events, which are authoritative: a member we hold as Dead is left alone
// even if this snapshot, taken before the event, still shows it alive.
func (m *Membership) applyLiveStates(nodes []*memberlist.Node) {
	changed := false
	m.mu.Lock()
	for _, n := range nodes {
		cur, ok := m.others[n.Name]
		if !ok || !cur.Reachable() {
			continue
		}
		var st State
		switch n.State {
		case memberlist.StateAlive:
			st = Alive
		case memberlist.StateSuspect:
			st = Suspect
		default:
			continue
		}
		if cur.State != st {
			cur.State = st
			m.others[n.Name] = cur
			changed = true
			m.log.Info("membership: member "+st.String(), "id", cur.ID)
		}
	}
	closed := m.closed
	m.mu.Unlock()
	if changed && !closed {
		m.notify()
		m.markDirty()
	}
}
