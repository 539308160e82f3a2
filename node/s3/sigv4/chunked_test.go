package sigv4

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// testStream is a stream signed with the test key on 2013-05-24.
func testStream(signed, trailer, trailerSig bool) stream {
	return stream{
		signed: signed, trailer: trailer, trailerSig: trailerSig,
		key:      deriveKey(testSecret, "20130524", "us-east-1", "s3"),
		scope:    "20130524/us-east-1/s3/aws4_request",
		date:     "20130524T000000Z",
		seed:     strings.Repeat("ab", 32),
		maxChunk: 4096,
	}
}

// encoderFor is the encoder matching s.
func encoderFor(s stream, chunkSize int, trailers [][2]string) *chunkedEncoder {
	return &chunkedEncoder{signed: s.signed, key: s.key, scope: s.scope, date: s.date, prev: s.seed,
		chunkSize: chunkSize, trailers: trailers, trailerSig: s.trailerSig}
}

// checksumOf is the base64 checksum header value of data.
func checksumOf(name string, data []byte) string {
	h, ok := newChecksum(name)
	if !ok {
		panic(name)
	}
	h.Write(data)
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// decodeAll decodes body as chunkedBody does (decoder behind holdLast).
func decodeAll(s stream, body []byte, decodedLength int64, trailers []string) ([]byte, error) {
	var checks []*check
	for _, t := range trailers {
		c, err := checksumCheck(t, "")
		if err != nil {
			return nil, err
		}
		checks = append(checks, c)
	}
	r := &holdLast{r: newChunkDecoder(bytes.NewReader(body), s, decodedLength, checks, trailers)}
	return io.ReadAll(r)
}

func TestChunkDecoder(t *testing.T) {
	data := payload(2500)
	crc := [][2]string{{"x-amz-checksum-crc32", checksumOf("x-amz-checksum-crc32", data)}}
	badCRC := [][2]string{{"x-amz-checksum-crc32", checksumOf("x-amz-checksum-crc32", data[1:])}}
	signed := testStream(true, false, false)
	signedTrailer := testStream(true, true, true)
	unsignedTrailer := testStream(false, true, false)
	enc := func(s stream, trailers [][2]string) []byte { return encoderFor(s, 1000, trailers).encode(data) }
	replace := func(b []byte, old, new string) []byte { return bytes.Replace(b, []byte(old), []byte(new), 1) }
	flip := func(b []byte, i int) []byte { b = bytes.Clone(b); b[i] ^= 1; return b }
	cases := []struct {
		name     string
		s        stream
		body     []byte
		length   int64
		trailers []string
		want     error
		released int // bytes returned before the error (-1: don't check)
	}{
		{"signed", signed, enc(signed, nil), 2500, nil, nil, 2500},
		{"signed, one chunk exactly", signed, encoderFor(signed, 2500, nil).encode(data), 2500, nil, nil, 2500},
		{"signed, empty", signed, encoderFor(signed, 1000, nil).encode(nil), 0, nil, nil, 0},
		{"signed trailer", signedTrailer, enc(signedTrailer, crc), 2500, []string{"x-amz-checksum-crc32"}, nil, 2500},
		{"unsigned trailer", unsignedTrailer, enc(unsignedTrailer, crc), 2500, []string{"x-amz-checksum-crc32"}, nil, 2500},
		{"unsigned trailer, stream ends after the trailer", unsignedTrailer, bytes.TrimSuffix(enc(unsignedTrailer, crc), []byte("\r\n")), 2500, []string{"x-amz-checksum-crc32"}, nil, 2500},
		{"byte of chunk 2 flipped", signed, flip(enc(signed, nil), 1100+88), 2500, nil, ErrSignature, 999},
		{"chunk signature changed", signed, flip(enc(signed, nil), 30), 2500, nil, ErrSignature, 0},
		{"chunks swapped", signed, swapChunks(enc(signed, nil)), 2500, nil, ErrSignature, 0},
		{"final chunk missing", signed, enc(signed, nil)[:len(enc(signed, nil))-86], 2500, nil, ErrMalformed, 2499},
		{"truncated in a chunk", signed, enc(signed, nil)[:1500], 2500, nil, ErrMalformed, 999},
		{"decoded length shorter", signed, enc(signed, nil), 2499, nil, ErrMalformed, 1999},
		{"decoded length longer", signed, enc(signed, nil), 2501, nil, ErrMalformed, 2499},
		{"data after the final chunk", signed, append(enc(signed, nil), 'x'), 2500, nil, ErrMalformed, 2499},
		{"chunk larger than the bound", testStream(true, false, false), encoderFor(signed, 4097, nil).encode(payload(5000)), 5000, nil, ErrMalformed, 0},
		{"size not hex", signed, replace(enc(signed, nil), "3e8;", "3g8;"), 2500, nil, ErrMalformed, 0},
		{"size too long", signed, replace(enc(signed, nil), "3e8;", "0000000003e8;"), 2500, nil, ErrMalformed, 0},
		{"signed chunk without signature", signed, encoderFor(unsignedTrailer, 1000, nil).encode(data), 2500, nil, ErrMalformed, 0},
		{"signature not hex", signed, replace(enc(signed, nil), "chunk-signature=", "chunk-signature=Z"), 2500, nil, ErrMalformed, 0},
		{"bare LF", signed, bytes.ReplaceAll(enc(signed, nil), []byte("\r\n"), []byte("\n")), 2500, nil, ErrMalformed, 0},
		{"data not followed by CRLF", signed, replace(enc(signed, nil), "\r\n3e8;", "\n\n3e8;"), 2500, nil, ErrMalformed, 0},
		{"line too long", signed, append([]byte(strings.Repeat("1", 5000)), enc(signed, nil)...), 2500, nil, ErrMalformed, 0},
		{"unsigned trailer, wrong checksum", unsignedTrailer, enc(unsignedTrailer, badCRC), 2500, []string{"x-amz-checksum-crc32"}, ErrBadDigest, 2499},
		{"unsigned trailer, data byte flipped", unsignedTrailer, flip(enc(unsignedTrailer, crc), 10), 2500, []string{"x-amz-checksum-crc32"}, ErrBadDigest, 2499},
		{"unsigned trailer, checksum not base64", unsignedTrailer, replace(enc(unsignedTrailer, crc), "x-amz-checksum-crc32:", "x-amz-checksum-crc32:!"), 2500, []string{"x-amz-checksum-crc32"}, ErrMalformed, 2499},
		{"trailer not declared", unsignedTrailer, enc(unsignedTrailer, crc), 2500, nil, ErrMalformed, 2499},
		{"declared trailer missing", unsignedTrailer, enc(unsignedTrailer, nil), 2500, []string{"x-amz-checksum-crc32"}, ErrMalformed, 2499},
		{"trailer sent twice", unsignedTrailer, enc(unsignedTrailer, append(crc, crc[0])), 2500, []string{"x-amz-checksum-crc32"}, ErrMalformed, 2499},
		{"signed trailer, bad trailer signature", signedTrailer, flip(enc(signedTrailer, crc), len(enc(signedTrailer, crc))-5), 2500, []string{"x-amz-checksum-crc32"}, ErrSignature, 2499},
		{"signed trailer, value changed", signedTrailer, enc(signedTrailer, badCRC), 2500, []string{"x-amz-checksum-crc32"}, ErrBadDigest, 2499},
		{"signed trailer, signature missing", signedTrailer, enc(unsignedTrailerSigned(signedTrailer), crc), 2500, []string{"x-amz-checksum-crc32"}, ErrMalformed, 2499},
		{"trailer signature where none is expected", unsignedTrailer, enc(signedTrailerUnsigned(unsignedTrailer), crc), 2500, []string{"x-amz-checksum-crc32"}, ErrMalformed, 2499},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := decodeAll(c.s, c.body, c.length, c.trailers)
			wantErr(t, err, c.want)
			if c.want == nil && !bytes.Equal(got, data[:c.length]) {
				t.Fatalf("decoded %d bytes, not the data", len(got))
			}
			if c.released >= 0 && len(got) != c.released {
				t.Fatalf("released %d bytes before the error, want %d", len(got), c.released)
			}
			if c.want != nil {
				// A consumer that reads exactly the decoded length never
				// completes a read of a refused body.
				var checks []*check
				for _, tr := range c.trailers {
					ch, _ := checksumCheck(tr, "")
					checks = append(checks, ch)
				}
				r := &holdLast{r: newChunkDecoder(iotest.OneByteReader(bytes.NewReader(c.body)), c.s, c.length, checks, c.trailers)}
				if _, err := io.ReadFull(r, make([]byte, c.length)); err == nil {
					t.Fatal("ReadFull of the decoded length succeeded")
				}
			}
		})
	}
}

