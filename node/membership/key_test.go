package membership

import (
	"bytes"
	"encoding/hex"
	"testing"
)

// TestGossipKeyPinned pins the derivation: every node of a cluster, in
// every version, must derive the same key from the same secret.
func TestGossipKeyPinned(t *testing.T) {
	got := hex.EncodeToString(gossipKey([]byte("cluster secret")))
	// printf 'strata-gossip-v1\x00cluster secret' | sha256sum
	const want = "26779f15559e602a7df5b19875eee50638d36a15eb7806adef452d872c6a2e41"
	if got != want {
		t.Fatalf("gossipKey = %s, want %s", got, want)
	}
	if bytes.Equal(gossipKey([]byte("a")), gossipKey([]byte("b"))) {
		t.Fatal("two secrets give one key")
	}
}
