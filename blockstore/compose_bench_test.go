package blockstore

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkCompose composes a 1 GiB blob from 200 parts (S3 multipart's
// shape: 5 MiB-ish parts, 8 MiB chunks) and reports what the Compose wrote
// to the volumes against the content size (written/content), and its time
// against the time the same bytes took to Put (compose/put-time): the
// baseline is copying the content once, which a multipart completion by
// copy would cost.
//
//	go test ./blockstore -run '^$' -bench BenchmarkCompose -benchtime 1x
func BenchmarkCompose(b *testing.B) {
	const parts, total = 200, 1 << 30
	ctx := context.Background()
	for range b.N {
		b.StopTimer()
		dir := benchDir(b)
		s, err := Open(ctx, Options{
			DataDirs:    []string{filepath.Join(dir, "data")},
			IndexDir:    filepath.Join(dir, "index"),
			MaxBlobSize: 2 << 30,
			Compression: CodecNone,
		})
		if err != nil {
			b.Fatal(err)
		}
		r := rand.New(rand.NewPCG(1, 2))
		part := make([]byte, total/parts)
		keys := make([]string, parts)
		putStart := time.Now()
		for i := range keys {
			for j := 0; j < len(part); j += 8 {
				v := r.Uint64()
				for k := 0; k < 8 && j+k < len(part); k++ {
					part[j+k] = byte(v >> (8 * k))
				}
			}
			keys[i] = fmt.Sprintf(".s3/uploads/bench/%05d", i+1)
			if _, err := s.Put(ctx, keys[i], bytes.NewReader(part), int64(len(part)), PutOptions{WantMD5: true}); err != nil {
				b.Fatal(err)
			}
		}
		putTime := time.Since(putStart)
		before := s.Stats().BytesWritten
		b.StartTimer()
		start := time.Now()
		info, err := s.Compose(ctx, "bucket/object", keys, ComposeOptions{Meta: map[string]string{"X-Strata-S3-Etag": "x-200"}})
		elapsed := time.Since(start)
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		written := s.Stats().BytesWritten - before
		b.ReportMetric(float64(written), "written-bytes/op")
		b.ReportMetric(float64(written)/float64(info.Size), "written/content")
		b.ReportMetric(float64(elapsed)/float64(putTime), "compose/put-time")
		b.ReportMetric(float64(putTime.Milliseconds()), "put-ms")
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
