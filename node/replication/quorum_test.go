package replication

import (
	"slices"
	"testing"
)

// step is one event fed to a WriteQuorum: op on home, and whether the
// tracker should accept it.
type step struct {
	op     string // ack, fail, timeout, down
	home   string
	accept bool
}

func apply(t *testing.T, q *WriteQuorum, s step) {
	t.Helper()
	var got bool
	switch s.op {
	case "ack":
		got = q.Ack(s.home)
	case "fail":
		got = q.Fail(s.home)
	case "timeout":
		got = q.TimeOut(s.home)
	case "down":
		got = q.Unreachable(s.home)
	default:
		t.Fatalf("unknown op %q", s.op)
	}
	if got != s.accept {
		t.Fatalf("%s %s: accepted %v, want %v", s.op, s.home, got, s.accept)
	}
}

func TestWriteQuorum(t *testing.T) {
	homes := []string{"n1", "n2", "n3"}
	tests := []struct {
		name      string
		homes     []string
		w         int
		steps     []step
		done      bool
		succeeded bool
		possible  bool
		finished  bool
		acks      int
		pending   []string
		toHint    []string
	}{
		{
			name: "nothing yet", homes: homes, w: 2,
			possible: true, pending: homes,
		},
		{
			name: "two acks of three", homes: homes, w: 2,
			steps: []step{{"ack", "n1", true}, {"ack", "n3", true}},
			done:  true, succeeded: true, possible: true, acks: 2, pending: []string{"n2"},
		},
		{
			name: "one down, two ack: hint the down one", homes: homes, w: 2,
			steps: []step{{"down", "n2", true}, {"ack", "n1", true}, {"ack", "n3", true}},
			done:  true, succeeded: true, possible: true, finished: true, acks: 2, toHint: []string{"n2"},
		},
		{
			name: "two down: impossible before any answer", homes: homes, w: 2,
			steps: []step{{"down", "n2", true}, {"down", "n3", true}},
			done:  true, pending: []string{"n1"},
		},
		{
			name: "two down, the third acks: still no quorum, but hints", homes: homes, w: 2,
			steps: []step{{"down", "n2", true}, {"down", "n3", true}, {"ack", "n1", true}},
			done:  true, finished: true, acks: 1, toHint: []string{"n2", "n3"},
		},
		{
			name: "all fail: nothing acked, nothing to hint", homes: homes, w: 2,
			steps: []step{{"fail", "n1", true}, {"timeout", "n2", true}, {"fail", "n3", true}},
			done:  true, finished: true,
		},
		{
			name: "straggler fails after success: hinted", homes: homes, w: 2,
			steps: []step{{"ack", "n1", true}, {"ack", "n2", true}, {"timeout", "n3", true}},
			done:  true, succeeded: true, possible: true, finished: true, acks: 2, toHint: []string{"n3"},
		},
		{
			// Strictness: a hinted (unreachable) home's later ack does not
			// count, a second ack of one home does not count, and a
			// non-home's ack does not count.
			name: "hints, repeats and strangers never count", homes: homes, w: 2,
			steps: []step{
				{"down", "n2", true}, {"ack", "n2", false},
				{"ack", "n1", true}, {"ack", "n1", false},
				{"ack", "n9", false}, {"ack", "", false},
			},
			possible: true, acks: 1, pending: []string{"n3"}, toHint: []string{"n2"},
		},
		{
			name: "first outcome stands: a failed home cannot ack later", homes: homes, w: 2,
			steps:    []step{{"fail", "n1", true}, {"ack", "n1", false}, {"ack", "n2", true}},
			possible: true, acks: 1, pending: []string{"n3"}, toHint: []string{"n1"},
		},
		{
			name: "fewer homes than W: never possible", homes: []string{"n1"}, w: 2,
			steps: []step{{"ack", "n1", true}},
			done:  true, finished: true, acks: 1,
		},
		{
			name: "no homes", homes: nil, w: 1,
			done: true, finished: true,
		},
		{
			name: "N=W=1", homes: []string{"n1"}, w: 1,
			steps: []step{{"ack", "n1", true}},
			done:  true, succeeded: true, possible: true, finished: true, acks: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := NewWriteQuorum(tc.homes, tc.w)
			for _, s := range tc.steps {
				apply(t, q, s)
			}
			if got := q.Done(); got != tc.done {
				t.Errorf("Done = %v, want %v", got, tc.done)
			}
			if got := q.Succeeded(); got != tc.succeeded {
				t.Errorf("Succeeded = %v, want %v", got, tc.succeeded)
			}
			if got := q.Possible(); got != tc.possible {
				t.Errorf("Possible = %v, want %v", got, tc.possible)
			}
			if got := q.Finished(); got != tc.finished {
				t.Errorf("Finished = %v, want %v", got, tc.finished)
			}
			if got := q.Acks(); got != tc.acks {
				t.Errorf("Acks = %d, want %d", got, tc.acks)
			}
			if got := q.Pending(); !slices.Equal(got, tc.pending) {
				t.Errorf("Pending = %v, want %v", got, tc.pending)
			}
			if got := q.ToHint(); !slices.Equal(got, tc.toHint) {
				t.Errorf("ToHint = %v, want %v", got, tc.toHint)
			}
		})
	}
}

func TestWriteQuorumOutcome(t *testing.T) {
	q := NewWriteQuorum([]string{"a", "b", "c", "d"}, 2)
	q.Ack("a")
	q.Fail("b")
	q.TimeOut("c")
	q.Unreachable("d")
	for home, want := range map[string]Outcome{"a": Acked, "b": Failed, "c": TimedOut, "d": Unreachable, "x": Pending} {
		if got := q.Outcome(home); got != want {
			t.Errorf("Outcome(%s) = %v, want %v", home, got, want)
		}
	}
	if got := q.Acked(); !slices.Equal(got, []string{"a"}) {
		t.Errorf("Acked = %v", got)
	}
}

// The tracker keeps its own copy of the homes: a caller reusing its slice
// cannot change who counts.
func TestWriteQuorumCopiesHomes(t *testing.T) {
	homes := []string{"n1", "n2"}
	q := NewWriteQuorum(homes, 2)
	homes[1] = "intruder"
	if q.Ack("intruder") {
		t.Fatal("an ack from a name written into the caller's slice counted")
	}
	if !q.Ack("n2") {
		t.Fatal("the original home's ack was refused")
	}
}
