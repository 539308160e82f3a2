package blockstore

import (
	"math/rand/v2"
	"testing"
)

func TestCRC32CCombine(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for _, n := range [][2]int{{0, 0}, {0, 5}, {5, 0}, {1, 1}, {3, 1000}, {4096, 65536}, {100000, 7}} {
		a, b := randBytes(r, n[0]), randBytes(r, n[1])
		want := crc32c(append(append([]byte{}, a...), b...))
		if got := crc32cCombine(crc32c(a), crc32c(b), int64(len(b))); got != want {
			t.Errorf("lengths %v: combined %#08x, want %#08x", n, got, want)
		}
	}
}
