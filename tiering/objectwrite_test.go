package tiering

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"unsafe"

	"strata/blockstore"
)

// sliceWriter keeps what it is given and where the first byte of each
// Write lived, so a test can tell a handed-over slice from a copy.
type sliceWriter struct {
	buf   bytes.Buffer
	first []*byte
	fail  error // returned by the Write after failAfter successful ones
	after int
}

func (w *sliceWriter) Write(p []byte) (int, error) {
	if w.fail != nil && len(w.first) >= w.after {
		return 0, w.fail
	}
	if len(p) > 0 {
		w.first = append(w.first, unsafe.SliceData(p))
	}
	return w.buf.Write(p)
}

func TestObjectWriteRange(t *testing.T) {
	fb := newFakeBackend(32 << 10)
	o := smallOpts(t, fb)
	o.SSDCacheBytes = 0
	e := openEnv(t, o)
	const size = 100<<10 + 123 // four chunks, seven 16 KiB segments
	data := randBytes(1, size)
	e.put("k", data)
	cases := []struct {
		name    string
		off, n  int64
		wantN   int64
		wantEOF bool
	}{
		{"whole", 0, size, size, false},
		{"empty", 5, 0, 0, false},
		{"inside one segment", 100, 1000, 1000, false},
		{"across segments and chunks", 16<<10 - 7, 40 << 10, 40 << 10, false},
		{"last byte", size - 1, 1, 1, false},
		{"past the end", size - 10, 100, 10, true},
		{"at the end", size, 1, 0, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			obj, err := e.s.Open(context.Background(), "k")
			if err != nil {
				t.Fatal(err)
			}
			defer obj.Close()
			var w sliceWriter
			n, err := obj.WriteRange(&w, c.off, c.n)
			if n != c.wantN || (err == io.EOF) != c.wantEOF || (err != nil && err != io.EOF) {
				t.Fatalf("WriteRange(%d, %d) = %d, %v; want %d, EOF %v", c.off, c.n, n, err, c.wantN, c.wantEOF)
			}
			if want := data[c.off : c.off+c.wantN]; !bytes.Equal(w.buf.Bytes(), want) {
				t.Fatalf("wrote %d bytes that differ from the blob's [%d,+%d)", w.buf.Len(), c.off, c.wantN)
			}
			if pos, _ := obj.Seek(0, io.SeekCurrent); pos != 0 {
				t.Fatalf("Read position moved to %d", pos)
			}
			if c.wantN > 0 && obj.Tier() == "" {
				t.Fatal("no tier recorded")
			}
		})
	}
	if _, err := (&Object{}).WriteRange(io.Discard, -1, 1); err == nil {
		t.Fatal("negative offset accepted")
	}
}

// A RAM hit is handed to the writer as the cached item itself: no copy.
func TestObjectWriteRangeRAMHitIsNotCopied(t *testing.T) {
	fb := newFakeBackend(1 << 20)
	o := smallOpts(t, fb)
	o.SSDCacheBytes = 0
	e := openEnv(t, o)
	data := randBytes(2, 4000)
	info := e.put("k", data)
	e.mustGet("k", data) // in RAM now
	v, ok := e.s.ram.get(ramKey{key: "k", version: info.Version, sum: info.Checksum})
	if !ok {
		t.Fatal("blob not in RAM after a read")
	}
	obj, err := e.s.Open(context.Background(), "k")
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	var w sliceWriter
	if _, err := obj.WriteRange(&w, 10, 100); err != nil {
		t.Fatal(err)
	}
	if obj.Tier() != string(TierRAM) {
		t.Fatalf("tier %q, want ram", obj.Tier())
	}
	if len(w.first) != 1 || w.first[0] != &v.data[10] {
		t.Fatal("the writer got a copy, not the cached bytes")
	}
}

// A writer's error comes back unchanged; a read failure comes back before
// the writer sees any byte of the failed segment.
func TestObjectWriteRangeErrors(t *testing.T) {
	fb := newFakeBackend(16 << 10)
	o := smallOpts(t, fb)
	o.SSDCacheBytes = 0
	e := openEnv(t, o)
	data := randBytes(3, 40<<10)
	info := e.put("k", data)

	obj, err := e.s.Open(context.Background(), "k")
	if err != nil {
		t.Fatal(err)
	}
	errClient := errors.New("client went away")
	w := sliceWriter{fail: errClient, after: 1}
	if n, err := obj.WriteRange(&w, 0, int64(len(data))); err != errClient || n != 16<<10 {
		t.Fatalf("WriteRange with a failing writer = %d, %v; want %d, the writer's error", n, err, 16<<10)
	}
	obj.Close()

	// The backend loses the bytes after Open: nothing cached, the read fails.
	obj, err = e.s.Open(context.Background(), "k")
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	e.s.invalidate(info)
	fb.mu.Lock()
	delete(fb.versions, versionKey("k", info.Version))
	fb.mu.Unlock()
	var w2 sliceWriter
	n, err := obj.WriteRange(&w2, 0, int64(len(data)))
	if !errors.Is(err, blockstore.ErrNotFound) || n != 0 || w2.buf.Len() != 0 {
		t.Fatalf("WriteRange over a lost blob = %d, %v (writer got %d bytes); want 0, ErrNotFound", n, err, w2.buf.Len())
	}
}
