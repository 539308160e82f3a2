package replication

import "slices"

// Outcome is what became of one home replica's part in a write.
type Outcome uint8

const (
	// Pending: sent to, no answer yet.
	Pending Outcome = iota
	// Acked: the replica reported the write durable (or already held a
	// newer version, which is durable too).
	Acked
	// Failed: the replica answered with an error.
	Failed
	// TimedOut: the replica made no progress for the replica timeout and
	// was cut out.
	TimedOut
	// Unreachable: membership said it was down, so it was not sent to.
	Unreachable
)

func (o Outcome) String() string {
	switch o {
	case Pending:
		return "pending"
	case Acked:
		return "acked"
	case Failed:
		return "failed"
	case TimedOut:
		return "timed out"
	case Unreachable:
		return "unreachable"
	}
	return "unknown"
}

// WriteQuorum is the bookkeeping of one replicated write (PUT or DELETE)
// over a key's home replicas: who acked, who failed, whether W durable
// acks were reached, and whom to hint. Only home replicas count, each at
// most once, and only with a durable ack: a hint never counts toward W, so
// R + W > N means what it says.
//
// A WriteQuorum does no I/O and is not safe for concurrent use: the
// coordinator drives it from one goroutine (or under its own lock).
type WriteQuorum struct {
	homes    []string
	outcomes []Outcome
	w        int
	acked    int
	open     int // homes still Pending
}

// NewWriteQuorum tracks a write to homes (distinct IDs, in placement
// order) that needs w durable acks. Every home starts Pending. With fewer
// homes than w the write can never succeed (Done at once).
func NewWriteQuorum(homes []string, w int) *WriteQuorum {
	return &WriteQuorum{
		homes:    slices.Clone(homes),
		outcomes: make([]Outcome, len(homes)),
		w:        w,
		open:     len(homes),
	}
}

// Ack records that home made the write durable. It reports false (and
// changes nothing) for a non-home or a home whose outcome is already set:
// the first outcome of a home stands.
func (q *WriteQuorum) Ack(home string) bool { return q.set(home, Acked) }

// Fail records that home answered with an error.
func (q *WriteQuorum) Fail(home string) bool { return q.set(home, Failed) }

// TimeOut records that home was cut out for making no progress.
func (q *WriteQuorum) TimeOut(home string) bool { return q.set(home, TimedOut) }

// Unreachable records that home is down and was not sent to.
func (q *WriteQuorum) Unreachable(home string) bool { return q.set(home, Unreachable) }

func (q *WriteQuorum) set(home string, o Outcome) bool {
	i := slices.Index(q.homes, home)
	if i < 0 || q.outcomes[i] != Pending {
		return false
	}
	q.outcomes[i] = o
	q.open--
	if o == Acked {
		q.acked++
	}
	return true
}

// Outcome returns home's outcome (Pending for a non-home too).
func (q *WriteQuorum) Outcome(home string) Outcome {
	if i := slices.Index(q.homes, home); i >= 0 {
		return q.outcomes[i]
	}
	return Pending
}

// Acks is the number of durable acks so far.
func (q *WriteQuorum) Acks() int { return q.acked }

// Succeeded reports whether W homes acked: the write may be acknowledged.
func (q *WriteQuorum) Succeeded() bool { return q.acked >= q.w }

// Possible reports whether W acks can still be reached: acks so far plus
// homes still pending.
func (q *WriteQuorum) Possible() bool { return q.acked+q.open >= q.w }

// Done reports whether the write's fate is decided: it succeeded, or it
// can no longer succeed. Pending homes may still answer afterwards
// (stragglers); their outcomes are still recorded.
func (q *WriteQuorum) Done() bool { return q.Succeeded() || !q.Possible() }

// Finished reports whether every home has an outcome.
func (q *WriteQuorum) Finished() bool { return q.open == 0 }

// Pending lists the homes with no outcome yet, in placement order.
func (q *WriteQuorum) Pending() []string { return q.with(Pending) }

// Acked lists the homes that acked, in placement order.
func (q *WriteQuorum) Acked() []string { return q.with(Acked) }

func (q *WriteQuorum) with(o Outcome) []string {
	var out []string
	for i, h := range q.homes {
		if q.outcomes[i] == o {
			out = append(out, h)
		}
	}
	return out
}

// ToHint lists the homes that missed the write (failed, timed out or
// unreachable), in placement order, when at least one home acked: a hint
// replays a version some home holds, so a write no home made durable
// leaves no hints. Pending homes are not listed; call it once Finished.
func (q *WriteQuorum) ToHint() []string {
	if q.acked == 0 {
		return nil
	}
	var out []string
	for i, h := range q.homes {
		switch q.outcomes[i] {
		case Failed, TimedOut, Unreachable:
			out = append(out, h)
		}
	}
	return out
}
