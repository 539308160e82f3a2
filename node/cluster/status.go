package cluster

import (
	"fmt"
)

// Status is the cluster as this node sees it, for the admin route and
// strata stat. It marshals to JSON as it is.
type Status struct {
	Self        string         `json:"self"`
	Replicas    int            `json:"replicas"`
	WriteQuorum int            `json:"write_quorum"`
	ReadQuorum  int            `json:"read_quorum"`
	View        string         `json:"view"` // the placed member set's hash, hex; equal on nodes that agree on homes
	Members     []MemberStatus `json:"members"`
	// Background is the hints, anti-entropy and rebalancing progress the
	// background work reports (pending hints per target, hints dropped,
	// anti-entropy rounds, keys pulled, keys moving), in its own shape.
	Background any `json:"background"`
}

// MemberStatus is one member as gossip sees it.
type MemberStatus struct {
	ID         string  `json:"id"`
	HTTPAddr   string  `json:"http_addr"`
	GossipAddr string  `json:"gossip_addr,omitempty"`
	Zone       string  `json:"zone,omitempty"`
	Weight     float64 `json:"weight"`
	State      string  `json:"state"` // alive, suspect, dead
	Draining   bool    `json:"draining"`
	Placed     bool    `json:"placed"` // a home to keys (not draining)
	Self       bool    `json:"self,omitempty"`
}

// Status reports the membership view, the quorum settings and the
// background work's progress.
func (c *Cluster) Status() Status {
	v := c.currentView()
	st := Status{
		Self:        v.self.ID,
		Replicas:    c.opts.Replicas,
		WriteQuorum: c.opts.WriteQuorum,
		ReadQuorum:  c.opts.ReadQuorum,
		View:        fmt.Sprintf("%016x", v.hash),
		Members:     make([]MemberStatus, 0, len(v.members)),
		Background:  c.bg.status(),
	}
	for _, m := range v.members {
		st.Members = append(st.Members, MemberStatus{
			ID: m.ID, HTTPAddr: m.HTTPAddr, GossipAddr: m.GossipAddr, Zone: m.Zone, Weight: m.Weight,
			State: m.State.String(), Draining: m.Draining, Placed: m.Placed(), Self: m.ID == v.self.ID,
		})
	}
	return st
}
