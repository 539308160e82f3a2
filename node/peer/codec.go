package peer

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"strata/blockstore"
	"strata/node/replication"
)

// wireInfo is blockstore.Info on the wire (JSON). ModTime travels as unix
// nanoseconds (the store's own precision), 0 for the zero time.
type wireInfo struct {
	Key         string `json:"key"`
	Size        int64  `json:"size"`
	Version     uint64 `json:"version"`
	ModTime     int64  `json:"mod_time_ns"`
	ContentType string `json:"content_type,omitempty"`
	Checksum    uint32 `json:"checksum"`
	ChunkSize   int64  `json:"chunk_size,omitempty"`
	// Meta and MD5 (hex) as in meta.go.
	Meta map[string]string `json:"meta,omitempty"`
	MD5  string            `json:"md5,omitempty"`
}

// wireEntry is blockstore.Entry on the wire.
type wireEntry struct {
	wireInfo
	Deleted bool `json:"deleted,omitempty"`
	Corrupt bool `json:"corrupt,omitempty"`
}

// entriesPage is the answer of the entries route.
type entriesPage struct {
	Entries []wireEntry `json:"entries"`
}

func toWireInfo(i blockstore.Info) wireInfo {
	w := wireInfo{Key: i.Key, Size: i.Size, Version: i.Version, ContentType: i.ContentType, Checksum: i.Checksum, ChunkSize: i.ChunkSize,
		Meta: i.Meta, MD5: md5Hex(i.MD5)}
	if len(w.Meta) == 0 {
		w.Meta = nil
	}
	if !i.ModTime.IsZero() {
		w.ModTime = i.ModTime.UnixNano()
	}
	return w
}

// check holds an Info to what a store can hold: a valid key, no negative
// sizes, a content type the store would take. Both ends check, so nothing
// is silently changed on the way (JSON would mangle invalid UTF-8).
func (w wireInfo) check() error {
	if err := blockstore.ValidateKey(w.Key); err != nil {
		return err
	}
	if w.Size < 0 || w.ChunkSize < 0 {
		return fmt.Errorf("%w: negative size", blockstore.ErrInvalidArgument)
	}
	if w.Meta != nil && len(w.Meta) == 0 {
		return fmt.Errorf("%w: empty metadata object", blockstore.ErrInvalidArgument)
	}
	if err := blockstore.ValidateMeta(w.Meta); err != nil {
		return err
	}
	if _, err := decodeMD5Hex(w.MD5); err != nil {
		return err
	}
	return blockstore.ValidateContentType(w.ContentType)
}

// info checks and converts a decoded Info.
func (w wireInfo) info() (blockstore.Info, error) {
	if err := w.check(); err != nil {
		return blockstore.Info{}, fmt.Errorf("%w: %w", ErrBadResponse, err)
	}
	md5, _ := decodeMD5Hex(w.MD5) // check passed
	i := blockstore.Info{Key: w.Key, Size: w.Size, Version: w.Version, ContentType: w.ContentType, Checksum: w.Checksum, ChunkSize: w.ChunkSize,
		Meta: blockstore.CloneMeta(w.Meta), MD5: md5}
	if w.ModTime != 0 {
		i.ModTime = time.Unix(0, w.ModTime)
	}
	return i, nil
}

func toWireEntry(e blockstore.Entry) wireEntry {
	return wireEntry{wireInfo: toWireInfo(e.Info), Deleted: e.Deleted, Corrupt: e.Corrupt}
}

func (w wireEntry) check() error {
	if err := w.wireInfo.check(); err != nil {
		return err
	}
	if w.Deleted && w.Corrupt {
		return fmt.Errorf("%w: entry %q both deleted and corrupt", blockstore.ErrInvalidArgument, w.Key)
	}
	return nil
}

func (w wireEntry) entry() (blockstore.Entry, error) {
	if err := w.check(); err != nil {
		return blockstore.Entry{}, fmt.Errorf("%w: %w", ErrBadResponse, err)
	}
	info, err := w.wireInfo.info()
	if err != nil {
		return blockstore.Entry{}, err
	}
	return blockstore.Entry{Info: info, Deleted: w.Deleted, Corrupt: w.Corrupt}, nil
}

