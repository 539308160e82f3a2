package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// defaultAddr is where `strata serve` listens with no flags.
const defaultAddr = "http://127.0.0.1:7070"

// errNotFound is returned by client calls answered with 404.
var errNotFound = errors.New("not found")

// client talks to one node's HTTP blob API.
type client struct {
	base  *url.URL
	token string
	http  *http.Client
}

// clientFlags registers --addr and --token on fs and returns a constructor
// for the client they describe, to call after parsing.
func clientFlags(fs *flagSet) func() (*client, error) {
	addr := fs.String("addr", envOr("STRATA_ADDR", defaultAddr), "node address, `URL` or host:port (env STRATA_ADDR)")
	token := fs.String("token", envOr("STRATA_TOKEN", ""), "bearer `TOKEN` for the node (env STRATA_TOKEN)")
	return func() (*client, error) { return newClient(*addr, *token, 0) }
}

// newClient returns a client for the node at addr ("http://host:port" or
// "host:port"). maxConns bounds idle connections kept per host; 0 means the
// default, enough for one-at-a-time CLI use.
func newClient(addr, token string, maxConns int) (*client, error) {
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	u, err := url.Parse(addr)
	if err != nil {
		return nil, fmt.Errorf("bad --addr %q: %w", addr, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("bad --addr %q: scheme must be http or https", addr)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("bad --addr %q: no host", addr)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawQuery, u.Fragment = "", ""
	if maxConns <= 0 {
		maxConns = 4
	}
	tr := &http.Transport{
		Proxy:                 nil, // a storage node on the LAN is never reached through a proxy
		MaxIdleConns:          maxConns,
		MaxIdleConnsPerHost:   maxConns,
		IdleConnTimeout:       90 * time.Second,
		DisableCompression:    true, // blobs are opaque bytes; never ask for gzip
		ResponseHeaderTimeout: 0,    // a large PUT may take long before the answer
	}
	return &client{base: u, token: token, http: &http.Client{Transport: tr}}, nil
}

// blobURL is the URL of key; the key is one escaped path segment.
func (c *client) blobURL(key string) string {
	return c.base.String() + "/blobs/" + url.PathEscape(key)
}

// listURL is the URL of one page of the key listing.
func (c *client) listURL(prefix, startAfter string, limit int) string {
	q := url.Values{}
	q.Set("prefix", prefix)
	q.Set("start-after", startAfter)
	if limit > 0 {
		q.Set("limit", fmt.Sprint(limit))
	}
	return c.base.String() + "/blobs?" + q.Encode()
}

// newRequest builds a request carrying the client's credentials.
func (c *client) newRequest(ctx context.Context, method, target string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	req.Header.Set("User-Agent", "strata-cli/"+versionString())
	return req, nil
}

// do sends req. When the node answers with a status outside ok, it drains
// the body and returns a *statusError (wrapping errNotFound for 404).
func (c *client) do(req *http.Request, ok ...int) (*http.Response, error) {
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	for _, code := range ok {
		if resp.StatusCode == code {
			return resp, nil
		}
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // let the connection be reused
	return nil, &statusError{code: resp.StatusCode, status: resp.Status, msg: strings.TrimSpace(string(msg))}
}

// close releases idle connections.
func (c *client) close() { c.http.CloseIdleConnections() }

// statusError is an answer from the node with an unexpected status.
type statusError struct {
	code   int
	status string
	msg    string
}

func (e *statusError) Error() string {
	if e.msg == "" {
		return "node answered " + e.status
	}
	return "node answered " + e.status + ": " + e.msg
}

func (e *statusError) Unwrap() error {
	if e.code == http.StatusNotFound {
		return errNotFound
	}
	return nil
}

// fail reports err for subcommand name on stderr and returns exitError.
func fail(s stdio, name string, err error) int {
	fmt.Fprintf(s.err, "strata %s: %v\n", name, err)
	return exitError
}

// isNotFound reports whether err is the node's 404.
func isNotFound(err error) bool { return errors.Is(err, errNotFound) }

// errorForKey prefixes err with the key it concerns.
func errorForKey(key string, err error) error { return fmt.Errorf("%q: %w", key, err) }
