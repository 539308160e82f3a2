package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"net/textproto"
	"strings"
	"testing"
)

// hmacSum is crypto/hmac's HMAC-SHA256 for every key and message length,
// including keys longer than a block and messages past its stack buffer.
func TestHMACSumMatchesCryptoHMAC(t *testing.T) {
	for _, keyLen := range []int{0, 1, 32, 63, 64, 65, 200} {
		for _, msgLen := range []int{0, 1, 55, 64, 447, 448, 449, 1000} {
			key := []byte(strings.Repeat("k", keyLen))
			msg := []byte(strings.Repeat("m", msgLen))
			h := hmac.New(sha256.New, key)
			h.Write(msg)
			if got := hmacSum(key, msg); !hmac.Equal(got[:], h.Sum(nil)) {
				t.Errorf("key %d bytes, message %d bytes: hmacSum differs from crypto/hmac", keyLen, msgLen)
			}
		}
	}
}

// signatureMatches accepts exactly the hex HMAC it computes.
func TestSignatureMatches(t *testing.T) {
	key := deriveKey(testSecret, "20130524", "us-east-1", "s3")
	sts := []byte("AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\nabc")
	good := signature(key, string(sts))
	if !signatureMatches(key, sts, good) {
		t.Fatal("the computed signature does not match itself")
	}
	for _, bad := range []string{"", good[:63], good + "0", strings.Repeat("0", 64), good[:63] + string(good[63]^1)} {
		if signatureMatches(key, sts, bad) {
			t.Errorf("signature %q matched", bad)
		}
	}
}

func FuzzCanonicalHeaderKey(f *testing.F) {
	for _, s := range []string{"x-amz-date", "content-md5", "host", "X-AMZ-META-Ab", "a--b", "-x", "a b", "x_y", "é", "", "x-amz-meta-ünï"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if got, want := string(appendCanonicalHeaderKey(nil, name)), textproto.CanonicalMIMEHeaderKey(name); got != want {
			t.Fatalf("appendCanonicalHeaderKey(%q) = %q, textproto says %q", name, got, want)
		}
	})
}
