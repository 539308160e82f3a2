package node

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestParseByteRanges(t *testing.T) {
	const huge = "99999999999999999999999" // past int64
	seventeen := strings.Repeat("0-0,", 16) + "0-0"
	sixteen := strings.Repeat("0-0,", 15) + "0-0"
	for _, tc := range []struct {
		set  string
		size int64
		want string // formatted ranges, or "416"
	}{
		{"0-4", 10, "bytes=0-4"},
		{"2-", 10, "bytes=2-9"},
		{"-3", 10, "bytes=7-9"},
		{"-10", 10, "bytes=0-9"},
		{"-11", 10, "bytes=0-9"},
		{"-" + huge, 10, "bytes=0-9"},
		{"8-100", 10, "bytes=8-9"},
		{"8-" + huge, 10, "bytes=8-9"},
		{"9-9", 10, "bytes=9-9"},
		{"0-0", 1, "bytes=0-0"},
		{"-0", 10, "416"},
		{"-0", 0, "416"},
		{"-5", 0, "416"},
		{"0-", 0, "416"},
		{"0-0", 0, "416"},
		{"10-", 10, "416"},
		{"10-12", 10, "416"},
		{huge + "-", 10, "416"},
		{huge + "-" + huge, 10, "416"},
		{"9223372036854775807-", 10, "416"},
		{"-0,2-3", 10, "bytes=2-3"},           // the satisfiable part is served
		{"20-30, 1-1", 10, "bytes=1-1"},       // likewise
		{" 0-1 ,\t5-6 ", 10, "bytes=0-1,5-6"}, // optional whitespace
		{",0-1,,", 10, "bytes=0-1"},           // empty list elements
		{"5-6,0-1", 10, "bytes=0-1,5-6"},      // sorted
		{"0-4,3-6", 10, "bytes=0-6"},          // overlapping: coalesced
		{"0-1,2-3", 10, "bytes=0-3"},          // adjacent: coalesced
		{"0-1,3-4", 10, "bytes=0-1,3-4"},      // a gap: kept apart
		{"-2,0-", 10, "bytes=0-9"},            // suffix inside another
		{"1-1,1-1,1-1", 10, "bytes=1-1"},      // repeated
		{sixteen, 10, "bytes=0-0"},            // at the cap
		{seventeen, 10, "416"},                // past it, even though it coalesces
		{"5-2", 10, "416"},                    // inverted
		{"x-y", 10, "416"},
		{"1", 10, "416"},
		{"-", 10, "416"},
		{"--1", 10, "416"},
		{"+1-2", 10, "416"},
		{"1-+2", 10, "416"},
		{"-+1", 10, "416"},
		{"1 -2", 10, "416"},
		{"0x1-2", 10, "416"},
		{"", 10, "416"},
		{",", 10, "416"},
		{"0-1,x", 10, "416"}, // one malformed spec spoils the set
	} {
		t.Run(fmt.Sprintf("%s/%d", tc.set, tc.size), func(t *testing.T) {
			ranges, err := parseByteRanges(tc.set, tc.size)
			if tc.want == "416" {
				if !errors.Is(err, errRangeNotSatisfiable) {
					t.Fatalf("got %v, %v; want errRangeNotSatisfiable", ranges, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := formatByteRanges(ranges); got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestRangeForServeContent(t *testing.T) {
	for _, tc := range []struct {
		values []string
		size   int64
		want   string
	}{
		{nil, 10, ""},
		{[]string{"bytes=0-1", "bytes=2-3"}, 10, ""},
		{[]string{"pages=1-2"}, 10, ""},
		{[]string{"Bytes=3-1,0-0"}, 10, refusedRange},
		{[]string{"BYTES=3-4,0-0"}, 10, "bytes=0-0,3-4"},
		{[]string{"bytes=-0"}, 20, refusedRange},
		{[]string{"bytes=-5"}, 0, refusedRange},
	} {
		if got := rangeForServeContent(tc.values, tc.size); got != tc.want {
			t.Errorf("%q on %d bytes: %q, want %q", tc.values, tc.size, got, tc.want)
		}
	}
}

// FuzzParseByteRanges: never panics; an accepted set is at most maxRanges
// sorted, disjoint, non-adjacent ranges inside the blob, and its canonical
// form parses back to itself; a refused one wraps errRangeNotSatisfiable.
func FuzzParseByteRanges(f *testing.F) {
	for _, s := range []string{"0-1", "-0", "-5", "5-", "1-1,1-1", "0-4,3-6", " 0-1 ,\t5-6 ", "99999999999999999999-",
		"0-99999999999999999999", "-99999999999999999999", ",", "5-2", "x", strings.Repeat("0-0,", 20)} {
		for _, size := range []int64{0, 1, 10, 1 << 40} {
			f.Add(s, size)
		}
	}
	f.Fuzz(func(t *testing.T, set string, size int64) {
		if size < 0 {
			size = -(size + 1)
		}
		ranges, err := parseByteRanges(set, size)
		if err != nil {
			if !errors.Is(err, errRangeNotSatisfiable) || ranges != nil {
				t.Fatalf("%q/%d: %v, %v", set, size, ranges, err)
			}
			return
		}
		if len(ranges) == 0 || len(ranges) > maxRanges {
			t.Fatalf("%q/%d: %d ranges", set, size, len(ranges))
		}
		for i, r := range ranges {
			if r.first < 0 || r.last < r.first || r.last >= size {
				t.Fatalf("%q/%d: range %v outside the blob", set, size, r)
			}
			if i > 0 && r.first <= ranges[i-1].last+1 {
				t.Fatalf("%q/%d: ranges %v not sorted and coalesced", set, size, ranges)
			}
		}
		canon := formatByteRanges(ranges)
		again, err := parseByteRanges(strings.TrimPrefix(canon, "bytes="), size)
		if err != nil || formatByteRanges(again) != canon {
			t.Fatalf("%q/%d: canonical %q parses to %v, %v", set, size, canon, again, err)
		}
	})
}
