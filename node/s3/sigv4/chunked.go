package sigv4

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// The aws-chunked framing (x-amz-content-sha256 STREAMING-*):
//
//	<hex size>;chunk-signature=<64 hex>\r\n<size bytes>\r\n   (signed)
//	<hex size>\r\n<size bytes>\r\n                            (unsigned)
//	...
//	0;chunk-signature=<64 hex>\r\n\r\n                        (signed, no trailer)
//	0[;chunk-signature=...]\r\n                               (with a trailer)
//	x-amz-checksum-crc32:<base64>\r\n                          (the trailers x-amz-trailer names)
//	x-amz-trailer-signature:<64 hex>\r\n                       (signed trailer only)
//	\r\n                                                     (or the end of the stream)
//
// Each chunk signature signs, chained from the request's signature:
//
//	AWS4-HMAC-SHA256-PAYLOAD\n<date>\n<scope>\n<previous signature>\n<sha256("")>\n<sha256(chunk)>
//
// and the trailer signature, chained from the final chunk's:
//
//	AWS4-HMAC-SHA256-TRAILER\n<date>\n<scope>\n<previous signature>\n<sha256(trailers)>
//
// where trailers are "name:value\n" for each trailer in the order sent.

const (
	// maxChunkLine bounds a chunk header or trailer line.
	maxChunkLine = 4096
	// maxTrailers bounds the trailer lines of one body.
	maxTrailers = 16
	// minChunkBuffer is the first size of the chunk buffer.
	minChunkBuffer = 64 << 10
	// trailerSignature names the trailer holding the trailer's signature.
	trailerSignature = "x-amz-trailer-signature"
)

// stream is how an aws-chunked body is signed.
type stream struct {
	signed     bool   // every chunk carries a chunk-signature
	trailer    bool   // trailers follow the final chunk
	trailerSig bool   // the trailer is signed (x-amz-trailer-signature)
	key        []byte // the request's signing key
	scope      string // date/region/s3/aws4_request
	date       string // the request's ISO 8601 date
	seed       string // the request's signature
	maxChunk   int
}

// chunkedBody is the decoded body of an aws-chunked request.
func chunkedBody(r *http.Request, s stream) (io.ReadCloser, int64, error) {
	length, err := parseDecodedLength(r)
	if err != nil {
		return nil, 0, err
	}
	checks, err := payloadChecks(r, "")
	if err != nil {
		return nil, 0, err
	}
	var trailers []string
	if s.trailer {
		trailers, err = declaredTrailers(r)
		if err != nil {
			return nil, 0, err
		}
		for _, t := range trailers {
			for _, c := range checks {
				if c.name == t {
					return nil, 0, fmt.Errorf("%w: %s both a header and a trailer", ErrMalformed, t)
				}
			}
			c, err := checksumCheck(t, "")
			if err != nil {
				return nil, 0, err
			}
			checks = append(checks, c)
		}
	} else if r.Header.Get("X-Amz-Trailer") != "" {
		return nil, 0, fmt.Errorf("%w: x-amz-trailer with a payload that has no trailer", ErrMalformed)
	}
	body := r.Body
	if body == nil {
		body = http.NoBody
	}
	d := newChunkDecoder(body, s, length, checks, trailers)
	return &verifiedBody{r: &holdLast{r: d}, c: body}, length, nil
}

// declaredTrailers reads x-amz-trailer: the checksum trailers to expect.
func declaredTrailers(r *http.Request) ([]string, error) {
	var names []string
	for _, v := range r.Header.Values("X-Amz-Trailer") {
		for n := range strings.SplitSeq(v, ",") {
			n = strings.ToLower(strings.TrimSpace(n))
			if n == "" {
				continue
			}
			if !isChecksumValue(n) {
				return nil, fmt.Errorf("%w: trailer %q is not an x-amz-checksum-*", ErrMalformed, n)
			}
			for _, have := range names {
				if have == n {
					return nil, fmt.Errorf("%w: trailer %s declared twice", ErrMalformed, n)
				}
			}
			names = append(names, n)
		}
	}
	if len(names) > maxTrailers {
		return nil, fmt.Errorf("%w: more than %d trailers", ErrMalformed, maxTrailers)
	}
	return names, nil
}

// chunkDecoder decodes an aws-chunked stream. It reads a whole chunk and
// verifies its signature before returning any of its bytes, and reports
// io.EOF only after the final chunk, the trailer and every check passed.
type chunkDecoder struct {
	br       *bufio.Reader
	s        stream
	prev     string // the previous signature in the chain
	want     int64  // decoded length
	got      int64
	checks   []*check
	trailers []string // declared trailer names
	buf      []byte
	off      int // next byte of buf to return
	err      error
}

