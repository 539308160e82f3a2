package placement

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// parseMembers reads "id,zone,weight" lines; a line that does not parse
// becomes a member with weight 0, so New's checks see it too.
func parseMembers(spec string) []Member {
	var members []Member
	for line := range strings.Lines(spec) {
		fields := strings.SplitN(strings.TrimRight(line, "\n"), ",", 3)
		for len(fields) < 3 {
			fields = append(fields, "")
		}
		weight, _ := strconv.ParseFloat(fields[2], 64)
		members = append(members, Member{ID: fields[0], Zone: fields[1], Weight: weight})
	}
	return members
}

func FuzzReplicas(f *testing.F) {
	f.Add("a,x,1\nb,y,2\nc,x,0.5\n", "key", 2)
	f.Add("a,,1\nb,,1\nc,,1\n", "", 5)
	f.Add("a,x,1\na,y,1\n", "k", 1)
	f.Add("a,x,NaN\n", "k", 1)
	f.Add("a,x,1e308\nb,y,1e308\nc,z,5e-324\n", "k", 3)
	f.Add("", "k", 1)
	f.Fuzz(func(t *testing.T, spec, key string, n int) {
		members := parseMembers(spec)
		r, err := New(members)
		if err != nil {
			for _, want := range []error{ErrNoMembers, ErrEmptyID, ErrDuplicateID, ErrBadWeight} {
				if errors.Is(err, want) {
					return
				}
			}
			t.Fatalf("New error %v is none of the sentinels", err)
		}
		got := r.Replicas(key, n)
		wantLen := max(0, min(n, len(members)))
		if len(got) != wantLen {
			t.Fatalf("Replicas(n=%d) over %d members gave %d", n, len(members), len(got))
		}
		if again := r.Replicas(key, n); !slices.Equal(again, got) {
			t.Fatalf("not deterministic: %v then %v", got, again)
		}
		seen := map[string]bool{}
		zones := map[string]bool{}
		for i, m := range got {
			if seen[m.ID] {
				t.Fatalf("member %q repeated in %v", m.ID, got)
			}
			seen[m.ID] = true
			if !slices.Contains(members, m) {
				t.Fatalf("replica %v is not a member", m)
			}
			if i < r.Zones() && zones[m.Zone] {
				t.Fatalf("replica %d repeats zone %q while zones remain: %v", i, m.Zone, got)
			}
			zones[m.Zone] = true
		}
		if wantLen > 1 {
			if prefix := r.Replicas(key, wantLen-1); !slices.Equal(prefix, got[:wantLen-1]) {
				t.Fatalf("Replicas(n-1) = %v, not a prefix of %v", prefix, got)
			}
		}
	})
}
