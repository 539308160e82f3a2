package placement

import (
	"fmt"
	"strconv"
	"strings"
)

// ColocatePrefix starts a co-located key: ".p/" + 16 lowercase hex digits +
// "/" + the rest. Such a key is placed by the hash written in it, not by its
// own hash.
const ColocatePrefix = ".p/"

// colocateHexLen is the width of the hash field of a co-located key.
const colocateHexLen = 16

// Colocate returns the key named rest that lands on exactly target's homes:
// ".p/<hash of target, 16 lowercase hex>/" + rest.
func Colocate(target, rest string) string {
	return fmt.Sprintf("%s%016x/%s", ColocatePrefix, hashString(target), rest)
}

// KeyHash is the 64-bit hash every placement decision uses for key: the hash
// written in a well-formed co-located key (see Colocate), else the key's own
// hash. A key that starts with ".p/" but is malformed (short, uppercase or
// non-hex digits, no "/" after them) falls back to its own hash.
func KeyHash(key string) uint64 {
	if h, ok := colocatedHash(key); ok {
		return h
	}
	return hashString(key)
}

// IsColocated reports whether key is a well-formed co-located key.
func IsColocated(key string) bool {
	_, ok := colocatedHash(key)
	return ok
}

// ColocatedRest returns the rest of a well-formed co-located key (what
// follows ".p/<hash>/"), or "" when key is not one.
func ColocatedRest(key string) string {
	if !IsColocated(key) {
		return ""
	}
	return key[len(ColocatePrefix)+colocateHexLen+1:]
}

// colocatedHash parses the hash field of a co-located key.
func colocatedHash(key string) (uint64, bool) {
	rest, ok := strings.CutPrefix(key, ColocatePrefix)
	if !ok || len(rest) < colocateHexLen+1 || rest[colocateHexLen] != '/' {
		return 0, false
	}
	digits := rest[:colocateHexLen]
	for i := 0; i < len(digits); i++ {
		if c := digits[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return 0, false
		}
	}
	h, err := strconv.ParseUint(digits, 16, 64)
	if err != nil {
		return 0, false
	}
	return h, true
}
