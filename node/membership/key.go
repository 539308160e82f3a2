package membership

import "crypto/sha256"

// gossipKeyLabel separates the gossip key from other keys derived from the
// same cluster secret (node/peer's HMAC key uses a different label), so
// learning one tells nothing about the other.
const gossipKeyLabel = "strata-gossip-v1\x00"

// gossipKey derives memberlist's 32-byte SecretKey (AES-256-GCM) from the
// cluster secret: SHA-256 over the label and the secret.
func gossipKey(secret []byte) []byte {
	h := sha256.New()
	h.Write([]byte(gossipKeyLabel))
	h.Write(secret)
	return h.Sum(nil)
}
