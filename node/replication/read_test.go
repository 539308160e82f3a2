package replication

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"strata/blockstore"
)

func blob(v uint64) blockstore.Entry {
	return blockstore.Entry{Info: blockstore.Info{Key: "k", Version: v, Size: 10}}
}

func tomb(v uint64) blockstore.Entry {
	return blockstore.Entry{Info: blockstore.Info{Key: "k", Version: v}, Deleted: true}
}

func corrupt(v uint64) blockstore.Entry {
	return blockstore.Entry{Info: blockstore.Info{Key: "k", Version: v}, Corrupt: true}
}

func has(home string, e blockstore.Entry) ReadAnswer {
	return ReadAnswer{Home: home, Entry: e, Found: true}
}
func none(home string) ReadAnswer { return ReadAnswer{Home: home} }
func down(home string) ReadAnswer { return ReadAnswer{Home: home, Err: errors.New("unreachable")} }

func TestResolveRead(t *testing.T) {
	tests := []struct {
		name     string
		self     string
		answers  []ReadAnswer
		r        int
		noQuorum bool
		found    bool
		live     bool
		newest   uint64
		holders  []string
		stale    []string
		answered int
	}{
		{
			name: "all agree", self: "n1", r: 2,
			answers: []ReadAnswer{has("n1", blob(5)), has("n2", blob(5))},
			found:   true, live: true, newest: 5, holders: []string{"n1", "n2"}, answered: 2,
		},
		{
			name: "newest wins and the older home is stale", self: "n1", r: 2,
			answers: []ReadAnswer{has("n1", blob(4)), has("n2", blob(7))},
			found:   true, live: true, newest: 7, holders: []string{"n2"}, stale: []string{"n1"}, answered: 2,
		},
		{
			name: "self is read first even when answering last", self: "n3", r: 3,
			answers: []ReadAnswer{has("n1", blob(5)), has("n2", blob(5)), has("n3", blob(5))},
			found:   true, live: true, newest: 5, holders: []string{"n3", "n1", "n2"}, answered: 3,
		},
		{
			name: "a non-home coordinator reads in answer order", self: "n9", r: 2,
			answers: []ReadAnswer{has("n2", blob(5)), has("n1", blob(5))},
			found:   true, live: true, newest: 5, holders: []string{"n2", "n1"}, answered: 2,
		},
		{
			name: "missing copy is stale", self: "n1", r: 2,
			answers: []ReadAnswer{none("n1"), has("n2", blob(5))},
			found:   true, live: true, newest: 5, holders: []string{"n2"}, stale: []string{"n1"}, answered: 2,
		},
		{
			name: "nobody has it: not found, nothing to repair", self: "n1", r: 2,
			answers:  []ReadAnswer{none("n1"), none("n2")},
			answered: 2,
		},
		{
			name: "newer tombstone hides the blob and repairs the holder", self: "n1", r: 2,
			answers: []ReadAnswer{has("n1", blob(5)), has("n2", tomb(6))},
			found:   true, newest: 6, stale: []string{"n1"}, answered: 2,
		},
		{
			name: "older tombstone loses to a newer blob", self: "n1", r: 2,
			answers: []ReadAnswer{has("n1", tomb(5)), has("n2", blob(6))},
			found:   true, live: true, newest: 6, holders: []string{"n2"}, stale: []string{"n1"}, answered: 2,
		},
		{
			name: "tombstone beats a blob of the same version", self: "n1", r: 2,
			answers: []ReadAnswer{has("n1", blob(5)), has("n2", tomb(5))},
			found:   true, newest: 5, stale: []string{"n1"}, answered: 2,
		},
		{
			name: "corrupt self: read the other holder, repair self", self: "n1", r: 2,
			answers: []ReadAnswer{has("n1", corrupt(5)), has("n2", blob(5))},
			found:   true, live: true, newest: 5, holders: []string{"n2"}, stale: []string{"n1"}, answered: 2,
		},
		{
			name: "only corrupt copies: no holder, all stale", self: "n1", r: 2,
			answers: []ReadAnswer{has("n1", corrupt(5)), has("n2", corrupt(5))},
			found:   true, newest: 5, stale: []string{"n1", "n2"}, answered: 2,
		},
		{
			name: "a newer corrupt version beats an older readable one", self: "n1", r: 2,
			answers: []ReadAnswer{has("n1", blob(4)), has("n2", corrupt(5))},
			found:   true, newest: 5, stale: []string{"n1", "n2"}, answered: 2,
		},
		{
			name: "one home down: R=2 of the two that answered", self: "n1", r: 2,
			answers: []ReadAnswer{has("n1", blob(5)), down("n2"), has("n3", blob(5))},
			found:   true, live: true, newest: 5, holders: []string{"n1", "n3"}, answered: 2,
		},
		{
			name: "a down home is never stale", self: "n1", r: 1,
			answers: []ReadAnswer{has("n1", blob(5)), down("n2")},
			found:   true, live: true, newest: 5, holders: []string{"n1"}, answered: 1,
		},
		{
			name: "too few answers: no quorum", self: "n1", r: 2,
			answers:  []ReadAnswer{has("n1", blob(5)), down("n2"), down("n3")},
			noQuorum: true, answered: 1,
		},
		{
			name: "no answers at all", self: "n1", r: 1,
			noQuorum: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := ResolveRead(tc.self, tc.answers, tc.r)
			if tc.noQuorum {
				if !errors.Is(err, ErrNoQuorum) {
					t.Fatalf("err = %v, want ErrNoQuorum", err)
				}
				if res.Answered != tc.answered {
					t.Errorf("Answered = %d, want %d", res.Answered, tc.answered)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Found != tc.found || res.Live() != tc.live {
				t.Errorf("Found, Live = %v, %v; want %v, %v", res.Found, res.Live(), tc.found, tc.live)
			}
			if tc.found && res.Newest.Version != tc.newest {
				t.Errorf("newest version %d, want %d", res.Newest.Version, tc.newest)
			}
			if !slices.Equal(res.Holders, tc.holders) {
				t.Errorf("Holders = %v, want %v", res.Holders, tc.holders)
			}
			if !slices.Equal(res.Stale, tc.stale) {
				t.Errorf("Stale = %v, want %v", res.Stale, tc.stale)
			}
			if res.Answered != tc.answered {
				t.Errorf("Answered = %d, want %d", res.Answered, tc.answered)
			}
		})
	}
}

func TestNewer(t *testing.T) {
	tests := []struct {
		a, b blockstore.Entry
		want bool
	}{
		{blob(2), blob(1), true},
		{blob(1), blob(2), false},
		{blob(1), blob(1), false},
		{tomb(1), blob(1), true},
		{blob(1), tomb(1), false},
		{blob(1), corrupt(1), true},
		{corrupt(1), blob(1), false},
		{tomb(1), corrupt(1), true},
		{corrupt(2), tomb(1), true},
		{corrupt(0), blockstore.Entry{}, false}, // version 0: no entry either way
		{blob(1), blockstore.Entry{}, true},
		{blockstore.Entry{}, blockstore.Entry{}, false},
	}
	for _, tc := range tests {
		if got := Newer(tc.a, tc.b); got != tc.want {
			t.Errorf("Newer(%+v, %+v) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

// Random answer sets: the newest is the maximum under Newer, holders hold
// exactly it readable with self first, stale lists exactly the answering
// homes that are behind, and nothing that did not answer is named.
func TestResolveReadProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	homes := []string{"n1", "n2", "n3", "n4", "n5"}
	for range 5000 {
		var answers []ReadAnswer
		for _, h := range homes[:1+rng.IntN(len(homes))] {
			a := ReadAnswer{Home: h}
			switch rng.IntN(6) {
			case 0:
				a.Err = errors.New("down")
			case 1: // no entry
			default:
				a.Found = true
				a.Entry = blockstore.Entry{Info: blockstore.Info{Key: "k", Version: uint64(1 + rng.IntN(3))}}
				switch rng.IntN(4) {
				case 0:
					a.Entry.Deleted = true
				case 1:
					a.Entry.Corrupt = true
				}
			}
			answers = append(answers, a)
		}
		self := homes[rng.IntN(len(homes))]
		r := 1 + rng.IntN(3)
		res, err := ResolveRead(self, answers, r)
		answered := 0
		for _, a := range answers {
			if a.Err == nil {
				answered++
			}
		}
		if answered < r {
			if !errors.Is(err, ErrNoQuorum) {
				t.Fatalf("%d answers for R=%d: err %v", answered, r, err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range answers {
			if a.Err != nil {
				if slices.Contains(res.Holders, a.Home) || slices.Contains(res.Stale, a.Home) {
					t.Fatalf("%s did not answer but is named: %+v", a.Home, res)
				}
				continue
			}
			if a.Found && Newer(a.Entry, res.Newest) {
				t.Fatalf("%s holds %+v, newer than the resolved %+v", a.Home, a.Entry, res.Newest)
			}
			current := a.Found && !Newer(res.Newest, a.Entry)
			holder := slices.Contains(res.Holders, a.Home)
			stale := slices.Contains(res.Stale, a.Home)
			switch {
			case holder && (!current || a.Entry.Deleted || a.Entry.Corrupt):
				t.Fatalf("%s is a holder with %+v (newest %+v)", a.Home, a.Entry, res.Newest)
			case current && res.Live() && !holder:
				t.Fatalf("%s holds the newest readable but is no holder", a.Home)
			case res.Found && !current && !stale:
				t.Fatalf("%s is behind (%+v vs %+v) but not stale", a.Home, a.Entry, res.Newest)
			case holder && stale:
				t.Fatalf("%s is both holder and stale", a.Home)
			case a.Found && a.Entry.Corrupt && !stale:
				t.Fatalf("%s holds a corrupt copy but is not stale", a.Home)
			}
		}
		if len(res.Holders) > 0 && slices.Contains(res.Holders, self) && res.Holders[0] != self {
			t.Fatalf("self %s not read first: %v", self, res.Holders)
		}
	}
}
