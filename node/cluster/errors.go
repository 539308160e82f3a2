package cluster

import "errors"

// Errors the coordinator gives the replica streams it cuts off; they reach
// replicas (as the reason their body failed) and logs, never clients,
// which see replication.ErrNoQuorum or the body's own error.
var (
	// errReplicaStalled: the replica took no body bytes, or gave no
	// answer, for ReplicaTimeout; it was cut out and gets a hint.
	errReplicaStalled = errors.New("cluster: replica made no progress within the replica timeout")
	// errQuorumLost: too many replicas failed for the write to reach its
	// quorum; the rest were stopped so the write stays invisible.
	errQuorumLost = errors.New("cluster: write quorum no longer reachable")
	// errReplicaDone: the replica's request returned; nothing more of the
	// body is wanted.
	errReplicaDone = errors.New("cluster: replica request finished")
)
