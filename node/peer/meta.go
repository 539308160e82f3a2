package peer

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"strata/blockstore"
)

// A blob's metadata (blockstore Info.Meta) and MD5 travel with it:
//
//   - on a replica write, in the signed query: meta=<JSON object> and
//     md5=1 (the replica hashes the content as it stores it, so the digest
//     is the bytes' own and needs no trust);
//   - in Info and Entry JSON, as "meta" and "md5" (hex);
//   - on a blob read, in the headers X-Strata-Meta (base64 of the JSON
//     object) and X-Strata-MD5 (hex), absent when there is none.
//
// Both ends hold metadata to blockstore.ValidateMeta and an MD5 to 16
// bytes, so nothing a store would refuse is passed on.
const (
	headerMeta = "X-Strata-Meta"
	headerMD5  = "X-Strata-MD5"
	queryMeta  = "meta"
	queryMD5   = "md5"
)

// encodeMetaJSON is the JSON object of meta ("" for none).
func encodeMetaJSON(meta map[string]string) (string, error) {
	if len(meta) == 0 {
		return "", nil
	}
	if err := blockstore.ValidateMeta(meta); err != nil {
		return "", err
	}
	b, err := json.Marshal(meta)
	return string(b), err
}

// decodeMetaJSON parses and validates encodeMetaJSON's form; errors wrap
// blockstore.ErrInvalidArgument.
func decodeMetaJSON(s string) (map[string]string, error) {
	if s == "" {
		return nil, nil
	}
	var meta map[string]string
	if err := json.Unmarshal([]byte(s), &meta); err != nil {
		return nil, fmt.Errorf("%w: metadata: %w", blockstore.ErrInvalidArgument, err)
	}
	if len(meta) == 0 {
		return nil, fmt.Errorf("%w: empty metadata object", blockstore.ErrInvalidArgument)
	}
	if err := blockstore.ValidateMeta(meta); err != nil {
		return nil, err
	}
	return meta, nil
}

// checkMD5 accepts nil or a 16-byte digest.
func checkMD5(md5 []byte) error {
	if md5 != nil && len(md5) != 16 {
		return fmt.Errorf("%w: MD5 of %d bytes", blockstore.ErrInvalidArgument, len(md5))
	}
	return nil
}

// decodeMD5Hex parses a hex MD5 ("" for none).
func decodeMD5Hex(s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 16 {
		return nil, fmt.Errorf("%w: MD5 %q", blockstore.ErrInvalidArgument, s)
	}
	return b, nil
}

func md5Hex(md5 []byte) string {
	if md5 == nil {
		return ""
	}
	return hex.EncodeToString(md5)
}

// putMetaQuery adds a replica write's metadata parameters to q.
func putMetaQuery(q url.Values, opts blockstore.PutOptions) error {
	meta, err := encodeMetaJSON(opts.Meta)
	if err != nil {
		return err
	}
	if meta != "" {
		q.Set(queryMeta, meta)
	}
	switch {
	case opts.MD5 != nil:
		if err := checkMD5(opts.MD5); err != nil {
			return err
		}
		q.Set(queryMD5, hex.EncodeToString(opts.MD5))
	case opts.WantMD5:
		q.Set(queryMD5, "1")
	}
	return nil
}

// metaFromQuery reads them back on the replica: md5=1 asks the replica to
// hash the content (WantMD5), md5=<32 hex> gives the MD5 the coordinator
// knows (PutOptions.MD5: the coordinator verified the body against it; the
// replica keeps it without hashing again, the request's HMAC covering the
// body on the way). A replica older than md5=<hex> refuses it (400): see
// docs/cluster.md on upgrade order.
func metaFromQuery(q url.Values) (meta map[string]string, wantMD5 bool, sum []byte, err error) {
	if vs, ok := q[queryMeta]; ok {
		if meta, err = decodeMetaJSON(vs[0]); err != nil {
			return nil, false, nil, fmt.Errorf("%w: %w", ErrBadRequest, err)
		}
		if meta == nil {
			return nil, false, nil, fmt.Errorf("%w: empty %s parameter", ErrBadRequest, queryMeta)
		}
	}
	if vs, ok := q[queryMD5]; ok {
		if vs[0] == "1" {
			wantMD5 = true
		} else if sum, err = decodeMD5Hex(vs[0]); err != nil || sum == nil {
			return nil, false, nil, fmt.Errorf("%w: %s=%q, want 1 or an MD5 in hex", ErrBadRequest, queryMD5, vs[0])
		}
	}
	return meta, wantMD5, sum, nil
}

// setMetaHeaders writes i's metadata and MD5 to a read answer.
func setMetaHeaders(h http.Header, i blockstore.Info) error {
	meta, err := encodeMetaJSON(i.Meta)
	if err != nil {
		return err
	}
	if err := checkMD5(i.MD5); err != nil {
		return err
	}
	if meta != "" {
		h.Set(headerMeta, base64.StdEncoding.EncodeToString([]byte(meta)))
	}
	if i.MD5 != nil {
		h.Set(headerMD5, md5Hex(i.MD5))
	}
	return nil
}

// metaFromHeaders reads them back; errors wrap ErrBadResponse.
func metaFromHeaders(h http.Header) (map[string]string, []byte, error) {
	var meta map[string]string
	var md5 []byte
	switch vs := h.Values(headerMeta); len(vs) {
	case 0:
	case 1:
		raw, err := base64.StdEncoding.DecodeString(vs[0])
		if err == nil {
			meta, err = decodeMetaJSON(string(raw))
		}
		if err == nil && meta == nil {
			err = fmt.Errorf("empty")
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %s: %w", ErrBadResponse, headerMeta, err)
		}
	default:
		return nil, nil, fmt.Errorf("%w: %d %s headers", ErrBadResponse, len(vs), headerMeta)
	}
	switch vs := h.Values(headerMD5); len(vs) {
	case 0:
	case 1:
		var err error
		if md5, err = decodeMD5Hex(vs[0]); err != nil || md5 == nil {
			return nil, nil, fmt.Errorf("%w: %s %q", ErrBadResponse, headerMD5, vs[0])
		}
	default:
		return nil, nil, fmt.Errorf("%w: %d %s headers", ErrBadResponse, len(vs), headerMD5)
	}
	return meta, md5, nil
}
