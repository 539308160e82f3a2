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

	// ErrViewMismatch: two digests were computed under different
	// membership views, so their buckets do not cover the same keys; the
	// anti-entropy round waits for the views to agree.
	ErrViewMismatch = errors.New("replication: digests of different views")
	// ErrBadDigest: a digest without the expected number of buckets.
	ErrBadDigest = errors.New("replication: malformed digest")
	// ErrBadHint: a stored hint record that does not decode.
	ErrBadHint = errors.New("replication: malformed hint record")
)
