package s3

import (
	"crypto/md5"
	"fmt"
	"hash"
	"math/rand/v2"
	"sync"
	"testing"
)

// TestMD5HashesDigests: the hashes match crypto/md5 whatever their kind
// and write sizes; past minMultiStream in progress they are multi-stream
// ones; closing counts them out; after Close they are crypto/md5 again.
func TestMD5HashesDigests(t *testing.T) {
	m := NewMD5Hashes()
	r := rand.New(rand.NewPCG(1, 2))
	data := make([]byte, 3<<20+13)
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	want := md5.Sum(data)
	const streams = 2 * minMultiStream
	hs := make([]hash.Hash, streams)
	for i := range hs {
		hs[i] = m.New()
	}
	if got := m.InProgress(); got != streams {
		t.Fatalf("InProgress %d, want %d", got, streams)
	}
	multi := 0
	for _, h := range hs {
		if !isCryptoMD5(h) {
			multi++
		}
	}
	if multi != streams-minMultiStream+1 {
		t.Fatalf("%d of %d hashes are multi-stream, want %d", multi, streams, streams-minMultiStream+1)
	}
	var wg sync.WaitGroup
	errs := make([]error, streams)
	for i, h := range hs {
		wg.Go(func() {
			step := 1 + i*4099 // odd write sizes, not multiples of 64
			for off := 0; off < len(data); off += step {
				h.Write(data[off:min(off+step, len(data))])
			}
			if got := h.Sum(nil); string(got) != string(want[:]) {
				errs[i] = fmt.Errorf("stream %d: md5 %x, want %x", i, got, want)
			}
			h.(interface{ Close() }).Close()
			h.(interface{ Close() }).Close() // a second Close is harmless
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if got := m.InProgress(); got != 0 {
		t.Fatalf("InProgress %d after every hash closed", got)
	}
	m.Close()
	for range minMultiStream + 1 {
		h := m.New()
		if !isCryptoMD5(h) {
			t.Fatal("a multi-stream hash after Close")
		}
		defer h.(interface{ Close() }).Close()
	}
}

// isCryptoMD5 reports whether h (one of MD5Hashes') is crypto/md5's.
func isCryptoMD5(h hash.Hash) bool {
	return fmt.Sprintf("%T", h.(*countedMD5).Hash) == fmt.Sprintf("%T", md5.New())
}

// BenchmarkMD5Hashes hashes 1 MiB objects in 64 KiB writes on N streams at
// once, with MD5Hashes and with crypto/md5 alone: compare ns/op (CPU with
// -cpu 1; the multi-stream server runs on its own goroutine).
func BenchmarkMD5Hashes(b *testing.B) {
	buf := make([]byte, 64<<10)
	for _, streams := range []int{1, 4, 16} {
		for _, kind := range []string{"crypto", "hashes"} {
			b.Run(fmt.Sprintf("%s/streams=%d", kind, streams), func(b *testing.B) {
				m := NewMD5Hashes()
				defer m.Close()
				newHash := m.New
				if kind == "crypto" {
					newHash = md5.New
				}
				b.SetBytes(int64(streams) << 20)
				for b.Loop() {
					var wg sync.WaitGroup
					for range streams {
						wg.Go(func() {
							h := newHash()
							for range 16 {
								h.Write(buf)
							}
							h.Sum(nil)
							if c, ok := h.(interface{ Close() }); ok {
								c.Close()
							}
						})
					}
					wg.Wait()
				}
			})
		}
	}
}
