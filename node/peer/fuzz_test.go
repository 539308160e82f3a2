package peer

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"testing"
	"time"

	"strata/blockstore"
	"strata/node/replication"
)

// FuzzParseAuthHeaders: any header values parse or are refused with
// ErrUnauthenticated, never a panic; what parses formats back to the same
// values; and a request with those headers verifies only when its
// signature is the right one.
func FuzzParseAuthHeaders(f *testing.F) {
	f.Add("n1", "1700000000000", "none", "", false, "00")
	f.Add("n1", "1700000000000", "mac", "-1", true, hex.EncodeToString(make([]byte, 32)))
	f.Add("n\x00", "01", "mac", "5", true, "zz")
	f.Add("é", "9223372036854775807", "mac", "9223372036854775808", true, "")
	key := newAuthKey([]byte("fuzz secret"))
	f.Fuzz(func(t *testing.T, node, date, body, size string, withSize bool, auth string) {
		h := http.Header{}
		h.Set(headerNode, node)
		h.Set(headerDate, date)
		h.Set(headerBody, body)
		if withSize {
			h.Set(headerSize, size)
		}
		h.Set(headerAuth, auth)
		a, err := parseAuthHeaders(h)
		if err != nil {
			if !errors.Is(err, ErrUnauthenticated) {
				t.Fatalf("refusal %v does not wrap ErrUnauthenticated", err)
			}
			return
		}
		if a.node != node || strconv.FormatInt(a.date, 10) != date || a.body != body || hex.EncodeToString(a.signature) != auth {
			t.Fatalf("parsed %+v from node %q date %q body %q auth %q", a, node, date, body, auth)
		}
		if a.body == bodyMAC && strconv.FormatInt(a.size, 10) != size {
			t.Fatalf("size %q parsed as %d", size, a.size)
		}
		r := httptest.NewRequest(http.MethodGet, "/internal/v1/meta/k", nil)
		r.Header = h
		now := time.UnixMilli(a.date)
		want := key.sign(signedRequest{method: r.Method, path: "/internal/v1/meta/k", date: a.date, node: a.node, size: a.size, body: a.body})
		if _, err := key.verify(r, now); (err == nil) != (bytes.Equal(want, a.signature) && a.body == bodyNone) {
			t.Fatalf("verify = %v for signature %x (right one %x)", err, a.signature, want)
		}
	})
}

func entriesEqual(a, b blockstore.Entry) bool {
	return a.Key == b.Key && a.Size == b.Size && a.Version == b.Version && a.ModTime.Equal(b.ModTime) &&
		a.ContentType == b.ContentType && a.Checksum == b.Checksum && a.ChunkSize == b.ChunkSize &&
		a.Deleted == b.Deleted && a.Corrupt == b.Corrupt
}

// FuzzEntryRoundTrip: a valid Entry survives its JSON encoding and the
// blob-read headers (Info part) exactly.
func FuzzEntryRoundTrip(f *testing.F) {
	f.Add("k", int64(5), uint64(1)<<40, int64(1700000000000000000), "text/plain", uint32(7), int64(8<<20), false, false)
	f.Add("a/b é", int64(0), uint64(0), int64(0), "", uint32(0), int64(0), true, false)
	f.Add("x", int64(-1), uint64(1), int64(-5), "\x01", uint32(1), int64(-1), true, true)
	f.Fuzz(func(t *testing.T, key string, size int64, version uint64, modNS int64, ctype string, sum uint32, chunk int64, deleted, corrupt bool) {
		e := blockstore.Entry{Info: blockstore.Info{Key: key, Size: size, Version: version, ContentType: ctype, Checksum: sum, ChunkSize: chunk}, Deleted: deleted, Corrupt: corrupt}
		if modNS != 0 {
			e.ModTime = time.Unix(0, modNS)
		}
		valid := blockstore.ValidateKey(key) == nil && size >= 0 && chunk >= 0 && blockstore.ValidateContentType(ctype) == nil && !(deleted && corrupt)
		b, err := EncodeEntry(e)
		if (err == nil) != valid {
			t.Fatalf("EncodeEntry(%+v) = %v; valid %v", e, err, valid)
		}
		if !valid {
			return
		}
		got, err := DecodeEntry(b)
		if err != nil {
			t.Fatalf("DecodeEntry(%s): %v", b, err)
		}
		if !entriesEqual(got, e) {
			t.Fatalf("round trip: %+v -> %s -> %+v", e, b, got)
		}
		h := http.Header{}
		setInfoHeaders(h, e.Info)
		info, err := infoFromHeaders(key, h)
		if err != nil || !entriesEqual(blockstore.Entry{Info: info}, blockstore.Entry{Info: e.Info}) {
			t.Fatalf("headers round trip: %+v -> %v -> %+v, %v", e.Info, h, info, err)
		}
	})
}

