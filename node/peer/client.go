package peer

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"strata/blockstore"
	"strata/node/replication"
)

// ClientOptions configure NewClient.
type ClientOptions struct {
	// Secret is the cluster secret (the secret file's bytes). Required.
	Secret []byte
	// NodeID is this node's id, sent (and signed) with every request.
	NodeID string
	// HTTPClient sends the requests; nil: NewHTTPClient(). Its Timeout
	// should stay 0: streams are bounded by the caller's context.
	HTTPClient *http.Client
	// Now is the clock requests are dated with; default time.Now.
	Now func() time.Time
}

// Client sends signed internal requests to other nodes; it implements
// cluster.Peer. It is safe for concurrent use.
type Client struct {
	key  authKey
	node string
	hc   *http.Client
	now  func() time.Time
	err  error // unusable options: every call fails with it
}

// Bounds on what the Client reads from a peer's answer.
const (
	maxSmallResponse   = 1 << 20  // an Info, an Entry, an error, a Digest
	maxEntriesResponse = 64 << 20 // a page of MaxEntriesLimit entries of long keys
)

// NewClient returns a Client. Options that cannot work (no secret, an
// invalid node id) do not panic: every call then fails with ErrBadOptions.
func NewClient(opts ClientOptions) *Client {
	c := &Client{node: opts.NodeID, hc: opts.HTTPClient, now: opts.Now}
	if c.hc == nil {
		c.hc = NewHTTPClient()
	}
	if c.now == nil {
		c.now = time.Now
	}
	switch {
	case len(opts.Secret) == 0:
		c.err = fmt.Errorf("%w: no cluster secret", ErrBadOptions)
	default:
		c.err = ValidateNodeID(opts.NodeID)
	}
	c.key = newAuthKey(opts.Secret)
	return c
}

// NewHTTPClient is the default transport for internal traffic: bounded
// dials and waits for response headers, a pool of idle connections per
// peer (replica traffic goes to few hosts, often), no proxy, no transparent
// compression, no redirects, and no overall timeout (a 5 GiB stream takes
// as long as it takes; the caller's context bounds it).
func NewHTTPClient() *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Client{
		Transport: &http.Transport{
			DialContext:           dialer.DialContext,
			MaxIdleConns:          1024,
			MaxIdleConnsPerHost:   64,
			IdleConnTimeout:       90 * time.Second,
			ResponseHeaderTimeout: time.Minute, // counted once the request body is sent
			DisableCompression:    true,
			WriteBufferSize:       64 << 10,
			ReadBufferSize:        64 << 10,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// CloseIdleConnections closes the connections kept for reuse (tests, and
// shutdown, leave none behind).
func (c *Client) CloseIdleConnections() { c.hc.CloseIdleConnections() }

// call is one request to send.
type call struct {
	method  string
	addr    string
	path    string  // unescaped
	rawPath string  // escaped
	key     *string // the key of a keyed route, checked before sending
	query   url.Values
	header  http.Header // extra headers (Range, Content-Type)
	body    io.Reader   // nil: none
	size    int64       // body size, -1 unknown
}

// do signs and sends c, and returns the response when its status is one
// of want; any other answer becomes an error wrapping the sentinel of the
// peer's error code. The caller closes the body of a returned response.
func (c *Client) do(ctx context.Context, k call, want ...int) (*http.Response, error) {
	if c.err != nil {
		return nil, c.err
	}
	where := fmt.Sprintf("peer %s: %s %s", k.addr, k.method, k.rawPath)
	if k.key != nil {
		if err := blockstore.ValidateKey(*k.key); err != nil {
			return nil, fmt.Errorf("%s: %w", where, err) // refused here, as the peer would
		}
	}
	if err := checkAddr(k.addr); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	u := &url.URL{Scheme: "http", Host: k.addr, Path: k.path, RawPath: k.rawPath, RawQuery: k.query.Encode()}
	req, err := http.NewRequestWithContext(ctx, k.method, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %w", where, blockstore.ErrInvalidArgument, err)
	}
	for name, v := range k.header {
		req.Header[name] = v
	}
	s := signedRequest{
		method: k.method, path: req.URL.EscapedPath(), query: req.URL.RawQuery,
		date: c.now().UnixMilli(), node: c.node, body: bodyNone, ctype: req.Header.Get("Content-Type"),
	}
	var body *signedBody
	if k.body != nil {
		s.body, s.size = bodyMAC, k.size
	}
	sig := c.key.setHeaders(req.Header, s)
	if k.body != nil {
		// Trailers need chunked framing, whatever the size: the declared
		// size travels signed in X-Strata-Size instead of Content-Length.
		body = &signedBody{src: k.body, size: k.size, sum: sha256.New(), key: c.key, sig: sig,
			trailer: http.Header{trailerBodyMAC: nil}, stop: make(chan struct{})}
		req.Body, req.ContentLength, req.TransferEncoding, req.Trailer = body, -1, []string{"chunked"}, body.trailer
		defer close(body.stop)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if body != nil && body.failure() != nil {
			return nil, fmt.Errorf("%s: %w", where, body.failure()) // the source failed or had the wrong size: that is the story
		}
		return nil, fmt.Errorf("%s: %w: %w", where, ErrUnreachable, err)
	}
	for _, w := range want {
		if resp.StatusCode == w {
			return resp, nil
		}
	}
	defer drainClose(resp.Body)
	return nil, fmt.Errorf("%s: %w", where, responseError(resp))
}

// responseError turns an error answer into an error wrapping the sentinel
// of its code.
func responseError(resp *http.Response) error {
	e := apiError{Code: resp.Header.Get(headerErrorCode)}
	if e.Code == "" {
		b, err := readBounded(resp.Body, maxSmallResponse)
		if err == nil {
			_ = json.Unmarshal(b, &e)
		}
	}
	if e.Code == "" {
		return fmt.Errorf("%w: status %d without an error code", ErrPeerFailed, resp.StatusCode)
	}
	sentinel := sentinelFor(e.Code)
	if sentinel == ErrPeerFailed {
		return fmt.Errorf("%w: status %d, code %q", ErrPeerFailed, resp.StatusCode, e.Code)
	}
	return fmt.Errorf("%d %s: %w", resp.StatusCode, e.Code, sentinel)
}

// checkAddr accepts host:port and nothing that would change the URL.
func checkAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" || port == "" || strings.ContainsAny(addr, "/?#@ \\") {
		return fmt.Errorf("%w: address %q is not host:port", ErrBadOptions, addr)
	}
	return nil
}

