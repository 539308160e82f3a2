package membership

import "errors"

// Errors callers branch on with errors.Is. The wrapping error says which
// option, field or file was refused.
var (
	// ErrInvalidOptions: New refused its Options (empty or overlong node
	// ID, bad weight, unparsable address, metadata too large). Nothing was
	// bound or written.
	ErrInvalidOptions = errors.New("membership: invalid options")
	// ErrNoSecret: the cluster secret is empty. Gossip is always
	// encrypted, so there is no unauthenticated mode to fall back to.
	ErrNoSecret = errors.New("membership: cluster secret is empty")
	// ErrBadMeta: gossiped node metadata, or a peer's left records, that
	// do not decode (wrong version, truncated, out of range). The node is
	// not admitted; the records are ignored.
	ErrBadMeta = errors.New("membership: bad node metadata")
	// ErrBadState: the member state file does not decode. New refuses to
	// start on it rather than forget members that are down right now; the
	// operator can remove the file to start from the seeds alone.
	ErrBadState = errors.New("membership: bad member state file")
	// ErrClosed: the Membership was closed.
	ErrClosed = errors.New("membership: closed")
	// ErrLeft: the node has left the cluster; it no longer gossips
	// metadata changes.
	ErrLeft = errors.New("membership: node has left")
)
