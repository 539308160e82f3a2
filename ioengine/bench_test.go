package ioengine_test

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"strata/ioengine"
	"strata/ioengine/memfs"
)

// benchFileSize is the file random 4 KiB reads hit. It is written for real
// (not fallocated), so direct reads go to the disk rather than returning
// zeros for unwritten extents.
const benchFileSize = 64 << 20

func benchDevice(b *testing.B) (*ioengine.Device, string) {
	b.Helper()
	dir := b.TempDir()
	dev, err := ioengine.NewDevice(ioengine.OSFS(), dir, ioengine.DeviceOptions{Name: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	if !dev.Direct() {
		b.Logf("note: %s has no direct I/O; reads hit the page cache", dir)
	}
	h, err := dev.Open("data", ioengine.FlagCreate|ioengine.FlagDirect)
	if err != nil {
		b.Fatal(err)
	}
	buf := dev.Buffers().Get(1 << 20)
	for i := range buf.B {
		buf.B[i] = byte(i * 31)
	}
	ctx := context.Background()
	for off := int64(0); off < benchFileSize; off += int64(len(buf.B)) {
		if _, err := h.WriteAt(ctx, ioengine.ClassWrite, buf.B, off); err != nil {
			b.Fatal(err)
		}
	}
	if err := h.Sync(ctx, ioengine.ClassWrite); err != nil {
		b.Fatal(err)
	}
	dev.Buffers().Put(buf)
	if err := h.Close(); err != nil {
		b.Fatal(err)
	}
	return dev, filepath.Join(dir, "data")
}

func randomBlock(r *rand.Rand) int64 {
	return r.Int64N(benchFileSize/4096) * 4096
}

// BenchmarkDirectRead4K: random 4 KiB O_DIRECT reads through Handle (queue,
// stats, latency histograms). Compare with BenchmarkRawPread4K.
func BenchmarkDirectRead4K(b *testing.B) {
	dev, _ := benchDevice(b)
	h, err := dev.Open("data", ioengine.FlagReadOnly|ioengine.FlagDirect)
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	buf := dev.Buffers().Get(4096)
	defer dev.Buffers().Put(buf)
	r := rand.New(rand.NewPCG(1, 2))
	ctx := context.Background()
	b.SetBytes(4096)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := h.ReadAt(ctx, ioengine.ClassRead, buf.B, randomBlock(r)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRawPread4K: the same reads with pread(2) on an O_DIRECT fd, no
// ioengine in between: the floor the queue overhead is measured against.
func BenchmarkRawPread4K(b *testing.B) {
	_, path := benchDevice(b)
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECT|unix.O_CLOEXEC, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer unix.Close(fd)
	buf := ioengine.AlignedBytes(4096, 4096)
	r := rand.New(rand.NewPCG(1, 2))
	b.SetBytes(4096)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := unix.Pread(fd, buf, randomBlock(r)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDirectRead4KParallel: the Handle path with GOMAXPROCS goroutines
// (times -cpu) contending for the queue.
func BenchmarkDirectRead4KParallel(b *testing.B) {
	dev, _ := benchDevice(b)
	h, err := dev.Open("data", ioengine.FlagReadOnly|ioengine.FlagDirect)
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	ctx := context.Background()
	b.SetBytes(4096)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		buf := dev.Buffers().Get(4096)
		defer dev.Buffers().Put(buf)
		r := rand.New(rand.NewPCG(rand.Uint64(), 2))
		for pb.Next() {
			if _, err := h.ReadAt(ctx, ioengine.ClassRead, buf.B, randomBlock(r)); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkQueueOverhead isolates the CPU cost of the Handle path (queue
// slot, clock reads, counters, histograms) from disk latency by reading
// from memfs, once through a Handle and once straight from the File.
func BenchmarkQueueOverhead(b *testing.B) {
	m := memfs.New(memfs.Options{})
	dev, err := ioengine.NewDevice(m, "/d", ioengine.DeviceOptions{})
	if err != nil {
		b.Fatal(err)
	}
	h, err := dev.Open("f", ioengine.FlagCreate|ioengine.FlagDirect)
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	buf := dev.Buffers().Get(4096)
	defer dev.Buffers().Put(buf)
	ctx := context.Background()
	if _, err := h.WriteAt(ctx, ioengine.ClassWrite, buf.B, 0); err != nil {
		b.Fatal(err)
	}
	b.Run("handle", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := h.ReadAt(ctx, ioengine.ClassRead, buf.B, 0); err != nil {
				b.Fatal(err)
			}
		}
	})
	f, err := m.OpenFile("/d/f", ioengine.FlagDirect)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	b.Run("file", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := f.ReadAt(buf.B, 0); err != nil {
				b.Fatal(err)
			}
		}
	})
}
