package replication

import (
	"fmt"

	"strata/blockstore"
)

// ReadAnswer is one home replica's answer to a version lookup (index
// only): its entry, or Found false when it has none. Err set means the
// home did not answer (down, timed out, failed); such an answer counts
// toward nothing.
type ReadAnswer struct {
	Home  string
	Entry blockstore.Entry
	Found bool
	Err   error
}

// ReadResolution is what a read quorum decided.
type ReadResolution struct {
	// Newest is the newest entry among the answers (version, then at equal
	// versions tombstone > blob > corrupt); meaningful only when Found.
	Newest blockstore.Entry
	// Found: some answering home has an entry (blob, tombstone or corrupt).
	Found bool
	// Holders are the answering homes that hold Newest as a readable blob,
	// in read order: self first, then in the order answers were given
	// (placement order). Empty when Newest is a tombstone or corrupt.
	Holders []string
	// Stale are the answering homes that need read repair: an older
	// version, no entry at all, or the newest version marked corrupt.
	// Homes that did not answer are never listed (anti-entropy and hints
	// cover them). Empty when nothing is Found.
	Stale []string
	// Answered counts the homes that answered.
	Answered int
}

// Live reports whether the resolution names a readable newest blob: found,
// not a tombstone, not corrupt.
func (r ReadResolution) Live() bool {
	return r.Found && !r.Newest.Deleted && !r.Newest.Corrupt
}

// Newer reports whether entry a supersedes b under last-writer-wins: a
// higher version, or at equal versions tombstone > blob > corrupt. A zero
// Entry (no entry) is superseded by anything.
func Newer(a, b blockstore.Entry) bool {
	if a.Version != b.Version {
		return a.Version > b.Version
	}
	return rank(a) > rank(b)
}

// rank orders entries of one version: tombstone > blob > corrupt > none.
func rank(e blockstore.Entry) int {
	switch {
	case e.Version == 0:
		return -1
	case e.Deleted:
		return 2
	case e.Corrupt:
		return 0
	}
	return 1
}

// ResolveRead decides a quorum read from the answers of the homes asked:
// the newest entry, who holds it readable (self first) and who is stale.
// It needs r answers (an answer with Err does not count); with fewer it
// returns an error wrapping ErrNoQuorum. It does no I/O.
func ResolveRead(self string, answers []ReadAnswer, r int) (ReadResolution, error) {
	var res ReadResolution
	for _, a := range answers {
		if a.Err != nil {
			continue
		}
		res.Answered++
		if a.Found && (!res.Found || Newer(a.Entry, res.Newest)) {
			res.Newest, res.Found = a.Entry, true
		}
	}
	if res.Answered < r {
		return ReadResolution{Answered: res.Answered}, fmt.Errorf("%w: %d of %d homes answered the version lookup", ErrNoQuorum, res.Answered, r)
	}
	if !res.Found {
		return res, nil
	}
	for _, a := range answers {
		if a.Err != nil {
			continue
		}
		current := a.Found && a.Entry.Version == res.Newest.Version && rank(a.Entry) == rank(res.Newest)
		switch {
		case current && res.Live():
			if a.Home == self {
				res.Holders = append([]string{a.Home}, res.Holders...)
			} else {
				res.Holders = append(res.Holders, a.Home)
			}
		case current:
			// Same tombstone, or the same corrupt version: nothing to read,
			// and a corrupt copy is stale too (repair brings the version back).
			if res.Newest.Corrupt {
				res.Stale = append(res.Stale, a.Home)
			}
		default:
			res.Stale = append(res.Stale, a.Home)
		}
	}
	return res, nil
}