func newChunkDecoder(r io.Reader, s stream, decodedLength int64, checks []*check, trailers []string) *chunkDecoder {
	return &chunkDecoder{
		br:       bufio.NewReaderSize(r, maxChunkLine),
		s:        s,
		prev:     s.seed,
		want:     decodedLength,
		checks:   checks,
		trailers: trailers,
	}
}

func (d *chunkDecoder) Read(p []byte) (int, error) {
	for d.off == len(d.buf) {
		if d.err != nil {
			return 0, d.err
		}
		if err := d.next(); err != nil {
			d.err, d.buf, d.off = err, nil, 0
			return 0, err
		}
	}
	n := copy(p, d.buf[d.off:])
	d.off += n
	return n, nil
}

// next reads and verifies the next chunk into buf, or the final chunk
// and trailer, setting err to io.EOF.
func (d *chunkDecoder) next() error {
	line, err := d.line()
	if err != nil {
		return incomplete(err)
	}
	size, sig, err := d.parseChunkHeader(line)
	if err != nil {
		return err
	}
	if size > d.want-d.got {
		return fmt.Errorf("%w: aws-chunked data longer than x-amz-decoded-content-length %d", ErrMalformed, d.want)
	}
	if err := d.readData(int(size)); err != nil {
		return err
	}
	if size > 0 || !d.s.trailer {
		if err := d.crlf(); err != nil {
			return err
		}
	}
	if d.s.signed {
		sum := sha256.Sum256(d.buf)
		sts := "AWS4-HMAC-SHA256-PAYLOAD\n" + d.s.date + "\n" + d.s.scope + "\n" + d.prev + "\n" + emptySHA256 + "\n" + hex.EncodeToString(sum[:])
		if !sigEqual(signature(d.s.key, sts), sig) {
			return fmt.Errorf("%w: chunk at decoded offset %d", ErrSignature, d.got)
		}
		d.prev = sig
	}
	for _, c := range d.checks {
		c.h.Write(d.buf)
	}
	d.got += size
	if size > 0 {
		return nil
	}
	return d.finish()
}

// readData reads a chunk's size bytes into buf. The buffer grows as bytes
// arrive (doubling from 64 KiB), so a client that announces a large chunk
// and sends little makes it hold little.
func (d *chunkDecoder) readData(size int) error {
	d.buf, d.off = d.buf[:0], 0
	for len(d.buf) < size {
		if len(d.buf) == cap(d.buf) {
			grown := make([]byte, len(d.buf), min(size, max(2*cap(d.buf), minChunkBuffer)))
			copy(grown, d.buf)
			d.buf = grown
		}
		n, err := d.br.Read(d.buf[len(d.buf):min(size, cap(d.buf))])
		d.buf = d.buf[:len(d.buf)+n]
		if err != nil && len(d.buf) < size {
			return incomplete(err)
		}
	}
	return nil
}

// parseChunkHeader parses "<hex size>[;chunk-signature=<sig>]".
func (d *chunkDecoder) parseChunkHeader(line string) (int64, string, error) {
	sizeHex, ext, hasExt := strings.Cut(line, ";")
	if sizeHex == "" || len(sizeHex) > 8 {
		return 0, "", fmt.Errorf("%w: aws-chunked chunk size %q", ErrMalformed, sizeHex)
	}
	size, err := strconv.ParseUint(sizeHex, 16, 32)
	if err != nil {
		return 0, "", fmt.Errorf("%w: aws-chunked chunk size %q", ErrMalformed, sizeHex)
	}
	if size > uint64(d.s.maxChunk) {
		return 0, "", fmt.Errorf("%w: aws-chunked chunk of %d bytes exceeds %d", ErrMalformed, size, d.s.maxChunk)
	}
	if !d.s.signed {
		return int64(size), "", nil // extensions of unsigned chunks carry nothing we use
	}
	name, sig, _ := strings.Cut(ext, "=")
	if !hasExt || name != "chunk-signature" {
		return 0, "", fmt.Errorf("%w: aws-chunked chunk without chunk-signature", ErrMalformed)
	}
	if !isHexSHA256(sig) {
		return 0, "", fmt.Errorf("%w: chunk-signature %q", ErrMalformed, sig)
	}
	return int64(size), sig, nil
}

// finish handles what follows the final chunk: its CRLF, or the trailer;
// then the length, the checks and the end of the stream.
func (d *chunkDecoder) finish() error {
	if d.got != d.want {
		return fmt.Errorf("%w: aws-chunked data is %d bytes, x-amz-decoded-content-length says %d", ErrMalformed, d.got, d.want)
	}
	if d.s.trailer {
		if err := d.readTrailer(); err != nil {
			return err
		}
	}
	if err := verifyAll(d.checks); err != nil {
		return err
	}
	var one [1]byte
	if n, err := io.ReadFull(d.br, one[:]); n > 0 {
		return fmt.Errorf("%w: data after the final aws-chunked chunk", ErrMalformed)
	} else if err != io.EOF {
		return incomplete(err)
	}
	return io.EOF
}

