package ioengine

import "testing"

func TestAlign(t *testing.T) {
	tests := []struct {
		n        int64
		align    int
		up, down int64
	}{
		{0, 4096, 0, 0},
		{1, 4096, 4096, 0},
		{4095, 4096, 4096, 0},
		{4096, 4096, 4096, 4096},
		{4097, 4096, 8192, 4096},
		{1 << 20, 512, 1 << 20, 1 << 20},
		{1000, 512, 1024, 512},
		{10, 3, 12, 9}, // non powers of two work too
	}
	for _, tc := range tests {
		if got := AlignUp(tc.n, tc.align); got != tc.up {
			t.Errorf("AlignUp(%d, %d) = %d, want %d", tc.n, tc.align, got, tc.up)
		}
		if got := AlignDown(tc.n, tc.align); got != tc.down {
			t.Errorf("AlignDown(%d, %d) = %d, want %d", tc.n, tc.align, got, tc.down)
		}
	}
}

func TestAlignedBytes(t *testing.T) {
	for _, align := range []int{512, 4096, 8192, 65536} {
		for _, n := range []int{0, 1, 4096, 100000} {
			b := AlignedBytes(n, align)
			if len(b) != n || cap(b) != n {
				t.Errorf("AlignedBytes(%d, %d): len %d cap %d", n, align, len(b), cap(b))
			}
			if n > 0 && !IsAligned(b, align) {
				t.Errorf("AlignedBytes(%d, %d) not aligned", n, align)
			}
		}
	}
}

func TestBufferPool(t *testing.T) {
	for _, align := range []int{4096, 16384} {
		p := NewBufferPool(align)
		tests := []struct {
			n      int
			pooled bool
		}{
			{0, true}, {1, true}, {4096, true}, {5000, true}, {64 << 10, true},
			{64<<10 + 1, true}, {1 << 20, true}, {1<<20 + 1, false}, {3 << 20, false},
		}
		for _, tc := range tests {
			b := p.Get(tc.n)
			want := int(AlignUp(int64(tc.n), align))
			if len(b.B) != want {
				t.Errorf("align %d Get(%d): len %d, want %d", align, tc.n, len(b.B), want)
			}
			if len(b.B) > 0 && !IsAligned(b.B, align) {
				t.Errorf("align %d Get(%d): not aligned", align, tc.n)
			}
			if (b.class != 0) != tc.pooled {
				t.Errorf("align %d Get(%d): pooled %v, want %v", align, tc.n, b.class != 0, tc.pooled)
			}
			p.Put(b)
		}
	}
	// A buffer from a pool of another alignment is dropped, not mixed in.
	small, big := NewBufferPool(4096), NewBufferPool(65536)
	b := small.Get(10)
	big.Put(b)
	if got := big.Get(10); !IsAligned(got.B, 65536) {
		t.Fatal("pool handed out a buffer of a foreign alignment")
	}
	p := NewBufferPool(4096)
	p.Put(nil)
}

func TestBufferPoolSteadyStateAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under -race")
	}
	p := NewBufferPool(4096)
	p.Put(p.Get(4096))
	p.Put(p.Get(1 << 20))
	allocs := testing.AllocsPerRun(100, func() {
		a := p.Get(4096)
		b := p.Get(512 << 10)
		p.Put(a)
		p.Put(b)
	})
	// sync.Pool may lose buffers on a GC in the middle; allow a fraction.
	if allocs >= 1 {
		t.Fatalf("steady state allocates %.2f per Get/Put pair", allocs)
	}
}