// EncodeInfo and DecodeInfo are the JSON form of a blockstore.Info. An
// Info no store could hold (see check) is refused.
func EncodeInfo(i blockstore.Info) ([]byte, error) {
	w := toWireInfo(i)
	if err := w.check(); err != nil {
		return nil, fmt.Errorf("peer: encoding info: %w", err)
	}
	return jsonMarshal(w)
}

// DecodeInfo decodes and checks an encoded Info; errors wrap ErrBadResponse.
func DecodeInfo(b []byte) (blockstore.Info, error) {
	var w wireInfo
	if err := decodeJSON(b, &w); err != nil {
		return blockstore.Info{}, err
	}
	return w.info()
}

// EncodeEntry and DecodeEntry are the JSON form of a blockstore.Entry.
func EncodeEntry(e blockstore.Entry) ([]byte, error) {
	w := toWireEntry(e)
	if err := w.check(); err != nil {
		return nil, fmt.Errorf("peer: encoding entry: %w", err)
	}
	return jsonMarshal(w)
}

// DecodeEntry decodes and checks an encoded Entry; errors wrap ErrBadResponse.
func DecodeEntry(b []byte) (blockstore.Entry, error) {
	var w wireEntry
	if err := decodeJSON(b, &w); err != nil {
		return blockstore.Entry{}, err
	}
	return w.entry()
}

func encodeEntries(entries []blockstore.Entry) ([]byte, error) {
	page := entriesPage{Entries: make([]wireEntry, len(entries))}
	for i, e := range entries {
		page.Entries[i] = toWireEntry(e)
		if err := page.Entries[i].check(); err != nil {
			return nil, fmt.Errorf("peer: encoding entries: %w", err)
		}
	}
	return jsonMarshal(page)
}

// decodeEntries decodes a page and checks it answers the question asked:
// at most limit entries, keys strictly increasing and after startAfter.
func decodeEntries(b []byte, startAfter string, limit int) ([]blockstore.Entry, error) {
	var page entriesPage
	if err := decodeJSON(b, &page); err != nil {
		return nil, err
	}
	if len(page.Entries) > limit {
		return nil, fmt.Errorf("%w: %d entries, asked for at most %d", ErrBadResponse, len(page.Entries), limit)
	}
	out := make([]blockstore.Entry, 0, len(page.Entries))
	prev := startAfter
	for i, w := range page.Entries {
		e, err := w.entry()
		if err != nil {
			return nil, err
		}
		if (i > 0 || startAfter != "") && e.Key <= prev {
			return nil, fmt.Errorf("%w: entry %q out of order after %q", ErrBadResponse, e.Key, prev)
		}
		prev = e.Key
		out = append(out, e)
	}
	return out, nil
}

// jsonMarshal is json.Marshal plus a newline (curl-friendly answers).
func jsonMarshal(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// decodeJSON decodes exactly one JSON value.
func decodeJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %w", ErrBadResponse, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: trailing data after the JSON value", ErrBadResponse)
	}
	return nil
}

// Digest wire form, binary (1024 buckets are 8 KiB instead of ~20 KiB of
// JSON, and it is fetched every anti-entropy round):
//
//	magic "SDG1" | view uint64 | count uint32 | count × bucket uint64
//
// all big-endian.
const digestMagic = "SDG1"

// maxDigestBuckets bounds what a decoder accepts (D's digests have 1024).
const maxDigestBuckets = 1 << 16

// EncodeDigest is the binary form of a Digest.
func EncodeDigest(d replication.Digest) ([]byte, error) {
	if len(d.Buckets) > maxDigestBuckets {
		return nil, fmt.Errorf("%w: digest of %d buckets, limit %d", blockstore.ErrInvalidArgument, len(d.Buckets), maxDigestBuckets)
	}
	b := make([]byte, 0, len(digestMagic)+12+8*len(d.Buckets))
	b = append(b, digestMagic...)
	b = binary.BigEndian.AppendUint64(b, d.View)
	b = binary.BigEndian.AppendUint32(b, uint32(len(d.Buckets)))
	for _, v := range d.Buckets {
		b = binary.BigEndian.AppendUint64(b, v)
	}
	return b, nil
}

