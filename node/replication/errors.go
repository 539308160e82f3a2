package replication

import "errors"

var (
	// ErrNoQuorum: fewer replicas than the quorum answered or made the
	// write durable. The node answers 503 with Retry-After; whatever was
	// written stays harmless (a retry at a new version supersedes it).
	ErrNoQuorum = errors.New("replication: quorum not reached")
	// ErrVersionGone: a replica no longer holds (or never held) the
	// version asked for; the reader moves to another replica.
	ErrVersionGone = errors.New("replication: replica does not hold the version asked for")
)
