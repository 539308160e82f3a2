package devmodel_test

import (
	"testing"
	"time"

	"strata/ioengine"
	"strata/ioengine/devmodel"
	"strata/ioengine/memfs"
)

// instantClock never sleeps, so the benchmark measures what the model adds
// to a request in CPU: booking the head and the wrapper's calls.
type instantClock struct{}

func (instantClock) Now() time.Time         { return time.Time{} }
func (instantClock) SleepUntil(t time.Time) {}

func BenchmarkModelledRead(b *testing.B) {
	for _, tc := range []struct {
		name    string
		wrapped bool
	}{{"memfs", false}, {"memfs+model", true}} {
		b.Run(tc.name, func(b *testing.B) {
			var fsys ioengine.FS = memfs.New(memfs.Options{})
			if tc.wrapped {
				w, err := devmodel.Wrap(fsys, devmodel.HDD(), devmodel.Options{Clock: instantClock{}})
				if err != nil {
					b.Fatal(err)
				}
				fsys = w
			}
			f, err := fsys.OpenFile("/f", ioengine.FlagCreate)
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			buf := make([]byte, 4096)
			if _, err := f.WriteAt(make([]byte, 1<<20), 0); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(buf)))
			b.RunParallel(func(pb *testing.PB) {
				var off int64
				for pb.Next() {
					if _, err := f.ReadAt(buf, off); err != nil {
						b.Error(err)
						return
					}
					off = (off + 7*4096) % (1 << 20)
				}
			})
		})
	}
}
