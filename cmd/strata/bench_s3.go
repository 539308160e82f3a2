package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/smithy-go/encoding/httpbinding"
)

// S3 payload signing modes of the bench's S3 target (--s3-payload).
const (
	// s3PayloadUnsigned sends x-amz-content-sha256: UNSIGNED-PAYLOAD: the
	// signature covers the headers only, nobody hashes the body.
	s3PayloadUnsigned = "unsigned"
	// s3PayloadSigned sends the body's hex SHA-256, which the client
	// computes before sending and the node verifies while receiving.
	s3PayloadSigned = "signed"
)

// s3BenchFlags are the flags that point strata bench at a node's S3
// endpoint instead of its native blob API.
type s3BenchFlags struct {
	bucket, accessKey, secretKey, region, payload *string
}

func addS3BenchFlags(fs *flagSet) s3BenchFlags {
	return s3BenchFlags{
		bucket:    fs.String("s3-bucket", "", "drive the S3 endpoint at --addr instead of the native API: objects --key-prefix... in bucket `NAME` (created if missing), requests signed with SigV4"),
		accessKey: fs.String("s3-access-key", envOr("AWS_ACCESS_KEY_ID", ""), "with --s3-bucket: access `KEY` of an [[s3.keys]] entry (env AWS_ACCESS_KEY_ID)"),
		secretKey: fs.String("s3-secret-key", envOr("AWS_SECRET_ACCESS_KEY", ""), "with --s3-bucket: its `SECRET` (env AWS_SECRET_ACCESS_KEY, better than the flag)"),
		region:    fs.String("s3-region", "us-east-1", "with --s3-bucket: the `REGION` requests are signed for"),
		payload:   fs.String("s3-payload", s3PayloadUnsigned, "with --s3-bucket: `MODE` of the body's signature: unsigned (UNSIGNED-PAYLOAD) or signed (its SHA-256)"),
	}
}

// apply copies the flags into cfg and says what is wrong with them; set
// tells which flags were given.
func (f s3BenchFlags) apply(cfg *benchConfig, set map[string]bool) error {
	if *f.bucket == "" {
		for _, name := range []string{"s3-access-key", "s3-secret-key", "s3-region", "s3-payload"} {
			if set[name] {
				return fmt.Errorf("--%s needs --s3-bucket", name)
			}
		}
		return nil
	}
	switch {
	case cfg.EmbeddedDir != "":
		return errors.New("--s3-bucket and --embedded exclude each other: --s3-bucket drives a node's S3 endpoint over HTTP")
	case cfg.token != "":
		return errors.New("--s3-bucket signs with --s3-access-key and --s3-secret-key; --token is for the native API")
	case *f.accessKey == "" || *f.secretKey == "":
		return errors.New("--s3-bucket needs --s3-access-key and --s3-secret-key (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)")
	case *f.payload != s3PayloadUnsigned && *f.payload != s3PayloadSigned:
		return fmt.Errorf("--s3-payload %q is unknown (known: %s, %s)", *f.payload, s3PayloadUnsigned, s3PayloadSigned)
	case *f.payload == s3PayloadSigned && cfg.Verify:
		return errors.New("--s3-payload signed does not work with --verify: the checked content cannot be hashed before it is sent")
	case *f.region == "":
		return errors.New("--s3-region must not be empty")
	}
	cfg.Mode = "s3"
	cfg.S3Bucket, cfg.S3Region, cfg.S3Payload = *f.bucket, *f.region, *f.payload
	cfg.s3Creds = aws.Credentials{AccessKeyID: *f.accessKey, SecretAccessKey: *f.secretKey}
	return nil
}

// s3Target drives a node's S3 endpoint: the objects of one bucket, every
// request signed with AWS Signature V4 by the AWS SDK's signer. It shares
// the native target's HTTP client setup, so the two compare like for like.
type s3Target struct {
	c       *client
	bucket  string
	region  string
	payload string
	creds   aws.Credentials
	signer  *v4.Signer
}

func newS3Target(cfg benchConfig) (*s3Target, error) {
	c, err := newClient(cfg.Addr, "", cfg.Concurrency)
	if err != nil {
		return nil, err
	}
	// S3 signs the path as sent, escaped once (the SDK's S3 client does the same).
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	return &s3Target{c: c, bucket: cfg.S3Bucket, region: cfg.S3Region, payload: cfg.S3Payload, creds: cfg.s3Creds, signer: signer}, nil
}

