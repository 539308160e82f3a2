package placement

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"
)

// equalMembers builds count members of weight 1 named prefix0, prefix1, ...
func equalMembers(prefix string, count int) []Member {
	members := make([]Member, count)
	for i := range members {
		members[i] = Member{ID: fmt.Sprintf("%s%d", prefix, i), Weight: 1}
	}
	return members
}

// zonedMembers builds zones x perZone members of weight 1, zone z0, z1, ...
func zonedMembers(zones, perZone int) []Member {
	var members []Member
	for z := range zones {
		for i := range perZone {
			members = append(members, Member{ID: fmt.Sprintf("z%d-n%d", z, i), Zone: fmt.Sprintf("z%d", z), Weight: 1})
		}
	}
	return members
}

func mustNew(t testing.TB, members []Member) *Ring {
	t.Helper()
	r, err := New(members)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return r
}

func ids(members []Member) []string {
	out := make([]string, len(members))
	for i, m := range members {
		out[i] = m.ID
	}
	return out
}

func keyName(i int) string { return fmt.Sprintf("key-%d", i) }

// sampleKeys is large enough that the binomial tolerances below are a few
// percent of the expected fractions, small enough to run in milliseconds.
const sampleKeys = 20000

// binomialTolerance is how far an observed fraction of trials may stray
// from its expectation p: five standard deviations of a binomial proportion
// over trials, so a correct hash fails it with probability below 1e-6.
func binomialTolerance(p float64, trials int) float64 {
	return 5 * math.Sqrt(p*(1-p)/float64(trials))
}

func assertFraction(t *testing.T, what string, count, trials int, want float64) {
	t.Helper()
	got := float64(count) / float64(trials)
	if tol := binomialTolerance(want, trials); math.Abs(got-want) > tol {
		t.Errorf("%s: fraction %.4f (%d of %d), want %.4f +- %.4f", what, got, count, trials, want, tol)
	}
}

func TestNewRejectsBadInput(t *testing.T) {
	for _, tc := range []struct {
		name    string
		members []Member
		want    error
	}{
		{"nil", nil, ErrNoMembers},
		{"empty", []Member{}, ErrNoMembers},
		{"empty id", []Member{{ID: "a", Weight: 1}, {ID: "", Weight: 1}}, ErrEmptyID},
		{"duplicate id", []Member{{ID: "a", Weight: 1}, {ID: "b", Weight: 1}, {ID: "a", Zone: "z", Weight: 2}}, ErrDuplicateID},
		{"zero weight", []Member{{ID: "a", Weight: 0}}, ErrBadWeight},
		{"negative weight", []Member{{ID: "a", Weight: -1}}, ErrBadWeight},
		{"NaN weight", []Member{{ID: "a", Weight: math.NaN()}}, ErrBadWeight},
		{"infinite weight", []Member{{ID: "a", Weight: math.Inf(1)}}, ErrBadWeight},
		{"negative infinite weight", []Member{{ID: "a", Weight: math.Inf(-1)}}, ErrBadWeight},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := New(tc.members)
			if !errors.Is(err, tc.want) {
				t.Fatalf("New error = %v, want %v", err, tc.want)
			}
			if r != nil {
				t.Fatalf("New returned a ring with error %v", err)
			}
		})
	}
}

func TestNewCopiesMembers(t *testing.T) {
	members := equalMembers("n", 3)
	r := mustNew(t, members)
	before := ids(r.Replicas("k", 3))
	members[0].ID = "changed"
	members[1].Weight = 1000
	if after := ids(r.Replicas("k", 3)); !slices.Equal(before, after) {
		t.Fatalf("changing the caller's slice changed placement: %v then %v", before, after)
	}
}

func TestReplicasCount(t *testing.T) {
	r := mustNew(t, equalMembers("n", 4))
	for _, tc := range []struct{ n, want int }{{-1, 0}, {0, 0}, {1, 1}, {3, 3}, {4, 4}, {5, 4}, {100, 4}} {
		got := r.Replicas("some-key", tc.n)
		if len(got) != tc.want {
			t.Errorf("Replicas(n=%d) gave %d members, want %d", tc.n, len(got), tc.want)
		}
		seen := map[string]bool{}
		for _, m := range got {
			if seen[m.ID] {
				t.Errorf("Replicas(n=%d) repeats %q: %v", tc.n, m.ID, ids(got))
			}
			seen[m.ID] = true
		}
	}
}

