package membership

import (
	"fmt"
	"slices"
	"strings"
)

// A dead record is a member this node holds as Dead, passed on in every
// push/pull so that a node that never saw it alive learns it. memberlist
// cannot do that: it forgets a dead node after GossipToTheDead, and even
// before that it ignores a dead node it never knew. Without the records a
// node that joins later, or restarts with its state file wiped, would not
// know the member, so it would place keys over another member set than
// everyone else (and its anti-entropy rounds would all fail on the view
// hash). The receiver adds the member as Dead, unless it already knows
// it (memberlist's word on a member it knows wins) or holds a left record
// for that run; gossip revives it if it comes back.
type deadRecord struct {
	ID         string  `json:"id"`
	Boot       uint64  `json:"boot"`
	GossipAddr string  `json:"gossip_addr"`
	HTTPAddr   string  `json:"http_addr"`
	Zone       string  `json:"zone,omitempty"`
	Weight     float64 `json:"weight"`
	Draining   bool    `json:"draining,omitempty"`
}

// maxDeadRecords bounds the dead records passed on (those of the first
// IDs in order), so the push/pull payload stays bounded.
const maxDeadRecords = 4096

// validateDeadRecords checks records from a peer: bounded, one per ID,
// each as validateDeadRecord takes it.
func validateDeadRecords(recs []deadRecord) error {
	if len(recs) > maxDeadRecords {
		return fmt.Errorf("%d dead records, at most %d", len(recs), maxDeadRecords)
	}
	seen := make(map[string]bool, len(recs))
	for i, r := range recs {
		if err := r.validate(); err != nil {
			return fmt.Errorf("dead record %d: %w", i, err)
		}
		if seen[r.ID] {
			return fmt.Errorf("dead record %d: %q listed twice", i, r.ID)
		}
		seen[r.ID] = true
	}
	return nil
}

// validate checks one record: a valid ID, metadata the codec would take,
// a printable gossip address.
func (r deadRecord) validate() error {
	if err := validateID(r.ID); err != nil {
		return fmt.Errorf("id: %w", err)
	}
	if err := (nodeMeta{HTTPAddr: r.HTTPAddr, Zone: r.Zone, Weight: r.Weight}).validate(); err != nil {
		return fmt.Errorf("%q: %w", r.ID, err)
	}
	if len(r.GossipAddr) > maxHTTPAddrLen || !printable(r.GossipAddr) {
		return fmt.Errorf("%q: bad gossip address %q", r.ID, r.GossipAddr)
	}
	return nil
}

// deadRecords returns the members held as Dead, sorted by ID, at most
// maxDeadRecords (those that fail validate are left out; admission
// checked their metadata, so none should). Caller holds m.mu.
func (m *Membership) deadRecords() []deadRecord {
	var out []deadRecord
	for _, k := range m.others {
		if k.State != Dead {
			continue
		}
		r := deadRecord{ID: k.ID, Boot: k.boot, GossipAddr: k.GossipAddr,
			HTTPAddr: k.HTTPAddr, Zone: k.Zone, Weight: k.Weight, Draining: k.Draining}
		if r.validate() != nil {
			continue // one odd member must not keep the left records from going out
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b deadRecord) int { return strings.Compare(a.ID, b.ID) })
	if len(out) > maxDeadRecords {
		out = out[:maxDeadRecords]
	}
	return out
}

// mergeDead adds the members of a peer's dead records that this node does
// not know, as Dead. Call it after mergeLeft, so a record that the run
// left wins over one that it died.
func (m *Membership) mergeDead(recs []deadRecord) {
	var added []deadRecord
	m.mu.Lock()
	for _, r := range recs {
		if r.ID == m.opts.NodeID || m.recordSaysLeft(r.ID, r.Boot) {
			continue
		}
		if _, ok := m.others[r.ID]; ok {
			continue
		}
		m.others[r.ID] = known{Member: Member{ID: r.ID, HTTPAddr: r.HTTPAddr, GossipAddr: r.GossipAddr,
			Zone: r.Zone, Weight: r.Weight, State: Dead, Draining: r.Draining}, boot: r.Boot}
		added = append(added, r)
	}
	closed := m.closed
	m.mu.Unlock()
	if closed || len(added) == 0 {
		return
	}
	for _, r := range added {
		m.log.Info("membership: member dead (learnt from a peer)", "id", r.ID, "gossip", r.GossipAddr, "http", r.HTTPAddr, "zone", r.Zone)
	}
	m.notify()
	m.markDirty()
}
