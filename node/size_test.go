package node

import (
	"errors"
	"testing"
)

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		bad  bool
	}{
		{"0", 0, false},
		{"1024", 1024, false},
		{"256MiB", 256 << 20, false},
		{"1GiB", 1 << 30, false},
		{"1gib", 1 << 30, false},
		{"5 GiB", 5 << 30, false},
		{"1.5GiB", 3 << 29, false},
		{"4k", 4096, false},
		{"1KB", 1000, false},
		{"2TB", 2e12, false},
		{"7B", 7, false},
		{"", 0, true},
		{"MiB", 0, true},
		{"-1", 0, true},
		{"1XB", 0, true},
		{"1.2.3", 0, true},
		{"9999999TiB", 0, true},
		{"99999999999999999999", 0, true},
	} {
		got, err := ParseSize(tc.in)
		if tc.bad {
			if !errors.Is(err, ErrBadSize) {
				t.Errorf("ParseSize(%q) = %d, %v; want ErrBadSize", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
}

func TestByteSizeString(t *testing.T) {
	for n, want := range map[ByteSize]string{0: "0", 1: "1", 1024: "1KiB", 256 << 20: "256MiB", 5 << 30: "5GiB", 1 << 40: "1TiB", 1536: "1536"} {
		if got := n.String(); got != want {
			t.Errorf("ByteSize(%d) = %q, want %q", int64(n), got, want)
		}
	}
}

// FuzzParseSize: never panics, never negative, and String round-trips.
func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"0", "256MiB", "1.5GiB", "1e3", "9223372036854775807", "8EiB", ".", "1..", " 1 k "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseSize(s)
		if err != nil {
			if !errors.Is(err, ErrBadSize) {
				t.Fatalf("%q: %v does not wrap ErrBadSize", s, err)
			}
			return
		}
		if n < 0 {
			t.Fatalf("%q: negative %d", s, n)
		}
		back, err := ParseSize(ByteSize(n).String())
		if err != nil || back != n {
			t.Fatalf("%q = %d: String %q parses to %d, %v", s, n, ByteSize(n).String(), back, err)
		}
	})
}
