package main

import (
	"context"
	"io"
	"net/http"
)

// benchTarget is what a bench run drives: a node over HTTP, or the tiered
// store in-process (--embedded). Both give the same semantics and error
// kinds: a missing key wraps errNotFound, and get reports the tier that
// served the bytes.
type benchTarget interface {
	// mode is "http", "s3" or "embedded", for the text and JSON output.
	mode() string
	// describe names the target in the header line, e.g. addr=... or dir=....
	describe() string
	// ready fails early, with a clear message, when the target cannot serve.
	ready(ctx context.Context) error
	// put stores size bytes of body under key; durable when it returns nil.
	put(ctx context.Context, key string, body io.Reader, size int64, contentType string) error
	// get hands the live blob of key to read and returns what read
	// returned and the tier that served it ("ram", "ssd" or "hdd").
	get(ctx context.Context, key string, read func(io.Reader) (int64, error)) (n int64, tier string, err error)
	// delete removes key.
	delete(ctx context.Context, key string) error
	// close releases the target; for the embedded store, closes it.
	close() error
}

// httpTarget drives a node over its HTTP blob API.
type httpTarget struct{ c *client }

func (t httpTarget) mode() string     { return "http" }
func (t httpTarget) describe() string { return "addr=" + t.c.base.String() }
func (t httpTarget) close() error     { t.c.close(); return nil }

func (t httpTarget) ready(ctx context.Context) error { return checkReady(ctx, t.c) }

func (t httpTarget) put(ctx context.Context, key string, body io.Reader, size int64, contentType string) error {
	_, err := putBlob(ctx, t.c, key, body, size, putHeaders{contentType: contentType})
	return err
}

func (t httpTarget) get(ctx context.Context, key string, read func(io.Reader) (int64, error)) (int64, string, error) {
	req, err := t.c.newRequest(ctx, http.MethodGet, t.c.blobURL(key), nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := t.c.do(req, http.StatusOK)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	n, err := read(resp.Body)
	return n, resp.Header.Get("X-Strata-Tier"), err
}

func (t httpTarget) delete(ctx context.Context, key string) error {
	return deleteBlob(ctx, t.c, key, "")
}

// newBenchTarget opens what cfg names: the embedded store on
// cfg.EmbeddedDir, a node's S3 endpoint (cfg.S3Bucket), or an HTTP client
// for the native API, each over HTTP with one connection per worker.
func newBenchTarget(ctx context.Context, cfg benchConfig, s stdio) (benchTarget, error) {
	if cfg.EmbeddedDir != "" {
		return openEmbeddedTarget(ctx, cfg, s)
	}
	if cfg.S3Bucket != "" {
		return newS3Target(cfg)
	}
	c, err := newClient(cfg.Addr, cfg.token, cfg.Concurrency)
	if err != nil {
		return nil, err
	}
	return httpTarget{c: c}, nil
}
