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

// signature is the hex HMAC-SHA256 of a string to sign.
func signature(key []byte, sts string) string {
	return hex.EncodeToString(hmacSHA256(key, sts))
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
	entries map[string]cachedKey
}

type cachedKey struct {
	secret string
	key    []byte
}

func newKeyCache(max int) *keyCache {
	return &keyCache{max: max, entries: make(map[string]cachedKey)}
}

// get returns the signing key of (secret, scope), deriving and caching it
// when needed; when full, an arbitrary entry makes room.
func (c *keyCache) get(secret string, s scope) []byte {
	id := s.accessKey + "\x00" + s.date + "\x00" + s.region + "\x00" + s.service
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
