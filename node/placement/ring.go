package placement

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
)

// Ring places keys on a fixed member list. It is immutable after New and
// safe for concurrent use; a membership change builds a new Ring.
type Ring struct {
	members    []Member // sorted by ID, so input order never matters
	memberHash []uint64 // hashString(members[i].ID)
	zoneOf     []int    // index of members[i].Zone among the distinct zones
	zones      int      // number of distinct zones

	// scratch holds per-call buffers so the hot path does not allocate.
	scratch sync.Pool
}

// scratch is one call's working space, sized for the ring.
type scratch struct {
	scores   []float64 // per member; set to taken once chosen
	zoneUsed []bool    // per zone
}

// taken marks a chosen member's score; real scores are > 0.
const taken = -1

// New validates members and builds a Ring over them. It copies the slice.
func New(members []Member) (*Ring, error) {
	if len(members) == 0 {
		return nil, ErrNoMembers
	}
	sorted := slices.Clone(members)
	slices.SortFunc(sorted, func(a, b Member) int { return strings.Compare(a.ID, b.ID) })
	r := &Ring{
		members:    sorted,
		memberHash: make([]uint64, len(sorted)),
		zoneOf:     make([]int, len(sorted)),
	}
	zoneIndex := make(map[string]int)
	for i, m := range sorted {
		switch {
		case m.ID == "":
			return nil, fmt.Errorf("%w (member %d)", ErrEmptyID, i)
		case i > 0 && sorted[i-1].ID == m.ID:
			return nil, fmt.Errorf("%w: %q", ErrDuplicateID, m.ID)
		case !(m.Weight > 0) || math.IsInf(m.Weight, 0):
			return nil, fmt.Errorf("%w: member %q has weight %v", ErrBadWeight, m.ID, m.Weight)
		}
		r.memberHash[i] = hashString(m.ID)
		z, ok := zoneIndex[m.Zone]
		if !ok {
			z = len(zoneIndex)
			zoneIndex[m.Zone] = z
		}
		r.zoneOf[i] = z
	}
	r.zones = len(zoneIndex)
	r.scratch.New = func() any {
		return &scratch{
			scores:   make([]float64, len(r.members)),
			zoneUsed: make([]bool, r.zones),
		}
	}
	return r, nil
}

// Members returns a copy of the members, sorted by ID.
func (r *Ring) Members() []Member { return slices.Clone(r.members) }

// Zones returns the number of distinct zones.
func (r *Ring) Zones() int { return r.zones }

// Replicas returns the key's n home replicas, best first: the first is the
// coordinator preference. n larger than the member count gives every member;
// n <= 0 gives none.
func (r *Ring) Replicas(key string, n int) []Member {
	return r.AppendReplicas(nil, key, n)
}

// AppendReplicas is Replicas appending to dst, so a caller that reuses dst
// places a key without allocating.
func (r *Ring) AppendReplicas(dst []Member, key string, n int) []Member {
	n = min(n, len(r.members))
	if n <= 0 {
		return dst
	}
	s := r.scratch.Get().(*scratch)
	defer r.scratch.Put(s)

	keyHash := KeyHash(key)
	for i, m := range r.members {
		s.scores[i] = score(keyHash, r.memberHash[i], m.Weight)
	}
	clear(s.zoneUsed)
	zonesLeft := r.zones
	for range n {
		// While some zone holds no replica, only members of unused zones
		// compete; after that, every member not yet chosen does.
		best := -1
		for i, sc := range s.scores {
			if sc == taken || (zonesLeft > 0 && s.zoneUsed[r.zoneOf[i]]) {
				continue
			}
			// Ties (equal scores, or both +Inf from huge weights) go to the
			// lower ID, which comes first because members are sorted.
			if best < 0 || sc > s.scores[best] {
				best = i
			}
		}
		s.scores[best] = taken
		if z := r.zoneOf[best]; !s.zoneUsed[z] {
			s.zoneUsed[z] = true
			zonesLeft--
		}
		dst = append(dst, r.members[best])
	}
	return dst
}
