package node

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestParseETagList(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		any  bool
		tags []string
		bad  bool
	}{
		{in: nil},
		{in: []string{"*"}, any: true},
		{in: []string{` * `}, any: true},
		{in: []string{`"a"`}, tags: []string{`"a"`}},
		{in: []string{`"a", W/"b" ,"c"`}, tags: []string{`"a"`, `W/"b"`, `"c"`}},
		{in: []string{`"a"`, `"b"`}, tags: []string{`"a"`, `"b"`}},
		{in: []string{`, "a",,`}, tags: []string{`"a"`}},
		{in: []string{`""`}, tags: []string{`""`}},
		{in: []string{`a`}, bad: true},
		{in: []string{`"a" "b"`}, bad: true},
		{in: []string{`"a`}, bad: true},
		{in: []string{`"a"b`}, bad: true},
		{in: []string{`"a b"`}, bad: true},
		{in: []string{`w/"a"`}, bad: true},
		{in: []string{``}, bad: true},
		{in: []string{`*, "a"`}, bad: true},
	} {
		l, err := parseETagList(tc.in)
		if tc.bad {
			if !errors.Is(err, errBadRequest) {
				t.Errorf("%q: err %v, want errBadRequest", tc.in, err)
			}
			continue
		}
		if err != nil || l.any != tc.any || strings.Join(l.tags, "|") != strings.Join(tc.tags, "|") || l.present != (tc.in != nil) {
			t.Errorf("%q: %+v, %v; want any=%v tags=%q", tc.in, l, err, tc.any, tc.tags)
		}
	}
}

func TestWritePreconditions(t *testing.T) {
	const cur = `"00000000000000aa"`
	for _, tc := range []struct {
		ifMatch, ifNoneMatch string
		exists               bool
		ok                   bool
	}{
		{"", "", false, true},
		{"*", "", true, true},
		{"*", "", false, false},
		{cur, "", true, true},
		{`"x", ` + cur, "", true, true},
		{"W/" + cur, "", true, false},
		{`"x"`, "", true, false},
		{cur, "", false, false},
		{"", "*", false, true},
		{"", "*", true, false},
		{"", "W/" + cur, true, false},
		{"", `"x"`, true, true},
		{"", cur, false, true},
	} {
		h := map[string][]string{}
		if tc.ifMatch != "" {
			h["If-Match"] = []string{tc.ifMatch}
		}
		if tc.ifNoneMatch != "" {
			h["If-None-Match"] = []string{tc.ifNoneMatch}
		}
		p, err := parseWritePreconditions(h)
		if err != nil {
			t.Fatal(err)
		}
		etag := ""
		if tc.exists {
			etag = cur
		}
		if err := p.check(tc.exists, etag, time.Time{}); (err == nil) != tc.ok {
			t.Errorf("If-Match %q If-None-Match %q exists %v: %v, want ok=%v", tc.ifMatch, tc.ifNoneMatch, tc.exists, err, tc.ok)
		}
	}
}

