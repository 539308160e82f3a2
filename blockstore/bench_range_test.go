package blockstore

import (
	"bytes"
	"context"
	"math/rand/v2"
	"testing"

	"strata/ioengine"
)

// BenchmarkRangeRead: 4 KiB ranges at random offsets of a 64 MiB blob (8
// MiB chunks), 16 readers, each a fresh Stat as a handler does: ReadRange
// (the sub-blocks covering the range) against ReadChunk of the chunk
// holding it (what a range cost before sub-block CRCs). Reports the data
// disk's reads and bytes per range.
//
//	go test ./blockstore -run '^$' -bench BenchmarkRangeRead -benchtime 2000x
func BenchmarkRangeRead(b *testing.B) {
	const size, readers, n = 64 << 20, 16, 4096
	s := benchStore(b, Options{})
	data := randBytes(rand.New(rand.NewPCG(1, 1)), size)
	if _, err := s.Put(context.Background(), "range/big", bytes.NewReader(data), size, PutOptions{}); err != nil {
		b.Fatal(err)
	}
	for _, mode := range []string{"readrange", "readchunk"} {
		b.Run(mode, func(b *testing.B) {
			dev0 := s.Devices()[0].Classes[ioengine.ClassRead]
			b.SetBytes(n)
			lat := runWriters(b, readers, func(w, i int) error {
				info, err := s.Stat(context.Background(), "range/big")
				if err != nil {
					return err
				}
				off := rand.Int64N(size - n)
				if mode == "readrange" {
					_, err = s.ReadRange(context.Background(), info, off, n, nil)
					return err
				}
				_, err = s.ReadChunk(context.Background(), info, int(off/info.ChunkSize))
				return err
			})
			dev := s.Devices()[0].Classes[ioengine.ClassRead]
			b.ReportMetric(float64(dev.ReadOps-dev0.ReadOps)/float64(b.N), "devreads/op")
			b.ReportMetric(float64(dev.ReadBytes-dev0.ReadBytes)/float64(b.N), "devbytes/op")
			lat.report(b)
		})
	}
}
