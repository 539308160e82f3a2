package peer

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"strata/blockstore"
)

// maxComposeBody bounds a compose request's body: up to MaxParts part
// keys of at most blockstore.MaxKeyLen bytes, escaped, and the metadata.
const maxComposeBody = 24 << 20

// composeRequest is the body of POST /internal/v1/compose/<key>.
type composeRequest struct {
	Parts []string `json:"parts"`
	// PartVersions pins each part's version (blockstore.ComposeOptions).
	PartVersions []uint64          `json:"part_versions,omitempty"`
	ContentType  string            `json:"content_type,omitempty"`
	Meta         map[string]string `json:"meta,omitempty"`
}

// ComposeReplica asks the peer to compose key from parts in its own store
// at opts.Version (never 0) and returns once durable, with what the peer
// then holds (a higher version: it held something newer). Errors wrap
// blockstore.ErrNotFound when the peer lacks a part.
func (c *Client) ComposeReplica(ctx context.Context, addr, key string, parts []string, opts blockstore.ComposeOptions) (blockstore.Info, error) {
	if opts.Version == 0 || opts.MD5 != nil {
		return blockstore.Info{}, fmt.Errorf("peer: compose %q: %w: version %d (MD5 given: %v)", key, blockstore.ErrInvalidArgument, opts.Version, opts.MD5 != nil)
	}
	if err := blockstore.ValidateCompose(key, parts, opts); err != nil {
		return blockstore.Info{}, fmt.Errorf("peer: compose %q: %w", key, err)
	}
	body, err := json.Marshal(composeRequest{Parts: parts, PartVersions: opts.PartVersions, ContentType: opts.ContentType, Meta: opts.Meta})
	if err != nil {
		return blockstore.Info{}, fmt.Errorf("peer: compose %q: %w: %w", key, blockstore.ErrInvalidArgument, err)
	}
	path, raw := keyURL(prefixCompose, key)
	resp, err := c.do(ctx, call{method: http.MethodPost, addr: addr, path: path, rawPath: raw, key: &key,
		query: url.Values{"version": {strconv.FormatUint(opts.Version, 10)}},
		body:  bytes.NewReader(body), size: int64(len(body))}, http.StatusCreated)
	if err != nil {
		return blockstore.Info{}, err
	}
	defer drainClose(resp.Body)
	return readInfoAnswer(resp.Body, addr, "compose", key)
}

// decodeComposeRequest reads a compose body for key: one JSON object with
// only the known fields, whose parts and metadata pass the store's compose
// rules (blockstore.ValidateCompose); anything else wraps ErrBadRequest.
func decodeComposeRequest(key string, raw []byte) (composeRequest, error) {
	var req composeRequest
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return composeRequest{}, fmt.Errorf("%w: compose body: %w", ErrBadRequest, err)
	}
	if dec.More() {
		return composeRequest{}, fmt.Errorf("%w: compose body: data after the object", ErrBadRequest)
	}
	if err := blockstore.ValidateCompose(key, req.Parts, blockstore.ComposeOptions{ContentType: req.ContentType, Meta: req.Meta, PartVersions: req.PartVersions}); err != nil {
		return composeRequest{}, fmt.Errorf("%w: compose body: %w", ErrBadRequest, err)
	}
	return req, nil
}

// compose serves a replica compose: the body (MAC verified to its end
// before anything is applied) names the parts and the metadata.
func (h *handler) compose(w http.ResponseWriter, r *http.Request, a authHeaders, key string) error {
	q := parseQuery(r.URL.RawQuery, "version")
	version := q.version("version", true)
	if q.err != nil {
		return q.err
	}
	if a.size < 0 || a.size > maxComposeBody {
		return fmt.Errorf("%w: compose body of %d bytes (limit %d)", ErrBadRequest, a.size, maxComposeBody)
	}
	body := newVerifiedBody(r, h.key, a, &progress{set: http.NewResponseController(w).SetReadDeadline, timeout: h.stall})
	raw, err := io.ReadAll(body)
	if body.err != nil {
		return body.err
	}
	if err != nil {
		return err
	}
	if !body.verified() {
		return fmt.Errorf("%w: compose body not verified", ErrBadRequest)
	}
	req, err := decodeComposeRequest(key, raw)
	if err != nil {
		return err
	}
	info, err := h.backend.ApplyCompose(r.Context(), key, req.Parts, blockstore.ComposeOptions{
		ContentType: req.ContentType, Meta: req.Meta, Version: version, PartVersions: req.PartVersions,
	})
	if err != nil {
		return err
	}
	b, err := EncodeInfo(info)
	if err != nil {
		return internal(err)
	}
	return writeBody(w, http.StatusCreated, b)
}