func (t *s3Target) mode() string { return "s3" }
func (t *s3Target) describe() string {
	return fmt.Sprintf("addr=%s bucket=%s payload=%s", t.c.base, t.bucket, t.payload)
}
func (t *s3Target) close() error { t.c.close(); return nil }

// ready checks the endpoint answers and the key works, creating the bucket
// when it does not exist yet. It asks GetBucketLocation rather than
// HeadBucket: a refusal then comes with its S3 error code.
func (t *s3Target) ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := t.send(ctx, http.MethodGet, t.bucketURL()+"?location", nil, 0, "", http.StatusOK)
	if err == nil {
		resp.Body.Close()
		return nil
	}
	if !isNotFound(err) {
		return fmt.Errorf("S3 endpoint at %s, bucket %s: %w", t.c.base, t.bucket, err)
	}
	resp, err = t.send(ctx, http.MethodPut, t.bucketURL(), nil, 0, "", http.StatusOK)
	if err != nil {
		return fmt.Errorf("S3 endpoint at %s: creating bucket %s: %w", t.c.base, t.bucket, err)
	}
	resp.Body.Close()
	return nil
}

func (t *s3Target) put(ctx context.Context, key string, body io.Reader, size int64, contentType string) error {
	resp, err := t.send(ctx, http.MethodPut, t.objectURL(key), body, size, contentType, http.StatusOK)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.Body.Close()
}

func (t *s3Target) get(ctx context.Context, key string, read func(io.Reader) (int64, error)) (int64, string, error) {
	resp, err := t.send(ctx, http.MethodGet, t.objectURL(key), nil, 0, "", http.StatusOK)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	n, err := read(resp.Body)
	return n, resp.Header.Get("X-Strata-Tier"), err
}

func (t *s3Target) delete(ctx context.Context, key string) error {
	resp, err := t.send(ctx, http.MethodDelete, t.objectURL(key), nil, 0, "", http.StatusNoContent, http.StatusOK)
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

// bucketURL and objectURL are path-style: the bucket is the first segment.
// The key is escaped as S3 wants it (every byte but the unreserved ones and
// "/"), and signed as sent.
func (t *s3Target) bucketURL() string {
	return t.c.base.String() + "/" + httpbinding.EscapePath(t.bucket, true)
}
func (t *s3Target) objectURL(key string) string {
	return t.bucketURL() + "/" + httpbinding.EscapePath(key, false)
}

// send signs and sends one request and checks its status like client.do,
// with the S3 error's code and message in the error.
func (t *s3Target) send(ctx context.Context, method, target string, body io.Reader, size int64, contentType string, ok ...int) (*http.Response, error) {
	payloadHash := "UNSIGNED-PAYLOAD"
	if body == nil {
		payloadHash = emptySHA256
	} else if t.payload == s3PayloadSigned {
		h, err := bodySHA256(body)
		if err != nil {
			return nil, err
		}
		payloadHash = h
	}
	req, err := t.c.newRequest(ctx, method, target, body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.ContentLength = size
		if size == 0 {
			req.Body = http.NoBody
		}
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("X-Amz-Content-Sha256", payloadHash)
	if err := t.signer.SignHTTP(ctx, t.creds, req, payloadHash, "s3", t.region, time.Now()); err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	resp, err := t.c.do(req, ok...)
	var se *statusError
	if errors.As(err, &se) {
		se.msg = s3ErrorText(se.msg)
	}
	return resp, err
}

// emptySHA256 is the hex SHA-256 of no bytes, the payload hash of a
// request without a body.
const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// bodySHA256 hashes a bench body without consuming it: a payloadReader is
// deterministic, so a copy of it yields the same bytes.
func bodySHA256(body io.Reader) (string, error) {
	p, ok := body.(*payloadReader)
	if !ok {
		return "", fmt.Errorf("--s3-payload signed: cannot hash a %T before sending it", body)
	}
	c := *p
	h := sha256.New()
	if _, err := io.Copy(h, &c); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// s3ErrorText turns an S3 XML error body into "Code: Message"; anything
// else comes back as it is.
func s3ErrorText(body string) string {
	var e struct {
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	}
	if xml.Unmarshal([]byte(body), &e) != nil || e.Code == "" {
		return body
	}
	if e.Message == "" {
		return e.Code
	}
	return e.Code + ": " + e.Message
}
