package node

import (
	"fmt"
	"net"
	"strings"
	"time"
)

// S3Config is the [s3] table: the S3-compatible listener (node/s3), off
// while Listen is empty. See docs/s3.md.
type S3Config struct {
	// Listen is the S3 listener's address; "" (the default) turns it off.
	Listen string `toml:"listen"`
	// Domain enables virtual-host-style addressing: a request for
	// "bucket.<domain>" names the bucket in its host. Path-style always works.
	Domain string `toml:"domain"`
	// Region is the region clients sign for. Default "us-east-1" (which is
	// accepted whatever Region says).
	Region string `toml:"region"`
	// MultipartExpiry is how long an unfinished multipart upload is kept
	// before a background sweep aborts it. Default 168h.
	MultipartExpiry time.Duration `toml:"multipart_expiry"`
	// ETag is S3ETagMD5 (default: a single PUT's ETag is its content's MD5,
	// as S3 makes it) or S3ETagVersion (the blob API's version ETag; the
	// node computes no MD5 for single PUTs and copies). See docs/s3.md.
	ETag string `toml:"etag"`
	// Keys are the access keys; at least one when Listen is set.
	Keys []S3Key `toml:"keys"`
}

// S3Key is one [[s3.keys]] table.
type S3Key struct {
	AccessKey string `toml:"access_key"`
	// SecretKey is the signing secret, never logged.
	SecretKey string `toml:"secret_key"`
	// Scope is "read" or "read-write".
	Scope string `toml:"scope"`
	// Buckets limits the key to these buckets; empty: all buckets.
	Buckets []string `toml:"buckets"`
}

// S3 defaults.
const (
	DefaultS3Region          = "us-east-1"
	S3ETagMD5                = "md5"
	S3ETagVersion            = "version"
	DefaultS3MultipartExpiry = 7 * 24 * time.Hour
	// minS3SecretLen keeps guessable secrets out of configs.
	minS3SecretLen = 16
)

func defaultS3Config() S3Config {
	return S3Config{Region: DefaultS3Region, MultipartExpiry: DefaultS3MultipartExpiry, ETag: S3ETagMD5}
}

// Enabled reports whether the S3 listener is on.
func (c S3Config) Enabled() bool { return c.Listen != "" }

// String names the keys by access key only: a Config printed in a log
// never shows a secret.
func (k S3Key) String() string { return fmt.Sprintf("s3 key %s (%s)", k.AccessKey, k.Scope) }

// validateS3 reports the [s3] table's problems through bad. Secrets are
// never quoted in a message.
func (c Config) validateS3(bad func(format string, args ...any)) {
	s := c.S3
	if s.MultipartExpiry <= 0 {
		bad("s3.multipart_expiry must be positive")
	}
	if s.Region == "" || strings.ContainsAny(s.Region, " /\t") {
		bad("s3.region %q: want a region name such as us-east-1", s.Region)
	}
	if s.ETag != S3ETagMD5 && s.ETag != S3ETagVersion {
		bad("s3.etag %q: want %q or %q", s.ETag, S3ETagMD5, S3ETagVersion)
	}
	if s.Domain != "" && (strings.ContainsAny(s.Domain, "/: ") || strings.HasPrefix(s.Domain, ".")) {
		bad("s3.domain %q: want a host name such as s3.example.com, without port or scheme", s.Domain)
	}
	if !s.Enabled() {
		return
	}
	if _, port, err := net.SplitHostPort(s.Listen); err != nil {
		bad("s3.listen %q: %v", s.Listen, err)
	} else if port != "0" {
		for name, addr := range map[string]string{"listen": c.Listen, "listen_read": c.ListenRead, "listen_write": c.ListenWrite} {
			if s.Listen == addr {
				bad("s3.listen %q is also %s", s.Listen, name)
			}
		}
	}
	if len(s.Keys) == 0 {
		bad("s3.listen is set but there is no [[s3.keys]]: every S3 request is signed with one")
	}
	seen := map[string]bool{}
	for i, k := range s.Keys {
		label := fmt.Sprintf("s3.keys[%d]", i)
		if k.AccessKey != "" {
			label += fmt.Sprintf(" (%s)", k.AccessKey)
		}
		switch {
		case k.AccessKey == "" || strings.ContainsAny(k.AccessKey, " \t\r\n/,="):
			bad("%s: access_key must be non-empty, without whitespace, '/', ',' or '='", label)
		case seen[k.AccessKey]:
			bad("%s: access_key repeats an earlier one", label)
		}
		seen[k.AccessKey] = true
		switch {
		case len(k.SecretKey) < minS3SecretLen:
			bad("%s: secret_key shorter than %d bytes", label, minS3SecretLen)
		case strings.TrimSpace(k.SecretKey) != k.SecretKey:
			bad("%s: secret_key holds leading or trailing whitespace", label)
		}
		if k.Scope != ScopeRead && k.Scope != ScopeReadWrite {
			bad("%s: scope %q: want %q or %q", label, k.Scope, ScopeRead, ScopeReadWrite)
		}
		for _, b := range k.Buckets {
			if b == "" || strings.ContainsAny(b, "/ ") {
				bad("%s: buckets holds %q, not a bucket name", label, b)
			}
		}
	}
}
