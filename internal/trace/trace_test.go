package trace

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
)

func readAll(r Reader) ([]Request, error) {
	var out []Request
	for {
		q, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, q)
	}
}

func TestOracleReader(t *testing.T) {
	recs := []Request{
		{Time: 1, ID: 7, Size: 4096, NextAccess: 2},
		{Time: 2, ID: 8, Size: 0, NextAccess: -1}, // skipped
		{Time: 3, ID: 7, Size: 4096, NextAccess: -1},
	}
	var whole []byte
	for _, q := range recs {
		whole = AppendOracle(whole, q)
	}
	tests := []struct {
		name    string
		in      []byte
		want    []Request
		wantErr bool
	}{
		{"empty", nil, nil, false},
		{"records, size 0 skipped", whole, []Request{recs[0], recs[2]}, false},
		{"truncated tail", whole[:len(whole)-5], []Request{recs[0]}, true},
		{"bad next access", AppendOracle(nil, Request{ID: 1, Size: 1, NextAccess: -2}), nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readAll(NewOracleReader(bytes.NewReader(tc.in)))
			if tc.wantErr != (err != nil) || (err != nil && !errors.Is(err, ErrMalformed)) {
				t.Fatalf("err = %v, want malformed: %v", err, tc.wantErr)
			}
			if !equal(got, tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestCSVReader(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []Request
		wantErr bool
	}{
		{"plain", "1,5,100\n2,6,200,get\n", []Request{{1, 5, 100, -1}, {2, 6, 200, -1}}, false},
		{"header, comment, delete and size 0 skipped", "time,key,size,op\n# c\n1,5,100\n2,5,100,delete\n3,9,0\n",
			[]Request{{1, 5, 100, -1}}, false},
		{"string key hashed", "1,photo/a.jpg,10\n", []Request{{1, keyID("photo/a.jpg"), 10, -1}}, false},
		{"too few fields", "1,5\n", nil, true},
		{"bad size", "1,5,-3\n", nil, true},
		{"bad time", "x,5,3\n1,5,3\n", nil, true},
		{"empty key", "1,,3\n", nil, true},
		{"bad quote", "1,\"5,3\n", nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readAll(NewCSVReader(strings.NewReader(tc.in)))
			if tc.wantErr != (err != nil) || (err != nil && !errors.Is(err, ErrMalformed)) {
				t.Fatalf("err = %v, want malformed: %v", err, tc.wantErr)
			}
			if !equal(got, tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestNextAccesses(t *testing.T) {
	got, err := NextAccesses(NewCSVReader(strings.NewReader("1,a,1\n2,b,1\n3,a,1\n4,b,1\n5,a,1\n")))
	if err != nil {
		t.Fatal(err)
	}
	want := []int64{3, 4, 5, -1, -1}
	for i, q := range got {
		if q.NextAccess != want[i] {
			t.Fatalf("request %d: next access %d, want %d", i, q.NextAccess, want[i])
		}
	}
}

// TestNextAccessesMatchesOracle checks NextAccesses against the next access
// libCacheSim wrote into the shared trace, when it is there.
func TestNextAccessesMatchesOracle(t *testing.T) {
	const path = "/work/shared/traces/cloudPhysicsIO.oracleGeneral.bin"
	data, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("shared trace not available (%v)", err)
	}
	want, err := readAll(NewOracleReader(bytes.NewReader(data)))
	if err != nil {
		t.Fatal(err)
	}
	got, err := NextAccesses(NewOracleReader(bytes.NewReader(data)))
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if got[i].NextAccess != want[i].NextAccess {
			t.Fatalf("request %d: computed next access %d, trace says %d", i, got[i].NextAccess, want[i].NextAccess)
		}
	}
}

func TestNewUnknownFormat(t *testing.T) {
	if _, err := New(strings.NewReader(""), "parquet"); !errors.Is(err, ErrUnknownFormat) {
		t.Fatalf("err = %v, want ErrUnknownFormat", err)
	}
}

func equal(a, b []Request) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func FuzzOracleReader(f *testing.F) {
	f.Add(AppendOracle(nil, Request{Time: 1, ID: 2, Size: 3, NextAccess: -1}))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := readAll(NewOracleReader(bytes.NewReader(in)))
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("error %v does not wrap ErrMalformed", err)
		}
		if len(got) > len(in)/oracleRecordBytes {
			t.Fatalf("%d requests from %d bytes", len(got), len(in))
		}
		for _, q := range got {
			if q.Size == 0 || q.NextAccess < NoNextAccess {
				t.Fatalf("bad request %+v", q)
			}
		}
	})
}

func FuzzCSVReader(f *testing.F) {
	f.Add("time,key,size,op\n1,5,100,get\n2,x,3\n")
	f.Add("1,\"a\nb\",3\n")
	f.Fuzz(func(t *testing.T, in string) {
		got, err := readAll(NewCSVReader(strings.NewReader(in)))
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("error %v does not wrap ErrMalformed", err)
		}
		for _, q := range got {
			if q.Size == 0 || q.NextAccess != NoNextAccess {
				t.Fatalf("bad request %+v", q)
			}
		}
	})
}
