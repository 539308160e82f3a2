package node

import (
	"net/http"
	"testing"
	"time"
)

func TestAppendHTTPDate(t *testing.T) {
	loc := time.FixedZone("UTC+5:30", 5*3600+1800)
	for _, tm := range []time.Time{
		time.Unix(0, 0),
		time.Date(2026, 12, 2, 19, 30, 5, 999999999, time.UTC),
		time.Date(2026, 12, 31, 23, 59, 59, 0, loc), // another day in UTC
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(999, 2, 28, 1, 2, 3, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), // AppendFormat's
		time.Date(-5, 6, 7, 8, 9, 10, 0, time.UTC),   // AppendFormat's
		{},
	} {
		want := tm.UTC().AppendFormat([]byte("x"), http.TimeFormat)
		if got := appendHTTPDate([]byte("x"), tm); string(got) != string(want) {
			t.Errorf("%v: %q, want %q", tm, got, want)
		}
	}
}

func FuzzAppendHTTPDate(f *testing.F) {
	f.Add(int64(0), int64(0))
	f.Add(int64(1796243405), int64(123))
	f.Add(int64(-62135596800), int64(0))
	f.Fuzz(func(t *testing.T, sec, nsec int64) {
		tm := time.Unix(sec, nsec)
		want := tm.UTC().AppendFormat(nil, http.TimeFormat)
		if got := appendHTTPDate(nil, tm); string(got) != string(want) {
			t.Fatalf("%d.%d: %q, want %q", sec, nsec, got, want)
		}
	})
}
