package placement

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestColocateSharesTargetHomes(t *testing.T) {
	for _, tc := range []struct {
		name    string
		members []Member
		n       int
	}{
		{"three equal", equalMembers("n", 3), 3},
		{"five equal n3", equalMembers("n", 5), 3},
		{"twelve n2", equalMembers("m", 12), 2},
		{"zones 3x3", zonedMembers(3, 3), 3},
		{"zones 2x4 n5", zonedMembers(2, 4), 5},
		{"weighted", []Member{{ID: "a", Weight: 1}, {ID: "b", Weight: 3}, {ID: "c", Weight: 0.5}, {ID: "d", Weight: 2}}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := mustNew(t, tc.members)
			moved := 0
			for i := range 2000 {
				target := fmt.Sprintf("bucket/obj-%d", i)
				part := Colocate(target, fmt.Sprintf(".s3/uploads/u%d/%05d", i, i%7+1))
				want, got := ids(r.Replicas(target, tc.n)), ids(r.Replicas(part, tc.n))
				if !slices.Equal(got, want) {
					t.Fatalf("Colocate(%q) homes %v, target homes %v", target, got, want)
				}
				// The same rest placed by its own hash lands elsewhere for
				// some keys; otherwise this test could not fail.
				if !slices.Equal(ids(r.Replicas(part[len(ColocatePrefix)+colocateHexLen+1:], tc.n)), want) {
					moved++
				}
			}
			if moved == 0 && len(tc.members) > tc.n {
				t.Fatalf("no rest key placed differently from its target: the test cannot tell co-location from chance")
			}
		})
	}
}

func TestColocateFormat(t *testing.T) {
	k := Colocate("t", "x/y")
	if !strings.HasPrefix(k, ColocatePrefix) || len(k) != len(ColocatePrefix)+colocateHexLen+1+len("x/y") || !strings.HasSuffix(k, "/x/y") {
		t.Fatalf("Colocate = %q", k)
	}
	if got, want := KeyHash(k), hashString("t"); got != want {
		t.Fatalf("KeyHash(%q) = %x, want %x", k, got, want)
	}
	if !IsColocated(k) || ColocatedRest(k) != "x/y" {
		t.Fatalf("IsColocated(%q) = %v, rest %q", k, IsColocated(k), ColocatedRest(k))
	}
	if r := ColocatedRest(".p/0123456789ABCDEF/x"); r != "" {
		t.Fatalf("ColocatedRest of a malformed key = %q", r)
	}
}

func TestKeyHashMalformedFallsBack(t *testing.T) {
	for _, key := range []string{
		"",
		".p/",
		".p/0123456789abcdef",       // no slash after the digits
		".p/0123456789abcde/x",      // 15 digits
		".p/0123456789abcdef0/x",    // 17 digits
		".p/0123456789ABCDEF/x",     // uppercase
		".p/0123456789abcdeg/x",     // not hex
		".p/+123456789abcdef/x",     // sign
		".P/0123456789abcdef/x",     // prefix case
		"p/0123456789abcdef/x",      // no dot
		"x.p/0123456789abcdef/x",    // not at the start
		".p/0123456789abcdef\x00/x", // junk
		"plain/key",
	} {
		if IsColocated(key) {
			t.Errorf("IsColocated(%q) = true", key)
		}
		if got, want := KeyHash(key), hashString(key); got != want {
			t.Errorf("KeyHash(%q) = %x, want own hash %x", key, got, want)
		}
	}
	// An empty rest is well formed: the slash ends the hash field.
	if !IsColocated(".p/0123456789abcdef/") || KeyHash(".p/0123456789abcdef/") != 0x0123456789abcdef {
		t.Errorf("empty rest not parsed")
	}
}

func FuzzKeyHash(f *testing.F) {
	f.Add(Colocate("t", "r"))
	f.Add(".p/0123456789abcdef/x")
	f.Add(".p/0123456789ABCDEF/x")
	f.Add("plain")
	f.Fuzz(func(t *testing.T, key string) {
		h := KeyHash(key)
		if !IsColocated(key) {
			if h != hashString(key) {
				t.Fatalf("malformed %q not hashed as itself", key)
			}
			return
		}
		// A well-formed key re-encodes to itself.
		if got := fmt.Sprintf("%s%016x/", ColocatePrefix, h); !strings.HasPrefix(key, got) {
			t.Fatalf("%q parsed as %x, re-encodes as %q", key, h, got)
		}
	})
}