// readBounded reads a whole answer of at most limit bytes.
func readBounded(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%w: reading the answer: %w", ErrShortBody, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w: answer longer than %d bytes", ErrBadResponse, limit)
	}
	return b, nil
}

// drainClose reads a little of what is left (so a small answer's
// connection can be reused) and closes.
func drainClose(body io.ReadCloser) {
	_, _ = io.CopyN(io.Discard, body, 4<<10)
	_ = body.Close()
}

// PutReplica streams size bytes of r (-1: to EOF) to the peer at
// opts.Version and returns what the peer holds once it is durable there.
// A peer that already held that version or a newer one answers at once
// without taking the body: the returned Info's Version then says what it
// holds (a write superseded there, acknowledged all the same).
//
// r is read by net/http's connection goroutine. After PutReplica returns
// no new Read of r starts, but one in flight may finish later (a peer can
// answer before it took the whole body). And net/http does not return
// from a cancelled request while a Read of r is blocked: to cut a replica
// off, end ctx and also close r (CloseWithError on a pipe).
func (c *Client) PutReplica(ctx context.Context, addr, key string, r io.Reader, size int64, opts blockstore.PutOptions) (blockstore.Info, error) {
	if opts.Version == 0 || size < -1 || r == nil {
		return blockstore.Info{}, fmt.Errorf("peer: put %q: %w: version %d, size %d", key, blockstore.ErrInvalidArgument, opts.Version, size)
	}
	if err := blockstore.ValidateContentType(opts.ContentType); err != nil {
		return blockstore.Info{}, fmt.Errorf("peer: put %q: %w", key, err)
	}
	q := url.Values{"version": {strconv.FormatUint(opts.Version, 10)}}
	if err := putMetaQuery(q, opts); err != nil {
		return blockstore.Info{}, fmt.Errorf("peer: put %q: %w", key, err)
	}
	path, raw := keyURL(prefixBlobs, key)
	k := call{method: http.MethodPut, addr: addr, path: path, rawPath: raw, key: &key,
		query: q, body: r, size: size}
	if opts.ContentType != "" {
		k.header = http.Header{"Content-Type": {opts.ContentType}}
	}
	resp, err := c.do(ctx, k, http.StatusCreated)
	if err != nil {
		return blockstore.Info{}, err
	}
	defer drainClose(resp.Body)
	return readInfoAnswer(resp.Body, addr, "put", key)
}