func TestReplicasDeterministic(t *testing.T) {
	for _, tc := range []struct {
		name    string
		members []Member
	}{
		{"equal weights", equalMembers("n", 10)},
		{"zones", zonedMembers(3, 3)},
		{"mixed", []Member{{ID: "a", Zone: "x", Weight: 1}, {ID: "b", Zone: "y", Weight: 2.5}, {ID: "c", Weight: 0.5}, {ID: "d", Zone: "x", Weight: 1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := mustNew(t, tc.members)
			reversed := slices.Clone(tc.members)
			slices.Reverse(reversed)
			again := mustNew(t, reversed)
			for i := range 2000 {
				key := keyName(i)
				want := ids(r.Replicas(key, len(tc.members)))
				if got := ids(r.Replicas(key, len(tc.members))); !slices.Equal(got, want) {
					t.Fatalf("key %q: second call %v, first %v", key, got, want)
				}
				if got := ids(again.Replicas(key, len(tc.members))); !slices.Equal(got, want) {
					t.Fatalf("key %q: members in reverse order give %v, want %v", key, got, want)
				}
				for k := 1; k < len(want); k++ {
					if got := ids(r.Replicas(key, k)); !slices.Equal(got, want[:k]) {
						t.Fatalf("key %q: Replicas(n=%d) = %v, not a prefix of %v", key, k, got, want)
					}
				}
			}
		})
	}
}

// TestReplicasStableAcrossVersions pins a few answers, so a change to the
// hash (which would move every key in a running cluster) fails loudly.
func TestReplicasStableAcrossVersions(t *testing.T) {
	r := mustNew(t, equalMembers("n", 5))
	for _, tc := range []struct {
		key  string
		want []string
	}{
		{"", []string{"n2", "n1", "n4"}},
		{"a", []string{"n1", "n2", "n3"}},
		{"key-1", []string{"n1", "n2", "n3"}},
		{"photos/2026/cat.jpg", []string{"n3", "n2", "n4"}},
		{"日本語", []string{"n1", "n2", "n0"}},
	} {
		if got := ids(r.Replicas(tc.key, 3)); !slices.Equal(got, tc.want) {
			t.Errorf("Replicas(%q, 3) = %q, want %q", tc.key, got, tc.want)
		}
	}
}

func TestReplicasZoneSpread(t *testing.T) {
	for _, tc := range []struct {
		name       string
		members    []Member
		n          int
		wantZones  int
		mustHoldID string // a member every key must include, or ""
	}{
		{"3 zones x 3 nodes, n=3", zonedMembers(3, 3), 3, 3, ""},
		{"2 zones x 3 nodes, n=3", zonedMembers(2, 3), 3, 2, ""},
		{"2 zones x 3 nodes, n=2", zonedMembers(2, 3), 2, 2, ""},
		{"4 zones x 2 nodes, n=3", zonedMembers(4, 2), 3, 3, ""},
		{
			"a lone node in its zone is always a replica",
			append(zonedMembers(1, 5), Member{ID: "lone", Zone: "other", Weight: 1}),
			2, 2, "lone",
		},
		{
			"a light node in its own zone still holds a replica",
			append(zonedMembers(1, 5), Member{ID: "light", Zone: "other", Weight: 0.01}),
			3, 2, "light",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := mustNew(t, tc.members)
			for i := range sampleKeys / 4 {
				key := keyName(i)
				got := r.Replicas(key, tc.n)
				if len(got) != tc.n {
					t.Fatalf("key %q: %d replicas, want %d", key, len(got), tc.n)
				}
				zones := map[string]bool{}
				ids := map[string]bool{}
				for _, m := range got {
					zones[m.Zone] = true
					ids[m.ID] = true
				}
				if len(zones) != tc.wantZones {
					t.Fatalf("key %q: replicas %v span %d zones, want %d", key, got, len(zones), tc.wantZones)
				}
				if len(ids) != tc.n {
					t.Fatalf("key %q: replicas %v repeat a member", key, got)
				}
				if tc.mustHoldID != "" && !ids[tc.mustHoldID] {
					t.Fatalf("key %q: replicas %v lack %q", key, got, tc.mustHoldID)
				}
			}
		})
	}
}

