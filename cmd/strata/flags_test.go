package main

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

func TestParseInterleaved(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		wantPos []string
		wantO   string
		wantQ   bool
	}{
		{args: []string{"k"}, wantPos: []string{"k"}},
		{args: []string{"k", "-o", "f"}, wantPos: []string{"k"}, wantO: "f"},
		{args: []string{"-o", "f", "k"}, wantPos: []string{"k"}, wantO: "f"},
		{args: []string{"a", "-q", "b"}, wantPos: []string{"a", "b"}, wantQ: true},
		{args: []string{"--o=f", "a"}, wantPos: []string{"a"}, wantO: "f"},
		{args: []string{"--", "-o", "f"}, wantPos: []string{"-o", "f"}},
		{args: []string{"a", "--", "-q"}, wantPos: []string{"a", "-q"}},
		{args: []string{"-"}, wantPos: []string{"-"}},
	} {
		fs := newFlagSet("t", "", "")
		o := fs.String("o", "", "")
		q := fs.Bool("q", false, "")
		var out, errb bytes.Buffer
		pos, code, ok := fs.parse(tc.args, stdio{out: &out, err: &errb})
		if !ok {
			t.Errorf("%q: not ok, code %d: %s", tc.args, code, errb.String())
			continue
		}
		if !slices.Equal(pos, tc.wantPos) || *o != tc.wantO || *q != tc.wantQ {
			t.Errorf("%q: pos %q o %q q %v; want %q %q %v", tc.args, pos, *o, *q, tc.wantPos, tc.wantO, tc.wantQ)
		}
	}
}

// FuzzParseArgs checks that any argument list either parses into
// positional arguments drawn from the input, or ends with exit code 0/2.
func FuzzParseArgs(f *testing.F) {
	for _, s := range []string{"k -o f", "-o", "-- -o", "--help", "-q=maybe", "a\x00b -o\x00x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, joined string) {
		args := strings.Fields(joined)
		fs := newFlagSet("t", "", "")
		fs.String("o", "", "")
		fs.Bool("q", false, "")
		var out, errb bytes.Buffer
		pos, code, ok := fs.parse(args, stdio{out: &out, err: &errb})
		if !ok {
			if code != exitOK && code != exitUsage {
				t.Fatalf("%q: code %d", args, code)
			}
			return
		}
		for _, p := range pos {
			if !slices.Contains(args, p) {
				t.Fatalf("%q: positional %q not in the input", args, p)
			}
		}
	})
}