// readInfoAnswer reads a write's answer: the Info the peer holds for key.
func readInfoAnswer(body io.Reader, addr, what, key string) (blockstore.Info, error) {
	b, err := readBounded(body, maxSmallResponse)
	if err != nil {
		return blockstore.Info{}, fmt.Errorf("peer %s: %s %q: %w", addr, what, key, err)
	}
	info, err := DecodeInfo(b)
	if err == nil && info.Key != key {
		err = fmt.Errorf("%w: answer names key %q", ErrBadResponse, info.Key)
	}
	if err != nil {
		return blockstore.Info{}, fmt.Errorf("peer %s: %s %q: %w", addr, what, key, err)
	}
	return info, nil
}

// DeleteReplica writes a tombstone at version on the peer, durable on return.
func (c *Client) DeleteReplica(ctx context.Context, addr, key string, version uint64) error {
	if version == 0 {
		return fmt.Errorf("peer: delete %q: %w: version 0", key, blockstore.ErrInvalidArgument)
	}
	path, raw := keyURL(prefixBlobs, key)
	resp, err := c.do(ctx, call{method: http.MethodDelete, addr: addr, path: path, rawPath: raw, key: &key,
		query: url.Values{"version": {strconv.FormatUint(version, 10)}}}, http.StatusNoContent)
	if err != nil {
		return err
	}
	drainClose(resp.Body)
	return nil
}

// Lookup returns the peer's index entry for key; errors wrap
// blockstore.ErrNotFound when it has none.
func (c *Client) Lookup(ctx context.Context, addr, key string) (blockstore.Entry, error) {
	path, raw := keyURL(prefixMeta, key)
	resp, err := c.do(ctx, call{method: http.MethodGet, addr: addr, path: path, rawPath: raw, key: &key}, http.StatusOK)
	if err != nil {
		return blockstore.Entry{}, err
	}
	defer drainClose(resp.Body)
	b, err := readBounded(resp.Body, maxSmallResponse)
	if err != nil {
		return blockstore.Entry{}, fmt.Errorf("peer %s: lookup %q: %w", addr, key, err)
	}
	e, err := DecodeEntry(b)
	if err == nil && e.Key != key {
		err = fmt.Errorf("%w: answer names key %q", ErrBadResponse, e.Key)
	}
	if err != nil {
		return blockstore.Entry{}, fmt.Errorf("peer %s: lookup %q: %w", addr, key, err)
	}
	return e, nil
}