// DecodeDigest decodes EncodeDigest's form, refusing any other length;
// errors wrap ErrBadResponse.
func DecodeDigest(b []byte) (replication.Digest, error) {
	const head = len(digestMagic) + 12
	if len(b) < head || string(b[:len(digestMagic)]) != digestMagic {
		return replication.Digest{}, fmt.Errorf("%w: not a digest", ErrBadResponse)
	}
	view := binary.BigEndian.Uint64(b[4:])
	count := binary.BigEndian.Uint32(b[12:])
	if count > maxDigestBuckets || len(b) != head+8*int(count) {
		return replication.Digest{}, fmt.Errorf("%w: digest of %d buckets in %d bytes", ErrBadResponse, count, len(b))
	}
	d := replication.Digest{View: view, Buckets: make([]uint64, count)}
	for i := range d.Buckets {
		d.Buckets[i] = binary.BigEndian.Uint64(b[head+8*i:])
	}
	return d, nil
}

// Response headers of a blob read: the metadata of the version served.
const (
	headerVersion     = "X-Strata-Version"
	headerBlobSize    = "X-Strata-Blob-Size" // whole blob, whatever range is sent
	headerChecksum    = "X-Strata-Checksum"  // CRC32C of the whole content, 8 hex digits
	headerModTime     = "X-Strata-Mod-Time"  // unix ns, 0 for none
	headerChunkSize   = "X-Strata-Chunk-Size"
	headerContentType = "X-Strata-Content-Type" // exact, "" included (Content-Type would be sniffed)
)

// setInfoHeaders writes i's metadata (not its key: the path names it).
func setInfoHeaders(h http.Header, i blockstore.Info) {
	w := toWireInfo(i)
	h.Set(headerVersion, strconv.FormatUint(w.Version, 10))
	h.Set(headerBlobSize, strconv.FormatInt(w.Size, 10))
	h.Set(headerChecksum, fmt.Sprintf("%08x", w.Checksum))
	h.Set(headerModTime, strconv.FormatInt(w.ModTime, 10))
	h.Set(headerChunkSize, strconv.FormatInt(w.ChunkSize, 10))
	h[headerContentType] = []string{w.ContentType}
	h.Del(headerMeta)
	h.Del(headerMD5)
	// A stored Info's metadata passed ValidateMeta: this cannot fail.
	_ = setMetaHeaders(h, i)
}

// infoFromHeaders reads setInfoHeaders' headers back for key; errors wrap
// ErrBadResponse.
func infoFromHeaders(key string, h http.Header) (blockstore.Info, error) {
	w := wireInfo{Key: key}
	var err error
	one := func(name string) string {
		v := h.Values(name)
		if len(v) != 1 && err == nil {
			err = fmt.Errorf("%w: want one %s header, got %d", ErrBadResponse, name, len(v))
		}
		if len(v) == 0 {
			return ""
		}
		return v[0]
	}
	number := func(name string, bits int, signed bool) (u uint64, s int64) {
		text := one(name)
		if err != nil {
			return 0, 0
		}
		var perr error
		if signed {
			s, perr = strconv.ParseInt(text, 10, bits)
		} else {
			u, perr = strconv.ParseUint(text, 10, bits)
		}
		if perr != nil {
			err = fmt.Errorf("%w: %s: %w", ErrBadResponse, name, perr)
		}
		return u, s
	}
	w.Version, _ = number(headerVersion, 64, false)
	_, w.Size = number(headerBlobSize, 64, true)
	_, w.ModTime = number(headerModTime, 64, true)
	_, w.ChunkSize = number(headerChunkSize, 64, true)
	if sum := one(headerChecksum); err == nil {
		v, perr := strconv.ParseUint(sum, 16, 32)
		if perr != nil || len(sum) != 8 {
			err = fmt.Errorf("%w: %s %q", ErrBadResponse, headerChecksum, sum)
		}
		w.Checksum = uint32(v)
	}
	w.ContentType = one(headerContentType)
	if err != nil {
		return blockstore.Info{}, err
	}
	meta, md5, err := metaFromHeaders(h)
	if err != nil {
		return blockstore.Info{}, err
	}
	w.Meta, w.MD5 = meta, md5Hex(md5)
	return w.info()
}
