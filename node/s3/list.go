package s3

import (
	"context"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"strata/blockstore"
	"strata/node"
	"strata/node/s3/sigv4"
)

// pastPrefix follows every key that starts with a prefix: keys are UTF-8,
// whose bytes are all below 0xff, so p+"\xff" sorts after every key with
// prefix p (and before the next key without it).
const pastPrefix = "\xff"

// listPage is one page of a bucket listing.
type listPage struct {
	contents  []blockstore.Info
	prefixes  []string
	truncated bool
	last      string // last key or common prefix returned (the next marker)
}

// listBucket lists the objects of bucket whose keys start with prefix and
// sort after after, rolling keys that hold delimiter after the prefix up
// into common prefixes, up to maxKeys entries (keys and prefixes). It asks
// the store for pages of at most maxListKeys blobs, so memory is bounded
// by the page, whatever the bucket holds.
func listBucket(ctx context.Context, store node.Store, bucket, prefix, delimiter, after string, maxKeys int) (listPage, error) {
	var p listPage
	base := bucket + "/"
	cursor := ""
	if after != "" {
		cursor = base + after
		if cp, ok := commonPrefix(after, prefix, delimiter); ok && cp == after {
			// A marker that is a common prefix (a page ended with it):
			// that prefix was returned whole.
			cursor = base + cp + pastPrefix
		}
	}
	count := 0
	for {
		limit := min(maxKeys-count+1, maxListKeys)
		infos, err := store.List(ctx, base+prefix, cursor, limit)
		if err != nil {
			return listPage{}, err
		}
		jumped := false
		for _, info := range infos {
			key := strings.TrimPrefix(info.Key, base)
			if count == maxKeys {
				p.truncated = true
				return p, nil
			}
			if cp, ok := commonPrefix(key, prefix, delimiter); ok {
				p.prefixes = append(p.prefixes, cp)
				p.last = cp
				count++
				cursor = base + cp + pastPrefix
				jumped = true
				break // ask again past the whole prefix
			}
			p.contents = append(p.contents, info)
			p.last = key
			count++
			cursor = info.Key
		}
		if !jumped && len(infos) < limit {
			return p, nil
		}
	}
}

// commonPrefix is the common prefix key rolls up into: prefix and the rest
// of key up to and including the first delimiter after prefix.
func commonPrefix(key, prefix, delimiter string) (string, bool) {
	if delimiter == "" || !strings.HasPrefix(key, prefix) {
		return "", false
	}
	i := strings.Index(key[len(prefix):], delimiter)
	if i < 0 {
		return "", false
	}
	return key[:len(prefix)+i+len(delimiter)], true
}

// encodeToken makes ListObjectsV2's opaque continuation token from the
// last key or common prefix returned.
func encodeToken(last string) string { return base64.RawURLEncoding.EncodeToString([]byte(last)) }

// decodeToken reads a continuation token; anything encodeToken cannot have
// made is InvalidArgument.
func decodeToken(token string) (string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(raw) == 0 || len(raw) > blockstore.MaxKeyLen || !utf8.Valid(raw) {
		return "", fmt.Errorf("%w: the continuation token is not valid", ErrInvalidArgument)
	}
	return string(raw), nil
}

// urlEncode escapes a key for encoding-type=url: every byte but the
// unreserved characters and '/', so both path and query unescaping get the
// key back.
func urlEncode(s string) string { return sigv4.URIEncode(s, false) }

type objectXML struct {
	Key          string    `xml:"Key"`
	LastModified string    `xml:"LastModified"`
	ETag         string    `xml:"ETag"`
	Size         int64     `xml:"Size"`
	StorageClass string    `xml:"StorageClass"`
	Owner        *ownerXML `xml:"Owner,omitempty"`
}

type prefixXML struct {
	Prefix string `xml:"Prefix"`
}

