package cluster

import (
	"fmt"
	"hash/fnv"
	"math"

	"strata/node/membership"
	"strata/node/placement"
)

// view is one immutable snapshot of the membership: the members, the
// placement ring over those that are placed, and a hash that names it (two
// nodes with equal hashes compute the same homes for every key).
type view struct {
	self    membership.Member
	members []membership.Member          // all known, not left, sorted by ID
	byID    map[string]membership.Member // members by ID
	ring    *placement.Ring              // over placed members; nil when none
	hash    uint64                       // ViewHash of the placed members
}

func newView(self membership.Member, members []membership.Member) (*view, error) {
	v := &view{self: self, members: members, byID: make(map[string]membership.Member, len(members))}
	var placed []placement.Member
	for _, m := range members {
		v.byID[m.ID] = m
		if m.Placed() {
			placed = append(placed, placement.Member{ID: m.ID, Zone: m.Zone, Weight: m.Weight})
		}
	}
	if len(placed) > 0 {
		ring, err := placement.New(placed)
		if err != nil {
			return nil, fmt.Errorf("cluster: placement: %w", err)
		}
		v.ring = ring
	}
	v.hash = ViewHash(placed)
	return v, nil
}

// homes returns the key's n home replicas, best first (fewer when fewer
// members are placed).
func (v *view) homes(key string, n int) []membership.Member {
	if v.ring == nil {
		return nil
	}
	reps := v.ring.Replicas(key, n)
	out := make([]membership.Member, len(reps))
	for i, r := range reps {
		out[i] = v.byID[r.ID]
	}
	return out
}

// isHome reports whether id is among the key's n homes.
func (v *view) isHome(key string, n int, id string) bool {
	for _, m := range v.homes(key, n) {
		if m.ID == id {
			return true
		}
	}
	return false
}

// ViewHash names a placed member set: FNV-1a over each member's ID, zone
// and weight in the given order (callers pass them sorted by ID, as
// Members returns them).
func ViewHash(placed []placement.Member) uint64 {
	h := fnv.New64a()
	var buf [8]byte
	for _, m := range placed {
		h.Write([]byte(m.ID))
		h.Write([]byte{0})
		h.Write([]byte(m.Zone))
		h.Write([]byte{0})
		bits := math.Float64bits(m.Weight)
		for i := range buf {
			buf[i] = byte(bits >> (8 * i))
		}
		h.Write(buf[:])
	}
	return h.Sum64()
}
