package blockstore

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"strata/ioengine"
	"strata/ioengine/memfs"
)

// discardFS is a memfs whose volume files keep no bytes: it lets a test
// stream hundreds of MiB through Put without the test's FS holding them.
type discardFS struct{ *memfs.FS }

func (d discardFS) OpenFile(name string, flags ioengine.OpenFlag) (ioengine.File, error) {
	if !strings.Contains(name, ".vol") {
		return d.FS.OpenFile(name, flags)
	}
	f, err := d.FS.OpenFile(name, flags)
	if err != nil {
		return nil, err
	}
	return &discardFile{File: f}, nil
}

type discardFile struct {
	ioengine.File
	size atomic.Int64
}

func (f *discardFile) WriteAt(p []byte, off int64) (int, error) { return len(p), nil }
func (f *discardFile) ReadAt(p []byte, off int64) (int, error) {
	clear(p)
	return len(p), nil
}
func (f *discardFile) Allocate(off, n int64) error {
	f.size.Store(max(f.size.Load(), off+n))
	return nil
}
func (f *discardFile) Size() (int64, error) { return f.size.Load(), nil }

// randomReader yields n incompressible bytes without holding them.
type randomReader struct {
	r *rand.ChaCha8
	n int64
}

func (r *randomReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), r.n)]
	r.r.Read(p)
	r.n -= int64(len(p))
	return len(p), nil
}

func heapBytes() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestLargePutMemoryBounded streams a blob of 40 chunks (unknown size) and
// checks the heap never grows by more than a few chunks.
func TestLargePutMemoryBounded(t *testing.T) {
	const chunk = 8 << 20
	const size = 40 * chunk
	opts := Options{
		FS:         discardFS{memfs.New(memfs.Options{})},
		DataDirs:   []string{"/hdd0"},
		IndexDir:   t.TempDir(),
		VolumeSize: 1 << 30,
	}
	s := mustOpen(t, opts)
	defer s.Close()
	runtime.GC()
	base := heapBytes()
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			if h := heapBytes(); h > peak.Load() {
				peak.Store(h)
			}
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	info, err := s.Put(context.Background(), "big", &randomReader{r: rand.NewChaCha8([32]byte{1}), n: size}, -1, PutOptions{})
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if info.Size != size || info.NumChunks() != 40 {
		t.Fatalf("info %+v", info)
	}
	grew := int64(peak.Load()) - int64(base)
	t.Logf("heap grew by %.1f MiB (%.2f chunks) while putting %d MiB", float64(grew)/(1<<20), float64(grew)/chunk, size>>20)
	if grew > 4*chunk && !raceEnabled {
		t.Fatalf("heap grew by %d bytes (%.1f chunks) for one Put; want at most 4 chunks", grew, float64(grew)/chunk)
	}
}

// TestHugePutRSS puts a 5 GiB blob to a real directory and checks the
// process RSS grows by no more than a few chunks. It writes 5 GiB, so it
// runs only with STRATA_TEST_HUGE_PUT=1.
func TestHugePutRSS(t *testing.T) {
	if os.Getenv("STRATA_TEST_HUGE_PUT") == "" {
		t.Skip("set STRATA_TEST_HUGE_PUT=1 to stream a 5 GiB blob to disk")
	}
	const size = 5 << 30
	s := mustOpen(t, Options{DataDirs: []string{t.TempDir()}, IndexDir: t.TempDir(), VolumeSize: 8 << 30, MaxBlobSize: size})
	defer s.Close()
	debug.FreeOSMemory()
	base := rssBytes(t)
	var peak atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			if r := rssBytes(t); r > peak.Load() {
				peak.Store(r)
			}
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	start := time.Now()
	info, err := s.Put(context.Background(), "huge", &randomReader{r: rand.NewChaCha8([32]byte{2}), n: size}, size, PutOptions{})
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	grew := peak.Load() - base
	t.Logf("5 GiB Put in %v (%.0f MB/s): RSS grew by %.1f MiB (%.1f chunks of 8 MiB)",
		time.Since(start), float64(size)/time.Since(start).Seconds()/1e6, float64(grew)/(1<<20), float64(grew)/(8<<20))
	if grew > 6*(8<<20) {
		t.Fatalf("RSS grew by %d MiB for one Put", grew>>20)
	}
	// A range in the middle reads only the chunks it touches.
	rd := s.NewReader(context.Background(), info)
	buf := make([]byte, 1<<20)
	if _, err := rd.ReadAt(buf, size/2); err != nil {
		t.Fatal(err)
	}
}

func rssBytes(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Skipf("no /proc/self/statm: %v", err)
	}
	var pages, resident int64
	fmt.Sscan(string(b), &pages, &resident)
	return resident * int64(os.Getpagesize())
}
