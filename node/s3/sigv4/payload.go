package sigv4

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// payloadChecks are the checks a request's headers (and, presigned, its
// query) ask of its payload: the hex SHA-256 it was signed with,
// Content-MD5, x-amz-checksum-* values.
func payloadChecks(r *http.Request, payload string, q ...param) ([]*check, error) {
	var checks []*check
	// A request without a body (r.Body nil or http.NoBody: most GETs)
	// that names the empty payload's hash passes that check by
	// construction; building a SHA-256 for nothing cost a GET three
	// allocations.
	noBody := r.Body == nil || r.Body == http.NoBody
	if !(noBody && payload == emptySHA256) && isHexSHA256(strings.ToLower(payload)) {
		want, _ := hex.DecodeString(payload)
		checks = append(checks, &check{name: "x-amz-content-sha256", h: sha256.New(), want: want})
	}
	if vals := r.Header.Values("Content-Md5"); len(vals) > 0 {
		if len(vals) > 1 {
			return nil, fmt.Errorf("%w: Content-MD5 given twice", ErrMalformed)
		}
		c, err := md5Check(vals[0])
		if err != nil {
			return nil, err
		}
		checks = append(checks, c)
	}
	add := func(name, value string) error {
		for _, c := range checks {
			if c.name == name {
				return fmt.Errorf("%w: %s given twice", ErrMalformed, name)
			}
		}
		c, err := checksumCheck(name, value)
		if err != nil {
			return err
		}
		if c.want == nil {
			return fmt.Errorf("%w: empty %s", ErrMalformed, name)
		}
		checks = append(checks, c)
		return nil
	}
	for name, vals := range r.Header {
		if !hasPrefixFold(name, checksumPrefix) {
			continue // most headers: no lower-case copy
		}
		l := strings.ToLower(name)
		if !isChecksumValue(l) {
			continue
		}
		if len(vals) != 1 {
			return nil, fmt.Errorf("%w: %s given %d times", ErrMalformed, l, len(vals))
		}
		if err := add(l, vals[0]); err != nil {
			return nil, err
		}
	}
	for _, p := range q {
		if !hasPrefixFold(p.name, checksumPrefix) {
			continue
		}
		if l := strings.ToLower(p.name); isChecksumValue(l) {
			if err := add(l, p.value); err != nil {
				return nil, err
			}
		}
	}
	return checks, nil
}

// plainBody is the body of a request whose payload is not aws-chunked:
// payload is a hex SHA-256 or UnsignedPayload.
func plainBody(r *http.Request, payload string, q ...param) (io.ReadCloser, int64, error) {
	if r.Header.Get("X-Amz-Trailer") != "" {
		// Trailers come only in aws-chunked framing; HTTP trailers are not
		// read, so the checksum would go unchecked.
		return nil, 0, fmt.Errorf("%w: x-amz-trailer with payload %s, which has no trailer", ErrMalformed, payload)
	}
	checks, err := payloadChecks(r, payload, q...)
	if err != nil {
		return nil, 0, err
	}
	body := r.Body
	if body == nil {
		body = http.NoBody
	}
	length := r.ContentLength
	if body == http.NoBody {
		length = 0
	}
	var rd io.Reader = body
	if len(checks) > 0 {
		rd = &holdLast{r: &digestReader{r: body, checks: checks}}
	}
	return &verifiedBody{r: rd, c: body}, length, nil
}

// digestReader feeds what it reads to its checks and, at the end of the
// stream, answers the first failed check instead of io.EOF.
type digestReader struct {
	r      io.Reader
	checks []*check
}

func (d *digestReader) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	for _, c := range d.checks {
		c.h.Write(p[:n])
	}
	if err == io.EOF {
		if e := verifyAll(d.checks); e != nil {
			return n, e
		}
	}
	return n, err
}

func verifyAll(checks []*check) error {
	for _, c := range checks {
		if err := c.verify(); err != nil {
			return err
		}
	}
	return nil
}

// holdLast passes its reader's bytes on but keeps the last byte read back
// until the reader reports io.EOF, which it does only once everything has
// been verified. So no consumer completes a read of a payload that fails
// its checks, even one that stops after the expected length. Errors are
// sticky; bytes read together with an error are dropped.
type holdLast struct {
	r    io.Reader
	held byte
	has  bool // held is a byte not yet returned
	eof  bool // the reader reported io.EOF: held is verified too
	err  error
	one  [1]byte
}

func (h *holdLast) Read(p []byte) (int, error) {
	if h.err != nil {
		return 0, h.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if h.eof {
		p[0], h.has, h.err = h.held, false, io.EOF
		return 1, io.EOF
	}
	for {
		if !h.has {
			n, err := h.r.Read(p)
			switch {
			case err == io.EOF:
				h.err = io.EOF
				return n, io.EOF
			case err != nil:
				h.err = err
				return 0, err
			case n == 0:
				continue
			}
			h.held, h.has = p[n-1], true
			if n > 1 {
				return n - 1, nil
			}
			continue
		}
		if len(p) == 1 {
			// Room for the held byte only: read one to take its place.
			n, err := h.r.Read(h.one[:])
			switch {
			case err != nil && err != io.EOF:
				h.err, h.has = err, false
				return 0, err
			case n == 1:
				p[0], h.held = h.held, h.one[0]
				h.eof = err == io.EOF
				return 1, nil
			case err == io.EOF:
				p[0], h.has, h.err = h.held, false, io.EOF
				return 1, io.EOF
			}
			continue
		}
		p[0] = h.held
		n, err := h.r.Read(p[1:])
		switch {
		case err == io.EOF:
			h.has, h.err = false, io.EOF
			return 1 + n, io.EOF
		case err != nil:
			h.has, h.err = false, err
			return 0, err
		case n == 0:
			continue
		}
		h.held = p[n]
		return n, nil
	}
}

// verifiedBody is Auth.Body: reads the verifying chain, closes the
// request's body.
type verifiedBody struct {
	r io.Reader
	c io.Closer
}

func (b *verifiedBody) Read(p []byte) (int, error) { return b.r.Read(p) }

func (b *verifiedBody) Close() error {
	err := b.c.Close()
	if errors.Is(err, http.ErrBodyReadAfterClose) {
		return nil
	}
	return err
}
