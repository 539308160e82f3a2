package membership

// State is a member's liveness as gossip sees it.
type State uint8

const (
	// Alive: answering gossip probes.
	Alive State = iota
	// Suspect: a probe failed and the suspicion has not timed out yet
	// (Lifeguard); still a home replica, still sent to.
	Suspect
	// Dead: suspicion timed out. Still a member (its keys stay homed on
	// it, writes to it become hints) until it comes back or leaves.
	Dead
	// Left: it left cleanly (strata leave, or a drained shutdown). It is no
	// longer a member: placement leaves it out.
	Left
)

func (s State) String() string {
	switch s {
	case Alive:
		return "alive"
	case Suspect:
		return "suspect"
	case Dead:
		return "dead"
	case Left:
		return "left"
	}
	return "unknown"
}

// Member is one node as the cluster knows it: its identity and the
// metadata it gossips about itself.
type Member struct {
	ID         string  // node id (strata-disk.id's node, --node-id)
	HTTPAddr   string  // host:port of its blob listener, where internal routes answer
	GossipAddr string  // host:port of its gossip listener
	Zone       string  // failure domain; "" when not configured
	Weight     float64 // capacity weight for placement, > 0
	State      State
	// Draining: decommission in progress. A draining member is left out of
	// placement for new homes, so its keys move away, but it still serves
	// reads and replica traffic until it leaves.
	Draining bool
}

// Placed reports whether the member takes part in placement (is a home to
// keys): every member that has not left and is not draining.
func (m Member) Placed() bool { return m.State != Left && !m.Draining }

// Reachable reports whether requests should be sent to it now rather than
// hinted.
func (m Member) Reachable() bool { return m.State == Alive || m.State == Suspect }
