package tiering

import (
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"
)

// accessStream is a read stream like a node's: object hashes drawn from a
// Zipf distribution over objects, each read in full, objects of 16 KiB to
// 1 MiB (fixed per object). It repeats after len(hashes) reads.
type accessStream struct {
	hashes []uint64
	sizes  []int64
}

func newAccessStream(objects, reads int, seed uint64) accessStream {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	z := rand.NewZipf(r, 1.05, 1, uint64(objects-1))
	s := accessStream{hashes: make([]uint64, reads), sizes: make([]int64, reads)}
	for i := range reads {
		id := z.Uint64()
		s.hashes[i] = objectHash("obj", id, 0)
		s.sizes[i] = 16<<10 + int64(id*0x9e3779b97f4a7c15>>44)%(1<<20-16<<10)
	}
	return s
}

// benchAdmissionSizes are the caches of the admission benchmarks: a small
// node and the defaults' scale.
var benchAdmissionSizes = []struct {
	name     string
	ram, ssd int64
}{
	{"ram256MiB-ssd4GiB", 256 << 20, 4 << 30},
	{"ram4GiB-ssd256GiB", 4 << 30, 256 << 30},
}

// warmAdmission is the policy of these caches after four passes of the
// stream (several turnovers), with the SSD full, so the sketch has its
// eviction-age window and any models are full.
func warmAdmission(ram, ssd int64, stream accessStream) *admissionPolicy {
	o := Options{RAMCacheBytes: ram, SSDCacheBytes: ssd, AdmitWindow: time.Hour}.sizeDefaults()
	a := newAdmissionPolicy(admissionConfigFor(o))
	a.keepOnReclaim(1, false) // the SSD evicted: it is full
	for i := range 4 * len(stream.hashes) {
		j := i % len(stream.hashes)
		a.recordAccess(stream.hashes[j], stream.sizes[j])
	}
	return a
}

// BenchmarkRecordAccess measures the admission policy's cost per read on
// the read path: recordAccess over a Zipf stream, warm.
func BenchmarkRecordAccess(b *testing.B) {
	stream := newAccessStream(1<<20, 1<<20, 1)
	for _, sz := range benchAdmissionSizes {
		a := warmAdmission(sz.ram, sz.ssd, stream)
		b.Run(sz.name, func(b *testing.B) {
			for i := range b.N {
				j := i % len(stream.hashes)
				a.recordAccess(stream.hashes[j], stream.sizes[j])
			}
		})
	}
}

// BenchmarkRecordAccessParallel is BenchmarkRecordAccess from every
// GOMAXPROCS goroutine at once: the contention on the policy's lock.
func BenchmarkRecordAccessParallel(b *testing.B) {
	stream := newAccessStream(1<<20, 1<<20, 1)
	for _, sz := range benchAdmissionSizes {
		a := warmAdmission(sz.ram, sz.ssd, stream)
		b.Run(sz.name, func(b *testing.B) {
			var next atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				j := int(next.Add(int64(len(stream.hashes)/8))) % len(stream.hashes)
				for pb.Next() {
					a.recordAccess(stream.hashes[j], stream.sizes[j])
					if j++; j == len(stream.hashes) {
						j = 0
					}
				}
			})
		})
	}
}
