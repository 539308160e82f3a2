package node

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"strata/blockstore"
)

// TestKeyRuleIsTheStores runs the key rule's cases through the path
// parser: the node applies blockstore.ValidateKey, the one copy of the rule.
func TestKeyRuleIsTheStores(t *testing.T) {
	for _, tc := range []struct {
		key string
		ok  bool
	}{
		{"a", true},
		{"photos/2024/cat.jpg", true},
		{"a/../b", true},
		{"snow \u2603", true},
		{strings.Repeat("x", blockstore.MaxKeyLen), true},
		{strings.Repeat("\u00e9", blockstore.MaxKeyLen/2), true},
		{"", false},
		{strings.Repeat("x", blockstore.MaxKeyLen+1), false},
		{"a\x00b", false},
		{"tab\t", false},
		{"del\x7f", false},
		{"c1\u0085", false},
		{"\xff", false},
		{"half\xe2\x98", false},
	} {
		key, err := keyFromEscapedPath(blobsPrefix + url.PathEscape(tc.key))
		if (err == nil) != tc.ok || (err == nil && key != tc.key) {
			t.Errorf("key %q from a path = %q, %v; want ok=%v", tc.key, key, err, tc.ok)
		}
		if err != nil && !errors.Is(err, blockstore.ErrInvalidKey) {
			t.Errorf("key %q from a path: %v, not ErrInvalidKey", tc.key, err)
		}
		if (blockstore.ValidateKey(tc.key) == nil) != tc.ok {
			t.Errorf("blockstore.ValidateKey(%q) disagrees with the node", tc.key)
		}
	}
}

func TestKeyFromEscapedPath(t *testing.T) {
	for _, tc := range []struct {
		path, key string
		err       error
	}{
		{"/blobs/a", "a", nil},
		{"/blobs/a%2Fb", "a/b", nil},
		{"/blobs/a%252F", "a%2F", nil},
		{"/blobs/a+b", "a+b", nil},
		{"/blobs/%", "", blockstore.ErrInvalidKey},
		{"/blobs/%zz", "", blockstore.ErrInvalidKey},
		{"/blobs/", "", blockstore.ErrInvalidKey},
		{"/blob/a", "", errNotBlobPath},
	} {
		key, err := keyFromEscapedPath(tc.path)
		if key != tc.key || !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
			t.Errorf("keyFromEscapedPath(%q) = %q, %v; want %q, %v", tc.path, key, err, tc.key, tc.err)
		}
	}
}

// FuzzKey checks the validator against its definition, and that any valid
// key survives escaping into a path and back.
func FuzzKey(f *testing.F) {
	for _, s := range []string{"a", "a/b", "a/../b", "", "\x00", "\u0085", "\xff", "%2F", strings.Repeat("k", 1025), "snow \u2603"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		err := blockstore.ValidateKey(key)
		want := len(key) >= 1 && len(key) <= blockstore.MaxKeyLen && utf8.ValidString(key) && !strings.ContainsFunc(key, unicode.IsControl)
		if (err == nil) != want {
			t.Fatalf("blockstore.ValidateKey(%q) = %v, want valid=%v", key, err, want)
		}
		got, perr := keyFromEscapedPath(blobsPrefix + url.PathEscape(key))
		if want && (perr != nil || got != key) {
			t.Fatalf("round trip of %q: %q, %v", key, got, perr)
		}
		if !want && perr == nil {
			t.Fatalf("invalid key %q accepted from a path", key)
		}
		// Raw (unescaped) input must never panic and must only yield valid keys.
		if k, err := keyFromEscapedPath(blobsPrefix + key); err == nil && blockstore.ValidateKey(k) != nil {
			t.Fatalf("path %q gave invalid key %q", key, k)
		}
	})
}
