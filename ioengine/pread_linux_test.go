package ioengine

import (
	"bytes"
	"errors"
	"io"
	"path/filepath"
	"testing"
)

// Direct reads go through blockingPread; they must keep os.File.ReadAt's
// contract: full reads, io.EOF with the bytes before the end, errors on a
// closed file.
func TestDirectReadAt(t *testing.T) {
	fsys := OSFS()
	f, err := fsys.OpenFile(filepath.Join(t.TempDir(), "f"), FlagCreate|FlagDirect)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if !f.Direct() {
		t.Skip("no O_DIRECT on this filesystem")
	}
	a := f.Alignment()
	data := AlignedBytes(3*a, a)
	for i := range data {
		data[i] = byte(i*7 + 1)
	}
	if _, err := f.WriteAt(data, 0); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		off, n  int
		wantN   int
		wantEOF bool
	}{
		{"first block", 0, a, a, false},
		{"middle two blocks", a, 2 * a, 2 * a, false},
		{"across the end", 2 * a, 2 * a, a, true},
		{"at the end", 3 * a, a, 0, true},
		{"past the end", 5 * a, a, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			buf := AlignedBytes(tc.n, a)
			n, err := f.ReadAt(buf, int64(tc.off))
			if n != tc.wantN || errors.Is(err, io.EOF) != tc.wantEOF || (err != nil && !errors.Is(err, io.EOF)) {
				t.Fatalf("ReadAt(%d bytes at %d) = %d, %v; want %d, eof %v", tc.n, tc.off, n, err, tc.wantN, tc.wantEOF)
			}
			if n > 0 && !bytes.Equal(buf[:n], data[tc.off:tc.off+n]) {
				t.Fatal("wrong bytes")
			}
		})
	}
	// A misaligned buffer: the kernel refuses it (EINVAL), reported as an
	// error, not as a short read.
	if n, err := f.ReadAt(AlignedBytes(a+1, a)[1:], 0); err == nil || errors.Is(err, io.EOF) {
		t.Fatalf("misaligned direct read = %d, %v; want an error", n, err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.ReadAt(AlignedBytes(a, a), 0); err == nil {
		t.Fatal("ReadAt after Close succeeded")
	}
}