func TestAddingEleventhNodeMovesAboutAnEleventh(t *testing.T) {
	const n = 3
	before := mustNew(t, equalMembers("n", 10))
	after := mustNew(t, equalMembers("n", 11))
	const newcomer = "n10"
	primaryMoved, setChanged := 0, 0
	for i := range sampleKeys {
		key := keyName(i)
		old, cur := ids(before.Replicas(key, n)), ids(after.Replicas(key, n))
		if old[0] != cur[0] {
			primaryMoved++
			if cur[0] != newcomer {
				t.Fatalf("key %q: primary moved from %s to %s, not to the newcomer", key, old[0], cur[0])
			}
		}
		if !slices.Equal(old, cur) {
			setChanged++
			if !slices.Contains(cur, newcomer) {
				t.Fatalf("key %q: replicas changed from %v to %v without the newcomer", key, old, cur)
			}
			// The newcomer takes exactly one place; the others keep their order.
			rest := slices.DeleteFunc(slices.Clone(cur), func(id string) bool { return id == newcomer })
			if !slices.Equal(rest, old[:n-1]) {
				t.Fatalf("key %q: replicas changed from %v to %v, more than the newcomer's arrival", key, old, cur)
			}
		}
	}
	assertFraction(t, "keys whose primary moved", primaryMoved, sampleKeys, 1.0/11)
	assertFraction(t, "keys whose replica set changed", setChanged, sampleKeys, float64(n)/11)
}

func TestRemovingNodeMovesOnlyItsKeys(t *testing.T) {
	const n = 3
	members := equalMembers("n", 10)
	const gone = "n3"
	before := mustNew(t, members)
	after := mustNew(t, slices.DeleteFunc(slices.Clone(members), func(m Member) bool { return m.ID == gone }))
	held := 0
	for i := range sampleKeys {
		key := keyName(i)
		old, cur := ids(before.Replicas(key, n)), ids(after.Replicas(key, n))
		if slices.Contains(cur, gone) {
			t.Fatalf("key %q: removed member still a replica: %v", key, cur)
		}
		if !slices.Contains(old, gone) {
			if !slices.Equal(old, cur) {
				t.Fatalf("key %q: replicas %v did not include %s but changed to %v", key, old, gone, cur)
			}
			continue
		}
		held++
		kept := slices.DeleteFunc(slices.Clone(old), func(id string) bool { return id == gone })
		if !slices.Equal(cur[:n-1], kept) {
			t.Fatalf("key %q: replicas %v became %v; the survivors should keep their order", key, old, cur)
		}
	}
	assertFraction(t, "keys the removed member held", held, sampleKeys, float64(n)/10)
}

func TestWeightShapesShare(t *testing.T) {
	members := append(equalMembers("light", 4), Member{ID: "heavy", Weight: 2})
	const total = 6.0
	r := mustNew(t, members)
	primaries := map[string]int{}
	for i := range sampleKeys {
		primaries[r.Replicas(keyName(i), 1)[0].ID]++
	}
	for _, m := range members {
		assertFraction(t, "primary share of "+m.ID, primaries[m.ID], sampleKeys, m.Weight/total)
	}
}

// TestReplicasConcurrent checks that calls sharing a Ring (and its scratch
// pool) do not disturb one another; run it with -race.
func TestReplicasConcurrent(t *testing.T) {
	r := mustNew(t, zonedMembers(3, 4))
	want := make([][]string, 500)
	for i := range want {
		want[i] = ids(r.Replicas(keyName(i), 4))
	}
	errs := make(chan error, 4)
	for range cap(errs) {
		go func() {
			for i := range want {
				if got := ids(r.Replicas(keyName(i), 4)); !slices.Equal(got, want[i]) {
					errs <- fmt.Errorf("key %q: concurrent call gave %v, want %v", keyName(i), got, want[i])
					return
				}
			}
			errs <- nil
		}()
	}
	for range cap(errs) {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