type listBucketResult struct {
	XMLName               xml.Name    `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListBucketResult"`
	Name                  string      `xml:"Name"`
	Prefix                string      `xml:"Prefix"`
	Marker                *string     `xml:"Marker,omitempty"`
	NextMarker            string      `xml:"NextMarker,omitempty"`
	StartAfter            string      `xml:"StartAfter,omitempty"`
	ContinuationToken     string      `xml:"ContinuationToken,omitempty"`
	NextContinuationToken string      `xml:"NextContinuationToken,omitempty"`
	KeyCount              *int        `xml:"KeyCount,omitempty"`
	MaxKeys               int         `xml:"MaxKeys"`
	Delimiter             string      `xml:"Delimiter,omitempty"`
	EncodingType          string      `xml:"EncodingType,omitempty"`
	IsTruncated           bool        `xml:"IsTruncated"`
	Contents              []objectXML `xml:"Contents"`
	CommonPrefixes        []prefixXML `xml:"CommonPrefixes"`
}

// maxKeysParam reads max-keys, max-uploads or max-parts: default and cap
// maxListKeys; negative or not a number is InvalidArgument.
func maxKeysParam(v, name string) (int, error) {
	if v == "" {
		return maxListKeys, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%w: %s %q", ErrInvalidArgument, name, v)
	}
	return min(n, maxListKeys), nil
}

// encodingParam reads encoding-type: "" or "url".
func encodingParam(v string) (bool, error) {
	switch v {
	case "":
		return false, nil
	case "url":
		return true, nil
	}
	return false, fmt.Errorf("%w: encoding-type %q (only url)", ErrInvalidArgument, v)
}

// listObjects answers ListObjectsV2 (v2) and ListObjects (v1).
func (h *Handler) listObjects(q *request, v2 bool) error {
	params := q.r.URL.Query()
	prefix, delimiter := params.Get("prefix"), params.Get("delimiter")
	maxKeys, err := maxKeysParam(params.Get("max-keys"), "max-keys")
	if err != nil {
		return err
	}
	enc, err := encodingParam(params.Get("encoding-type"))
	if err != nil {
		return err
	}
	res := listBucketResult{Name: q.t.bucket, Prefix: prefix, Delimiter: delimiter, MaxKeys: maxKeys}
	after := ""
	if v2 {
		after = params.Get("start-after")
		res.StartAfter = after
		if tok := params.Get("continuation-token"); tok != "" {
			if after, err = decodeToken(tok); err != nil {
				return err
			}
			res.ContinuationToken = tok
		}
	} else {
		after = params.Get("marker")
		res.Marker = &after
	}
	ctx := q.r.Context()
	release, err := h.readGate(q)
	if err != nil {
		return err
	}
	defer release()
	page := listPage{}
	if maxKeys > 0 {
		if page, err = listBucket(ctx, q.store, q.t.bucket, prefix, delimiter, after, maxKeys); err != nil {
			return err
		}
	}
	esc := func(s string) string { return s }
	if enc {
		esc = urlEncode
		res.EncodingType = "url"
		res.Prefix, res.Delimiter, res.StartAfter = esc(res.Prefix), esc(res.Delimiter), esc(res.StartAfter)
		if res.Marker != nil {
			m := esc(*res.Marker)
			res.Marker = &m
		}
	}
	for _, info := range page.contents {
		o := objectXML{Key: esc(strings.TrimPrefix(info.Key, q.t.bucket+"/")), LastModified: s3Time(info.ModTime),
			ETag: etagOf(info), Size: info.Size, StorageClass: "STANDARD"}
		if !v2 || params.Get("fetch-owner") == "true" {
			owner := theOwner
			o.Owner = &owner
		}
		res.Contents = append(res.Contents, o)
	}
	for _, cp := range page.prefixes {
		res.CommonPrefixes = append(res.CommonPrefixes, prefixXML{Prefix: esc(cp)})
	}
	res.IsTruncated = page.truncated
	if v2 {
		n := len(page.contents) + len(page.prefixes)
		res.KeyCount = &n
		if page.truncated {
			res.NextContinuationToken = encodeToken(page.last)
		}
	} else if page.truncated {
		res.NextMarker = esc(page.last)
	}
	writeXML(q.w, http.StatusOK, res)
	return nil
}