// FuzzDecodeEntry: arbitrary bytes decode or fail with ErrBadResponse;
// what decodes re-encodes to an equal Entry.
func FuzzDecodeEntry(f *testing.F) {
	f.Add([]byte(`{"key":"k","size":3,"version":7,"mod_time_ns":1,"checksum":5}`))
	f.Add([]byte(`{"key":"k","version":7,"mod_time_ns":0,"deleted":true} {}`))
	f.Add([]byte(`{"key":"","size":-1}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := DecodeEntry(data)
		if err != nil {
			if !errors.Is(err, ErrBadResponse) {
				t.Fatalf("refusal %v does not wrap ErrBadResponse", err)
			}
			return
		}
		b, err := EncodeEntry(e)
		if err != nil {
			t.Fatal(err)
		}
		again, err := DecodeEntry(b)
		if err != nil || !entriesEqual(again, e) {
			t.Fatalf("%s -> %+v -> %s -> %+v, %v", data, e, b, again, err)
		}
		if _, err := DecodeInfo(data); err != nil {
			t.Fatalf("an Entry's bytes are not an Info: %v", err)
		}
	})
}

// FuzzDecodeEntries: a page decodes only when it answers the question.
func FuzzDecodeEntries(f *testing.F) {
	f.Add([]byte(`{"entries":[{"key":"a","version":1},{"key":"b","version":2,"deleted":true}]}`), "", 2)
	f.Add([]byte(`{"entries":[{"key":"b"},{"key":"a"}]}`), "", 5)
	f.Add([]byte(`{"entries":[{"key":"a"}]}`), "a", 5)
	f.Fuzz(func(t *testing.T, data []byte, after string, limit int) {
		got, err := decodeEntries(data, after, limit)
		if err != nil {
			if !errors.Is(err, ErrBadResponse) {
				t.Fatalf("refusal %v does not wrap ErrBadResponse", err)
			}
			return
		}
		if len(got) > limit {
			t.Fatalf("%d entries past limit %d", len(got), limit)
		}
		for i, e := range got {
			if (i > 0 && e.Key <= got[i-1].Key) || (after != "" && e.Key <= after) {
				t.Fatalf("entries out of order: %+v after %q", got, after)
			}
		}
	})
}

// FuzzDecodeDigest: only the exact encoding decodes, and it re-encodes to
// the same bytes.
func FuzzDecodeDigest(f *testing.F) {
	b, _ := EncodeDigest(replication.Digest{View: 9, Buckets: []uint64{1, 2, 3}})
	f.Add(b)
	f.Add([]byte("SDG1"))
	f.Add(append([]byte("SDG1\x00\x00\x00\x00\x00\x00\x00\x01\xff\xff\xff\xff"), 1))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := DecodeDigest(data)
		if err != nil {
			if !errors.Is(err, ErrBadResponse) {
				t.Fatalf("refusal %v does not wrap ErrBadResponse", err)
			}
			return
		}
		again, err := EncodeDigest(d)
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("%x -> %+v -> %x, %v", data, d, again, err)
		}
	})
}

// FuzzInfoFromHeaders: arbitrary header values never panic; what parses
// writes back the same headers.
func FuzzInfoFromHeaders(f *testing.F) {
	f.Add("7", "5", "0000000a", "1", "8388608", "text/plain")
	f.Add("-1", "x", "zz", "", "1", "\x7f")
	f.Fuzz(func(t *testing.T, version, size, sum, mod, chunk, ctype string) {
		h := http.Header{}
		for name, v := range map[string]string{headerVersion: version, headerBlobSize: size, headerChecksum: sum, headerModTime: mod, headerChunkSize: chunk, headerContentType: ctype} {
			h[name] = []string{v}
		}
		info, err := infoFromHeaders("k", h)
		if err != nil {
			if !errors.Is(err, ErrBadResponse) {
				t.Fatalf("refusal %v does not wrap ErrBadResponse", err)
			}
			return
		}
		again := http.Header{}
		setInfoHeaders(again, info)
		back, err := infoFromHeaders("k", again)
		if err != nil || !entriesEqual(blockstore.Entry{Info: back}, blockstore.Entry{Info: info}) {
			t.Fatalf("%v -> %+v -> %v -> %+v, %v", h, info, again, back, err)
		}
	})
}

// FuzzParseRange: a parsed range always lies within the blob.
func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"", "bytes=0-", "bytes=5-9", "bytes=9-5", "bytes=-5", "bytes=0-99999999999999999999", "items=1-2"} {
		f.Add(s, int64(10))
	}
	f.Fuzz(func(t *testing.T, h string, size int64) {
		if size < 0 {
			return // sizes come from Info, never negative
		}
		first, n, _, err := parseRange(h, size)
		if err != nil {
			if !errors.Is(err, ErrBadRequest) && !errors.Is(err, errRange) {
				t.Fatalf("refusal %v is neither bad request nor unsatisfiable", err)
			}
			return
		}
		if first < 0 || n < 0 || first > size || n > size-first {
			t.Fatalf("parseRange(%q, %d) = [%d, +%d)", h, size, first, n)
		}
	})
}

// FuzzParseRoute: keys survive the Client's escaping and the handler's
// unescaping exactly once.
func FuzzParseRoute(f *testing.F) {
	for _, s := range []string{"/internal/v1/blobs/a%2Fb", "/internal/v1/meta/%zz", "/internal/v1/digest", "/internal/v1/blobs/", "/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, escaped string) {
		route, key, err := parseRoute(escaped)
		if err != nil || key == "" {
			return
		}
		prefix := map[string]string{routeBlobs: prefixBlobs, routeMeta: prefixMeta}[route]
		_, raw := keyURL(prefix, key)
		r2, k2, err := parseRoute(raw)
		if err != nil || r2 != route || k2 != key {
			t.Fatalf("%q -> %s %q -> %q -> %s %q, %v", escaped, route, key, raw, r2, k2, err)
		}
	})
}

// FuzzQueryBuckets: bucket lists parse strictly and format back.
func FuzzQueryBuckets(f *testing.F) {
	for _, s := range []string{"buckets=1,5,9", "buckets=", "buckets=-1", "buckets=1&buckets=2", "buckets=65536", "x=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q := parseQuery(raw, "buckets")
		got := q.buckets("buckets")
		if q.err != nil {
			if !errors.Is(q.err, ErrBadRequest) {
				t.Fatalf("refusal %v is not a bad request", q.err)
			}
			return
		}
		if len(got) == 0 {
			return
		}
		q2 := parseQuery("buckets="+formatBuckets(got), "buckets")
		if again := q2.buckets("buckets"); q2.err != nil || !slices.Equal(again, got) {
			t.Fatalf("%q -> %v -> %v, %v", raw, got, again, q2.err)
		}
	})
}

// Every wire error's code maps back to its own sentinel, codes are unique,
// and the status a sentinel gets is the one in the table.
func TestWireErrorsRoundTrip(t *testing.T) {
	codes := map[string]bool{}
	for _, we := range wireErrors {
		if codes[we.code] {
			t.Errorf("code %q twice", we.code)
		}
		codes[we.code] = true
		got := errorFor(fmt.Errorf("wrapped: %w", we.err))
		if got.code != we.code || got.status != we.status {
			t.Errorf("errorFor(%v) = %d %q; want %d %q (an earlier entry catches it)", we.err, got.status, got.code, we.status, we.code)
		}
		if back := sentinelFor(we.code); back != we.err {
			t.Errorf("sentinelFor(%q) = %v; want %v", we.code, back, we.err)
		}
	}
	if got := errorFor(ErrBodyMAC); got.status != http.StatusUnauthorized {
		t.Errorf("ErrBodyMAC answers %d; want 401", got.status)
	}
	if got := errorFor(errors.New("unknown")); got.status != http.StatusInternalServerError || got.code != "internal" {
		t.Errorf("an unknown error answers %d %q", got.status, got.code)
	}
	if sentinelFor("no such code") != ErrPeerFailed {
		t.Errorf("an unknown code is not ErrPeerFailed")
	}
}

// FuzzMetaHeaders: the metadata headers of a read answer decode only to
// what a store would hold, and re-encode to the same values.
func FuzzMetaHeaders(f *testing.F) {
	f.Add("eyJYLUFtei1NZXRhLUEiOiJiIn0=", "0123456789abcdef0123456789abcdef")
	f.Add("", "")
	f.Add("e30=", "zz")
	f.Fuzz(func(t *testing.T, meta, md5 string) {
		h := http.Header{}
		if meta != "" {
			h.Set(headerMeta, meta)
		}
		if md5 != "" {
			h.Set(headerMD5, md5)
		}
		m, sum, err := metaFromHeaders(h)
		if err != nil {
			if !errors.Is(err, ErrBadResponse) {
				t.Fatalf("refusal %v does not wrap ErrBadResponse", err)
			}
			return
		}
		if blockstore.ValidateMeta(m) != nil || (sum != nil && len(sum) != 16) {
			t.Fatalf("accepted %v %x", m, sum)
		}
		again := http.Header{}
		if err := setMetaHeaders(again, blockstore.Info{Meta: m, MD5: sum}); err != nil {
			t.Fatal(err)
		}
		m2, sum2, err := metaFromHeaders(again)
		if err != nil || !maps.Equal(m, m2) || !bytes.Equal(sum, sum2) {
			t.Fatalf("round trip %v %x -> %v %x, %v", m, sum, m2, sum2, err)
		}
	})
}

func FuzzDecodeComposeRequest(f *testing.F) {
	f.Add("obj", []byte(`{"parts":["p1","p2"],"content_type":"a/b","meta":{"X-M":"1"}}`))
	f.Add("obj", []byte(`{"parts":[]}`))
	f.Add("obj", []byte(`{"parts":["obj"]}`))
	f.Add("obj", []byte(`{"parts":["p"],"extra":1}`))
	f.Add("obj", []byte(`{"parts":["p"]} {}`))
	f.Fuzz(func(t *testing.T, key string, data []byte) {
		req, err := decodeComposeRequest(key, data)
		if err != nil {
			if !errors.Is(err, ErrBadRequest) {
				t.Fatalf("refusal %v does not wrap ErrBadRequest", err)
			}
			return
		}
		if err := blockstore.ValidateCompose(key, req.Parts, blockstore.ComposeOptions{ContentType: req.ContentType, Meta: req.Meta}); err != nil {
			t.Fatalf("accepted %q for %q: %v", data, key, err)
		}
	})
}
