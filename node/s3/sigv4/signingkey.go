package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"sync"
)

// keyCacheEntries bounds the derived-key cache: one entry per access key,
// day, region and service in use.
const keyCacheEntries = 1024

// deriveKey is the SigV4 signing key:
// HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), service), "aws4_request").
func deriveKey(secret, date, region, service string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	return hmacSHA256(k, terminal)
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

// hmacSum is HMAC-SHA256(key, msg) for a key of at most one block (a
// signing key is 32 bytes), hashed with sha256.Sum256 over stack buffers:
// checking a request's signature allocates nothing (hmac.New allocated
// five times per request).
func hmacSum(key, msg []byte) [sha256.Size]byte {
	if len(key) > sha256.BlockSize {
		return [sha256.Size]byte(hmacSHA256(key, string(msg)))
	}
	var inner [sha256.BlockSize + 512]byte
	buf := inner[:sha256.BlockSize]
	var outer [sha256.BlockSize + sha256.Size]byte
	for i := range sha256.BlockSize {
		buf[i], outer[i] = 0x36, 0x5c
	}
	for i, c := range key {
		buf[i] ^= c
		outer[i] ^= c
	}
	innerSum := sha256.Sum256(append(buf, msg...))
	copy(outer[sha256.BlockSize:], innerSum[:])
	return sha256.Sum256(outer[:])
}

// signature is the hex HMAC-SHA256 of a string to sign.
func signature(key []byte, sts string) string {
	sum := hmacSum(key, []byte(sts))
	return hex.EncodeToString(sum[:])
}

// signatureMatches reports whether given (64 lower-case hex digits, as
// parseSignature checked) is the HMAC-SHA256 of sts under key, in time
// independent of where they differ.
func signatureMatches(key, sts []byte, given string) bool {
	sum := hmacSum(key, sts)
	var computed [2 * sha256.Size]byte
	hex.Encode(computed[:], sum[:])
	if len(given) != len(computed) {
		return false
	}
	var diff byte
	for i := range computed {
		diff |= computed[i] ^ given[i]
	}
	return diff == 0
}

// sigEqual compares a computed signature with the one a client sent, in
// time independent of where they differ.
func sigEqual(computed, given string) bool {
	return subtle.ConstantTimeCompare([]byte(computed), []byte(given)) == 1
}

// keyCache keeps derived signing keys, at most max of them. An entry
// remembers the secret it was derived from, so a changed secret derives
// anew.
type keyCache struct {
	mu      sync.Mutex
	max     int
	entries map[keyID]cachedKey
}

// keyID names a signing key: a struct, so a lookup builds no string.
type keyID struct{ accessKey, date, region, service string }

type cachedKey struct {
	secret string
	key    []byte
}

func newKeyCache(max int) *keyCache {
	return &keyCache{max: max, entries: make(map[keyID]cachedKey)}
}

// get returns the signing key of (secret, scope), deriving and caching it
// when needed; when full, an arbitrary entry makes room.
func (c *keyCache) get(secret string, s scope) []byte {
	id := keyID{s.accessKey, s.date, s.region, s.service}
	c.mu.Lock()
	e, ok := c.entries[id]
	c.mu.Unlock()
	if ok && e.secret == secret {
		return e.key
	}
	k := deriveKey(secret, s.date, s.region, s.service)
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, present := c.entries[id]; !present && len(c.entries) >= c.max {
		for victim := range c.entries {
			delete(c.entries, victim)
			break
		}
	}
	c.entries[id] = cachedKey{secret: secret, key: k}
	return k
}

// len is the number of cached keys (for tests).
func (c *keyCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