func TestIfUnmodifiedSince(t *testing.T) {
	mod := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) string { return mod.Add(d).Format(http.TimeFormat) }
	const cur = `"00000000000000aa"`
	for _, tc := range []struct {
		name    string
		headers []string
		exists  bool
		modTime time.Time
		ok      bool
	}{
		{"same second", []string{"If-Unmodified-Since", at(0)}, true, mod, true},
		{"later date", []string{"If-Unmodified-Since", at(time.Hour)}, true, mod, true},
		{"modified since", []string{"If-Unmodified-Since", at(-time.Second)}, true, mod, false},
		{"sub-second modtime counts as its second", []string{"If-Unmodified-Since", at(0)}, true, mod.Add(900 * time.Millisecond), true},
		{"missing blob has no date", []string{"If-Unmodified-Since", at(-time.Hour)}, false, time.Time{}, true},
		{"invalid date ignored", []string{"If-Unmodified-Since", "yesterday"}, true, mod, true},
		{"list of dates ignored", []string{"If-Unmodified-Since", at(-time.Hour) + ", " + at(-time.Hour)}, true, mod, true},
		{"two fields ignored", []string{"If-Unmodified-Since", at(-time.Hour), "If-Unmodified-Since", at(-time.Hour)}, true, mod, true},
		{"RFC 850 date", []string{"If-Unmodified-Since", mod.Add(-time.Hour).Format(time.RFC850)}, true, mod, false},
		{"If-Match present: ignored", []string{"If-Match", cur, "If-Unmodified-Since", at(-time.Hour)}, true, mod, true},
		{"If-Match fails first", []string{"If-Match", `"x"`, "If-Unmodified-Since", at(time.Hour)}, true, mod, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for i := 0; i+1 < len(tc.headers); i += 2 {
				h.Add(tc.headers[i], tc.headers[i+1])
			}
			p, err := parseWritePreconditions(h)
			if err != nil {
				t.Fatal(err)
			}
			etag := ""
			if tc.exists {
				etag = cur
			}
			err = p.check(tc.exists, etag, tc.modTime)
			if (err == nil) != tc.ok || (err != nil && !errors.Is(err, errPrecondition)) {
				t.Fatalf("%v, want ok=%v", err, tc.ok)
			}
		})
	}
}

// FuzzParseETagList: never panics; accepted lists hold only well-formed
// tags, and re-joining them parses to the same list.
func FuzzParseETagList(f *testing.F) {
	for _, s := range []string{`*`, `"a"`, `W/"a", "b"`, `"a" "b"`, `,,`, `"`, `W/`, "\"\x80\"", `"a",W/"b",*`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := parseETagList([]string{s})
		if err != nil {
			if !errors.Is(err, errBadRequest) {
				t.Fatalf("%q: error %v does not wrap errBadRequest", s, err)
			}
			return
		}
		if l.any {
			return
		}
		for _, tag := range l.tags {
			if !strings.HasSuffix(tag, `"`) || !(strings.HasPrefix(tag, `"`) || strings.HasPrefix(tag, `W/"`)) || len(strings.TrimPrefix(tag, "W/")) < 2 {
				t.Fatalf("%q: malformed tag %q accepted", s, tag)
			}
		}
		again, err := parseETagList([]string{strings.Join(l.tags, ", ")})
		if err != nil || strings.Join(again.tags, "|") != strings.Join(l.tags, "|") {
			t.Fatalf("%q: re-parse of %q gave %q, %v", s, l.tags, again.tags, err)
		}
	})
}

func TestNormalizeRange(t *testing.T) {
	for _, tc := range []struct {
		in, out string
		ok      bool
	}{
		{"bytes=0-1", "bytes=0-1", true},
		{"Bytes=0-1", "bytes=0-1", true},
		{" BYTES =-5", "bytes=-5", true},
		{"bytes=", "bytes=", true},
		{"pages=1", "", false},
		{"0-1", "", false},
		{"", "", false},
	} {
		out, ok := normalizeRange(tc.in)
		if out != tc.out || ok != tc.ok {
			t.Errorf("normalizeRange(%q) = %q, %v; want %q, %v", tc.in, out, ok, tc.out, tc.ok)
		}
	}
}

// FuzzNormalizeRange: a kept header always has the unit ServeContent wants
// and the original range set; a dropped one never named the bytes unit.
func FuzzNormalizeRange(f *testing.F) {
	for _, s := range []string{"bytes=0-1", "Bytes=-1", "pages=1", "=", "bytes", " bytes = 1-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, ok := normalizeRange(s)
		unit, spec, found := strings.Cut(s, "=")
		isBytes := found && strings.EqualFold(strings.TrimSpace(unit), "bytes")
		if ok != isBytes {
			t.Fatalf("%q: ok=%v, bytes unit=%v", s, ok, isBytes)
		}
		if ok && out != "bytes="+spec {
			t.Fatalf("%q: normalized to %q", s, out)
		}
	})
}