// unsignedTrailerSigned is s with chunk signatures but no trailer signature.
func unsignedTrailerSigned(s stream) stream { s.trailerSig = false; return s }

// signedTrailerUnsigned is s (unsigned chunks) with a trailer signature.
func signedTrailerUnsigned(s stream) stream { s.trailerSig = true; return s }

// swapChunks swaps the first two (equal-sized) chunks of an encoded body.
func swapChunks(b []byte) []byte {
	const n = 20 + 64 + 2 + 1000 + 2 // "3e8;chunk-signature=" <64 hex> CRLF data CRLF
	out := bytes.Clone(b)
	copy(out[:n], b[n:2*n])
	copy(out[n:2*n], b[:n])
	return out
}

func TestChunkDecoderGrowsItsBuffer(t *testing.T) {
	s := testStream(true, false, false)
	s.maxChunk = 1 << 20
	// A 1 MiB chunk announced, 10 bytes sent: the buffer holds little.
	body := "100000;chunk-signature=" + strings.Repeat("a", 64) + "\r\n0123456789"
	d := newChunkDecoder(strings.NewReader(body), s, 1<<20, nil, nil)
	_, err := io.ReadAll(d)
	wantErr(t, err, ErrMalformed)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("error %v does not say the body ended early", err)
	}
	if cap(d.buf) > minChunkBuffer {
		t.Fatalf("buffer grew to %d bytes for 10 bytes of data", cap(d.buf))
	}
}

func TestChunkDecoderReadSizes(t *testing.T) {
	data := payload(10000)
	s := testStream(true, true, true)
	tr := [][2]string{{"x-amz-checksum-sha256", checksumOf("x-amz-checksum-sha256", data)}}
	body := encoderFor(s, 777, tr).encode(data)
	for _, size := range []int{1, 2, 3, 776, 777, 778, 100000} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			c, _ := checksumCheck("x-amz-checksum-sha256", "")
			r := &holdLast{r: newChunkDecoder(iotest.HalfReader(bytes.NewReader(body)), s, int64(len(data)), []*check{c}, []string{"x-amz-checksum-sha256"})}
			var got []byte
			buf := make([]byte, size)
			for {
				n, err := r.Read(buf)
				got = append(got, buf[:n]...)
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(got, data) {
				t.Fatalf("got %d bytes, not the data", len(got))
			}
		})
	}
}
