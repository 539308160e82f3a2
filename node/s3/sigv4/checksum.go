package sigv4

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"strings"
)

// emptySHA256 is the hex SHA-256 of nothing.
const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// crc64NVMEPoly is the CRC-64/NVME polynomial 0xAD93D23594C93659 in the
// bit-reversed form hash/crc64 takes. Its check value ("123456789") is
// 0xAE8B14860A799888.
const crc64NVMEPoly = 0x9A6C9329AC4BC9B5

// checksumPrefix starts the names of S3's checksum headers and trailers.
const checksumPrefix = "x-amz-checksum-"

// isChecksumValue reports whether a header name carries a checksum value:
// x-amz-checksum-<alg>, not x-amz-checksum-algorithm, -type or -mode
// (which name an algorithm, a multipart checksum type, a GET option).
func isChecksumValue(name string) bool {
	switch name {
	case checksumPrefix + "algorithm", checksumPrefix + "type", checksumPrefix + "mode":
		return false
	}
	return strings.HasPrefix(name, checksumPrefix)
}

// newChecksum returns a hash for the header x-amz-checksum-<alg>, or
// false for an algorithm S3 does not define.
func newChecksum(header string) (hash.Hash, bool) {
	switch strings.TrimPrefix(strings.ToLower(header), checksumPrefix) {
	case "crc32":
		return crc32.NewIEEE(), true
	case "crc32c":
		return crc32.New(crc32.MakeTable(crc32.Castagnoli)), true
	case "crc64nvme":
		return crc64.New(crc64.MakeTable(crc64NVMEPoly)), true
	case "sha1":
		return sha1.New(), true
	case "sha256":
		return sha256.New(), true
	}
	return nil, false
}

// check is one digest the payload must match: the hash being fed, what it
// must come to (known from the start, or once a trailer arrived) and what
// names it in errors.
type check struct {
	name string
	h    hash.Hash
	want []byte
}

// verify compares the digest with what it must be.
func (c *check) verify() error {
	got := c.h.Sum(nil)
	if c.want == nil {
		return fmt.Errorf("%w: no value for %s", ErrMalformed, c.name)
	}
	if string(got) != string(c.want) {
		return &DigestError{Name: c.name}
	}
	return nil
}

// checksumCheck makes the check of header (x-amz-checksum-<alg>) whose
// value is b64, the base64 of the digest; an empty b64 is filled in later
// (a trailer).
func checksumCheck(header, b64 string) (*check, error) {
	h, ok := newChecksum(header)
	if !ok {
		return nil, fmt.Errorf("%w: unknown checksum %s", ErrMalformed, header)
	}
	c := &check{name: strings.ToLower(header), h: h}
	if b64 != "" {
		if err := c.setBase64(b64); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// setBase64 sets the wanted digest from its base64 form.
func (c *check) setBase64(b64 string) error {
	want, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
	if err != nil || len(want) != c.h.Size() {
		return fmt.Errorf("%w: %s %q is not the base64 of a %d-byte digest", ErrMalformed, c.name, b64, c.h.Size())
	}
	c.want = want
	return nil
}

// md5Check is the check of a Content-MD5 header.
func md5Check(b64 string) (*check, error) {
	c := &check{name: "Content-MD5", h: md5.New()}
	if err := c.setBase64(b64); err != nil {
		return nil, err
	}
	return c, nil
}