// readTrailer reads the trailer lines to the end of the stream, checks
// the trailer signature and fills the checks in. Trailer lines may end in
// LF alone and blank lines are skipped: minio-go writes "name:value\n\r\n"
// before x-amz-trailer-signature, AWS's SDKs "name:value\r\n", both end
// with a blank line.
func (d *chunkDecoder) readTrailer() error {
	var canon strings.Builder
	var sig string
	seen := map[string]string{}
	for i := 0; ; i++ {
		line, err := d.readLine(true)
		if err == io.EOF {
			break
		}
		if err != nil {
			return incomplete(err)
		}
		if i >= 2*maxTrailers+4 {
			return fmt.Errorf("%w: more than %d trailer lines", ErrMalformed, 2*maxTrailers+4)
		}
		if line == "" {
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		name = strings.ToLower(strings.TrimSpace(name))
		value = strings.TrimSpace(value)
		if !ok || name == "" {
			return fmt.Errorf("%w: trailer line %q", ErrMalformed, line)
		}
		if sig != "" {
			return fmt.Errorf("%w: trailer %s after %s", ErrMalformed, name, trailerSignature)
		}
		if name == trailerSignature {
			if !d.s.trailerSig || !isHexSHA256(value) {
				return fmt.Errorf("%w: unexpected or bad %s", ErrMalformed, trailerSignature)
			}
			sig = value
			continue
		}
		if _, dup := seen[name]; dup {
			return fmt.Errorf("%w: trailer %s sent twice", ErrMalformed, name)
		}
		if !contains(d.trailers, name) {
			return fmt.Errorf("%w: trailer %s not declared in x-amz-trailer", ErrMalformed, name)
		}
		seen[name] = value
		canon.WriteString(name + ":" + value + "\n")
	}
	for _, t := range d.trailers {
		if _, ok := seen[t]; !ok {
			return fmt.Errorf("%w: declared trailer %s missing", ErrMalformed, t)
		}
	}
	if d.s.trailerSig {
		if sig == "" {
			return fmt.Errorf("%w: trailer without %s", ErrMalformed, trailerSignature)
		}
		sum := sha256.Sum256([]byte(canon.String()))
		sts := "AWS4-HMAC-SHA256-TRAILER\n" + d.s.date + "\n" + d.s.scope + "\n" + d.prev + "\n" + hex.EncodeToString(sum[:])
		if !sigEqual(signature(d.s.key, sts), sig) {
			return fmt.Errorf("%w: trailer", ErrSignature)
		}
	}
	for _, c := range d.checks {
		if v, ok := seen[c.name]; ok {
			if err := c.setBase64(v); err != nil {
				return err
			}
		}
	}
	return nil
}

// line reads one CRLF-terminated line (a chunk header).
func (d *chunkDecoder) line() (string, error) { return d.readLine(false) }

// readLine reads one line of at most maxChunkLine bytes, without its CRLF
// (or, when lf, its CRLF or LF). At the end of the stream, before any byte
// of a line, it returns io.EOF itself.
func (d *chunkDecoder) readLine(lf bool) (string, error) {
	b, err := d.br.ReadSlice('\n')
	switch {
	case err == io.EOF && len(b) == 0:
		return "", io.EOF
	case errors.Is(err, bufio.ErrBufferFull):
		return "", fmt.Errorf("%w: aws-chunked line longer than %d bytes", ErrMalformed, maxChunkLine)
	case err != nil:
		return "", incomplete(err)
	}
	if c, ok := bytes.CutSuffix(b, []byte("\r\n")); ok {
		return string(c), nil
	}
	if lf {
		return string(b[:len(b)-1]), nil
	}
	return "", fmt.Errorf("%w: aws-chunked line not ended by CRLF", ErrMalformed)
}

// crlf reads the CRLF after a chunk's data.
func (d *chunkDecoder) crlf() error {
	var b [2]byte
	if _, err := io.ReadFull(d.br, b[:]); err != nil {
		return incomplete(err)
	}
	if b != [2]byte{'\r', '\n'} {
		return fmt.Errorf("%w: aws-chunked chunk data not followed by CRLF", ErrMalformed)
	}
	return nil
}

// incomplete wraps a read error of the framing: a stream that ends early
// is malformed (S3's IncompleteBody); other errors (the client went away)
// pass as they are.
func incomplete(err error) error {
	if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: aws-chunked body ends early: %w", ErrMalformed, io.ErrUnexpectedEOF)
	}
	return err
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
