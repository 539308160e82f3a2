package node

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestS3ConfigLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "strata.toml")
	if err := os.WriteFile(path, []byte(`
[s3]
listen = "127.0.0.1:9000"
domain = "s3.example.com"
multipart_expiry = "24h"

[[s3.keys]]
access_key = "AK1"
secret_key = "secret-key-0123456789"
scope = "read"
buckets = ["a", "b"]
`), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	s := c.S3
	if !s.Enabled() || s.Domain != "s3.example.com" || s.Region != DefaultS3Region || s.MultipartExpiry.Hours() != 24 ||
		len(s.Keys) != 1 || s.Keys[0].Scope != ScopeRead || len(s.Keys[0].Buckets) != 2 {
		t.Fatalf("[s3] read as %+v", s)
	}
	if d := DefaultConfig("").S3; d.Enabled() || d.Region != DefaultS3Region || d.MultipartExpiry != DefaultS3MultipartExpiry {
		t.Fatalf("[s3] defaults %+v", d)
	}
}

func TestS3ConfigValidate(t *testing.T) {
	const secret = "secret-key-0123456789"
	key := S3Key{AccessKey: "AK", SecretKey: secret, Scope: ScopeReadWrite}
	for _, tc := range []struct {
		name   string
		mutate func(*S3Config)
		want   string
	}{
		{"off", func(s *S3Config) {}, ""},
		{"on", func(s *S3Config) { s.Listen, s.Keys = "0.0.0.0:9000", []S3Key{key} }, ""},
		{"no keys", func(s *S3Config) { s.Listen = "127.0.0.1:9000" }, "no [[s3.keys]]"},
		{"bad listen", func(s *S3Config) { s.Listen, s.Keys = "nowhere", []S3Key{key} }, "s3.listen"},
		{"same as listen", func(s *S3Config) { s.Listen, s.Keys = "127.0.0.1:7070", []S3Key{key} }, "is also listen"},
		{"short secret", func(s *S3Config) {
			s.Listen, s.Keys = "127.0.0.1:9000", []S3Key{{AccessKey: "AK", SecretKey: "short-secret", Scope: ScopeRead}}
		}, "secret_key shorter"},
		{"bad scope", func(s *S3Config) {
			s.Listen, s.Keys = "127.0.0.1:9000", []S3Key{{AccessKey: "AK", SecretKey: secret, Scope: ScopeAdmin}}
		}, `scope "admin"`},
		{"duplicate access key", func(s *S3Config) { s.Listen, s.Keys = "127.0.0.1:9000", []S3Key{key, key} }, "repeats"},
		{"empty access key", func(s *S3Config) {
			s.Listen, s.Keys = "127.0.0.1:9000", []S3Key{{SecretKey: secret, Scope: ScopeRead}}
		}, "access_key must be"},
		{"bad expiry", func(s *S3Config) { s.MultipartExpiry = 0 }, "multipart_expiry"},
		{"bad domain", func(s *S3Config) { s.Domain = "http://x" }, "s3.domain"},
		{"bad etag", func(s *S3Config) { s.ETag = "sha1" }, `s3.etag "sha1"`},
		{"version etag", func(s *S3Config) { s.ETag = S3ETagVersion }, ""},
	} {
		c := DefaultConfig(t.TempDir())
		tc.mutate(&c.S3)
		err := c.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), secret) {
			t.Errorf("%s: the error quotes the secret: %v", tc.name, err)
		}
	}
	if s := fmt.Sprint(key); strings.Contains(s, secret) {
		t.Fatalf("an S3Key prints its secret: %s", s)
	}
}
