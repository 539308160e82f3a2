package placement

// Member is one node as placement sees it.
type Member struct {
	// ID names the node; it is what the hash of a key is mixed with, so a
	// node keeps its keys across restarts only if it keeps its ID.
	ID string
	// Zone is the failure domain (rack, host, availability zone). Members
	// with an empty Zone count as one zone named "".
	Zone string
	// Weight is the capacity share: a member of weight 2 is home to about
	// twice as many keys as one of weight 1. It must be finite and > 0.
	Weight float64
}
