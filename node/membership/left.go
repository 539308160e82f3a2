package membership

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// A left record says the run Boot of node ID left the cluster at At
// (unix ms). Every node keeps the records it learns for LeftRetention,
// persists them in the state file and exchanges them in memberlist's
// push/pull (LocalState, MergeRemoteState; see exchange.go), because memberlist itself
// only remembers a left node for GossipToTheDeadTime and reports a leave
// through the same event as a death. So a node that missed the leave
// (down at the time, or the leave overtook the leaving flag) still
// removes the member instead of keeping it as Dead forever. Naming the
// run keeps a record from removing the same node restarted later.
type leftRecord struct {
	ID   string `json:"id"`
	Boot uint64 `json:"boot"`
	At   int64  `json:"at"`
}

// maxLeftRecords bounds the records kept (the oldest go first), so the
// push/pull payload stays small however many nodes ever left.
const maxLeftRecords = 4096

// validateLeftRecords checks records from a peer or the state file.
func validateLeftRecords(recs []leftRecord) error {
	if len(recs) > maxLeftRecords {
		return fmt.Errorf("%d left records, at most %d", len(recs), maxLeftRecords)
	}
	for i, r := range recs {
		if err := validateID(r.ID); err != nil {
			return fmt.Errorf("left record %d: id: %w", i, err)
		}
	}
	return nil
}

// learnLeft records rec and removes the member it names if we hold that
// run as Dead. A live member is left to memberlist: its leave (or death)
// event follows, and NotifyLeave consults the record then. Caller holds
// m.mu; it reports whether the member list changed.
func (m *Membership) learnLeft(rec leftRecord) (changed bool) {
	if rec.ID == m.opts.NodeID {
		return false
	}
	if old, ok := m.left[rec.ID]; !ok || old.Boot != rec.Boot && rec.At > old.At {
		m.left[rec.ID] = rec
	}
	if k, ok := m.others[rec.ID]; ok && k.boot == rec.Boot && k.State == Dead {
		delete(m.others, rec.ID)
		return true
	}
	return false
}

// recordSaysLeft reports whether a record says run boot of id left. Caller
// holds m.mu.
func (m *Membership) recordSaysLeft(id string, boot uint64) bool {
	r, ok := m.left[id]
	return ok && r.Boot == boot
}

// leftRecords returns the records still within LeftRetention, newest
// maxLeftRecords, sorted by ID; expired ones are dropped. Caller holds
// m.mu.
func (m *Membership) leftRecords() []leftRecord {
	cutoff := m.opts.Now().Add(-m.opts.LeftRetention).UnixMilli()
	out := make([]leftRecord, 0, len(m.left))
	for id, r := range m.left {
		if r.At < cutoff {
			delete(m.left, id)
			continue
		}
		out = append(out, r)
	}
	if len(out) > maxLeftRecords {
		slices.SortFunc(out, func(a, b leftRecord) int { return cmp.Compare(b.At, a.At) })
		for _, r := range out[maxLeftRecords:] {
			delete(m.left, r.ID)
		}
		out = out[:maxLeftRecords]
	}
	slices.SortFunc(out, func(a, b leftRecord) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// nowMilli is the record timestamp for a leave seen now.
func (m *Membership) nowMilli() int64 { return m.opts.Now().UnixMilli() }