// OpenRange reads length bytes (-1: to the end) from off of the peer's
// current version of key, failing with replication.ErrVersionGone when it
// is older than minVersion. The reader returns io.EOF only after every
// byte the peer announced arrived; a stream cut short (the peer aborts
// when its copy fails a checksum, or the connection breaks) is an error
// wrapping ErrShortBody. A read of the whole blob is also held to the
// blob's CRC32C: a mismatch fails the last read with ErrCorrupt.
func (c *Client) OpenRange(ctx context.Context, addr, key string, minVersion uint64, off, length int64) (io.ReadCloser, blockstore.Info, error) {
	if off < 0 || length < -1 || (length > 0 && off > math.MaxInt64-length) {
		return nil, blockstore.Info{}, fmt.Errorf("peer: read %q: %w: offset %d, length %d", key, blockstore.ErrInvalidArgument, off, length)
	}
	path, raw := keyURL(prefixBlobs, key)
	k := call{method: http.MethodGet, addr: addr, path: path, rawPath: raw, key: &key, query: url.Values{}}
	if minVersion > 0 {
		k.query.Set("min_version", strconv.FormatUint(minVersion, 10))
	}
	switch {
	case length == 0:
		k.method = http.MethodHead // metadata and the version check, no bytes
		k.header = http.Header{"Range": {fmt.Sprintf("bytes=%d-", off)}}
	case length > 0:
		k.header = http.Header{"Range": {fmt.Sprintf("bytes=%d-%d", off, off+length-1)}}
	case off > 0:
		k.header = http.Header{"Range": {fmt.Sprintf("bytes=%d-", off)}}
	}
	want := http.StatusOK
	if k.header != nil {
		want = http.StatusPartialContent
	}
	resp, err := c.do(ctx, k, want)
	if err != nil {
		return nil, blockstore.Info{}, err
	}
	info, err := infoFromHeaders(key, resp.Header)
	if err != nil {
		drainClose(resp.Body)
		return nil, blockstore.Info{}, fmt.Errorf("peer %s: read %q: %w", addr, key, err)
	}
	expect := max(0, info.Size-off)
	if length >= 0 {
		expect = min(expect, length)
	}
	if k.method == http.MethodHead {
		resp.Body.Close()
		return io.NopCloser(strings.NewReader("")), info, nil
	}
	if resp.ContentLength != expect {
		drainClose(resp.Body)
		return nil, blockstore.Info{}, fmt.Errorf("peer %s: read %q: %w: %d bytes announced, want %d", addr, key, ErrBadResponse, resp.ContentLength, expect)
	}
	b := &rangeBody{body: resp.Body, left: expect, where: fmt.Sprintf("peer %s: read %q at %d", addr, key, off)}
	if off == 0 && expect == info.Size {
		// The whole blob: check it against its content checksum too, so
		// damage on the way is caught, not only damage on the peer's disk.
		if expect == 0 && info.Checksum != 0 {
			drainClose(resp.Body)
			return nil, blockstore.Info{}, fmt.Errorf("%s: %w: an empty blob with checksum %08x", b.where, blockstore.ErrCorrupt, info.Checksum)
		}
		b.crc, b.want = crc32.New(castagnoli), info.Checksum
	}
	return b, info, nil
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// rangeBody is a blob stream from a peer: io.EOF only once every
// announced byte arrived and, for a whole blob, matched its checksum; the
// read that would complete a blob whose checksum fails returns an error
// wrapping blockstore.ErrCorrupt instead of its bytes.
type rangeBody struct {
	body  io.ReadCloser
	left  int64
	where string
	crc   hash.Hash32 // nil: a partial range, no whole-content checksum to hold it to
	want  uint32
	err   error
}

func (b *rangeBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.left == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.body.Read(p)
	b.left -= int64(n)
	if b.crc != nil {
		b.crc.Write(p[:n])
		if b.left == 0 && b.crc.Sum32() != b.want {
			b.err = fmt.Errorf("%s: %w: content checksum %08x, want %08x", b.where, blockstore.ErrCorrupt, b.crc.Sum32(), b.want)
			return 0, b.err
		}
	}
	switch {
	case err == nil || (errors.Is(err, io.EOF) && b.left == 0):
		return n, nil
	case errors.Is(err, io.EOF):
		b.err = fmt.Errorf("%s: %w: %d bytes missing", b.where, ErrShortBody, b.left)
	default:
		b.err = fmt.Errorf("%s: %w: %d bytes missing: %w", b.where, ErrShortBody, b.left, err)
	}
	return n, b.err
}

func (b *rangeBody) Close() error { return b.body.Close() }

// Digest returns the peer's anti-entropy digest of the keys it shares with
// forPeer.
func (c *Client) Digest(ctx context.Context, addr, forPeer string) (replication.Digest, error) {
	resp, err := c.do(ctx, call{method: http.MethodGet, addr: addr, path: pathDigest, rawPath: pathDigest,
		query: url.Values{"for": {forPeer}}}, http.StatusOK)
	if err != nil {
		return replication.Digest{}, err
	}
	defer drainClose(resp.Body)
	b, err := readBounded(resp.Body, maxSmallResponse)
	if err == nil {
		var d replication.Digest
		if d, err = DecodeDigest(b); err == nil {
			return d, nil
		}
	}
	return replication.Digest{}, fmt.Errorf("peer %s: digest: %w", addr, err)
}

// Entries lists the peer's entries in buckets (of the keys shared with
// forPeer) after startAfter, in key order: at most limit, clamped to
// MaxEntriesLimit. limit < 1 is an error.
func (c *Client) Entries(ctx context.Context, addr, forPeer string, buckets []int, startAfter string, limit int) ([]blockstore.Entry, error) {
	if limit < 1 {
		return nil, fmt.Errorf("peer: entries: %w: limit %d", blockstore.ErrInvalidArgument, limit)
	}
	limit = min(limit, MaxEntriesLimit)
	q := url.Values{"for": {forPeer}, "limit": {strconv.Itoa(limit)}}
	if len(buckets) > 0 {
		q.Set("buckets", formatBuckets(buckets))
	}
	if startAfter != "" {
		q.Set("after", startAfter)
	}
	resp, err := c.do(ctx, call{method: http.MethodGet, addr: addr, path: pathEntries, rawPath: pathEntries, query: q}, http.StatusOK)
	if err != nil {
		return nil, err
	}
	defer drainClose(resp.Body)
	b, err := readBounded(resp.Body, maxEntriesResponse)
	if err == nil {
		var entries []blockstore.Entry
		if entries, err = decodeEntries(b, startAfter, limit); err == nil {
			return entries, nil
		}
	}
	return nil, fmt.Errorf("peer %s: entries: %w", addr, err)
}
