package workload

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"strata/node"
)

// TestParseSizeIsTheConfigs checks that a size in a bench flag reads
// exactly as the same size in the node's config: one parser, node's.
func TestParseSizeIsTheConfigs(t *testing.T) {
	for _, in := range []string{"4096", "4KiB", "1.5MiB", "0.5k", " 2 g ", "7TB", "5000000TiB", "8388607TiB", "", "KiB", "-1", "4XB", "1.2.3", "."} {
		got, err := ParseSize(in)
		want, werr := node.ParseSize(in)
		if got != want || (err == nil) != (werr == nil) {
			t.Errorf("ParseSize(%q) = %d, %v; the config reads %d, %v", in, got, err, want, werr)
		}
		if err != nil && !errors.Is(err, ErrBadParameter) {
			t.Errorf("ParseSize(%q): %v does not wrap ErrBadParameter", in, err)
		}
	}
}

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		bad  bool
	}{
		{in: "4096", want: 4096},
		{in: "4KiB", want: 4096},
		{in: "4k", want: 4096},
		{in: "4KB", want: 4000},
		{in: "1MiB", want: 1 << 20},
		{in: "1.5MiB", want: 3 << 19},
		{in: "8m", want: 8 << 20},
		{in: "1GiB", want: 1 << 30},
		{in: " 2 g ", want: 2 << 30},
		{in: "0", want: 0},
		{in: "", bad: true},
		{in: "KiB", bad: true},
		{in: "-1", bad: true},
		{in: "4XB", bad: true},
		{in: "1.2.3", bad: true},
		{in: "99999999999TiB", bad: true},
	} {
		got, err := ParseSize(tc.in)
		if tc.bad {
			if !errors.Is(err, ErrBadParameter) {
				t.Errorf("ParseSize(%q) = %d, %v; want ErrBadParameter", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
}

func TestSizeMix(t *testing.T) {
	m, err := ParseSizeMix("4KiB:3,1MiB:1")
	if err != nil {
		t.Fatal(err)
	}
	if m.String() != "4KiB:3,1MiB:1" || m.Max() != 1<<20 || m.Min() != 4<<10 {
		t.Fatalf("mix = %s max %d min %d", m, m.Max(), m.Min())
	}
	r := rand.New(rand.NewPCG(1, 2))
	counts := map[int64]int{}
	const draws = 40000
	for range draws {
		counts[m.Pick(r)]++
	}
	if frac := float64(counts[4096]) / draws; math.Abs(frac-0.75) > 0.02 {
		t.Fatalf("4KiB drawn %.3f of the time, want 0.75", frac)
	}
	for _, bad := range []string{"", "4KiB:x", "4KiB:0", ",", "1MiB:-1"} {
		if _, err := ParseSizeMix(bad); !errors.Is(err, ErrBadParameter) {
			t.Errorf("ParseSizeMix(%q) err = %v, want ErrBadParameter", bad, err)
		}
	}
}

func TestKeySpacePermutation(t *testing.T) {
	for _, n := range []uint64{1, 2, 10, 1000, 1024, 4099} {
		ks, err := NewKeySpace(n, 0.01, 42)
		if err != nil {
			t.Fatal(err)
		}
		for _, elapsed := range []time.Duration{0, 3 * time.Second, time.Hour} {
			seen := make([]bool, n)
			for rank := range n {
				k := ks.Key(rank, elapsed)
				if k >= n || seen[k] {
					t.Fatalf("n=%d elapsed=%v: rank %d maps to %d (dup or out of range)", n, elapsed, rank, k)
				}
				seen[k] = true
			}
		}
	}
}

func TestKeySpaceChurn(t *testing.T) {
	ks, err := NewKeySpace(1000, 0.01, 1)
	if err != nil {
		t.Fatal(err)
	}
	// After one second 10 ranks moved: the key that was rank 0 is now rank 10,
	// and the new rank 0 was the coldest.
	if got, want := ks.Key(10, time.Second), ks.Key(0, 0); got != want {
		t.Errorf("rank 10 after 1s = key %d, want former hottest key %d", got, want)
	}
	if got, want := ks.Key(0, time.Second), ks.Key(990, 0); got != want {
		t.Errorf("rank 0 after 1s = key %d, want formerly cold key %d", got, want)
	}
	still, _ := NewKeySpace(1000, 0, 1)
	if still.Key(0, time.Hour) != still.Key(0, 0) {
		t.Error("churn 0 moved the hot set")
	}
	if _, err := NewKeySpace(10, 2, 0); !errors.Is(err, ErrBadParameter) {
		t.Error("churn 2 accepted")
	}
}

func FuzzParseSizeMix(f *testing.F) {
	for _, s := range []string{"4KiB", "4KiB:80,1MiB:20", "1.5m", "0:1", ",,", "1e9", "4KiB:4294967295,1:4294967295"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseSizeMix(s)
		if err != nil {
			if !errors.Is(err, ErrBadParameter) {
				t.Fatalf("error %v does not wrap ErrBadParameter", err)
			}
			return
		}
		r := rand.New(rand.NewPCG(1, 1))
		for range 10 {
			if v := m.Pick(r); v < 0 || v > m.Max() {
				t.Fatalf("Pick = %d outside [0, %d]", v, m.Max())
			}
		}
		again, err := ParseSizeMix(m.String())
		if err != nil || again.String() != m.String() {
			t.Fatalf("String %q does not round-trip: %v", m.String(), err)
		}
	})
}
