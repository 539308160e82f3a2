package sigv4

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// Check values of the CRC catalogue ("123456789") and FIPS 180 ("abc").
func TestChecksumAlgorithms(t *testing.T) {
	for _, c := range []struct{ header, input, want string }{
		{"x-amz-checksum-crc32", "123456789", "cbf43926"},
		{"x-amz-checksum-crc32c", "123456789", "e3069283"},
		{"x-amz-checksum-crc64nvme", "123456789", "ae8b14860a799888"},
		{"x-amz-checksum-sha1", "abc", "a9993e364706816aba3e25717850c26c9cd0d89d"},
		{"X-Amz-Checksum-Sha256", "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
	} {
		h, ok := newChecksum(c.header)
		if !ok {
			t.Fatalf("%s unknown", c.header)
		}
		h.Write([]byte(c.input))
		if got := hex.EncodeToString(h.Sum(nil)); got != c.want {
			t.Errorf("%s(%q) = %s, want %s", c.header, c.input, got, c.want)
		}
	}
	for _, n := range []string{"x-amz-checksum-md5", "x-amz-checksum-", "x-amz-checksum-crc"} {
		if _, ok := newChecksum(n); ok {
			t.Errorf("%s accepted", n)
		}
	}
	for n, want := range map[string]bool{"x-amz-checksum-crc32": true, "x-amz-checksum-algorithm": false, "x-amz-checksum-type": false, "x-amz-checksum-mode": false, "x-amz-meta-a": false} {
		if isChecksumValue(n) != want {
			t.Errorf("isChecksumValue(%s) = %v", n, !want)
		}
	}
}

// failAtEOF reads data, then answers err instead of io.EOF.
type failAtEOF struct {
	r   io.Reader
	err error
}

func (f *failAtEOF) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, f.err
	}
	return n, err
}

func TestHoldLast(t *testing.T) {
	data := []byte("0123456789abcdef")
	// A clean stream reads back whole, however it is read.
	if err := iotest.TestReader(&holdLast{r: bytes.NewReader(data)}, data); err != nil {
		t.Fatal(err)
	}
	if err := iotest.TestReader(&holdLast{r: iotest.OneByteReader(bytes.NewReader(data))}, data); err != nil {
		t.Fatal(err)
	}
	if err := iotest.TestReader(&holdLast{r: iotest.DataErrReader(bytes.NewReader(data))}, data); err != nil {
		t.Fatal(err)
	}
	// A stream that fails at its end never hands out its last byte, read
	// in any size, and keeps failing.
	bad := errors.New("bad")
	for _, size := range []int{1, 2, 3, 15, 16, 17, 100} {
		for _, wrap := range []func(io.Reader) io.Reader{
			func(r io.Reader) io.Reader { return r },
			iotest.OneByteReader, iotest.HalfReader, iotest.DataErrReader,
		} {
			h := &holdLast{r: wrap(&failAtEOF{r: bytes.NewReader(data), err: bad})}
			var got []byte
			buf := make([]byte, size)
			var err error
			for err == nil {
				var n int
				n, err = h.Read(buf)
				got = append(got, buf[:n]...)
			}
			if !errors.Is(err, bad) {
				t.Fatalf("size %d: error %v", size, err)
			}
			if len(got) >= len(data) {
				t.Fatalf("size %d: %d bytes handed out of a failed stream of %d", size, len(got), len(data))
			}
			if n, err := h.Read(buf); n != 0 || !errors.Is(err, bad) {
				t.Fatalf("error not sticky: %d, %v", n, err)
			}
		}
	}
	// io.ReadFull of exactly the length fails.
	h := &holdLast{r: &failAtEOF{r: strings.NewReader("abc"), err: bad}}
	if _, err := io.ReadFull(h, make([]byte, 3)); !errors.Is(err, bad) {
		t.Fatalf("ReadFull: %v", err)
	}
}
