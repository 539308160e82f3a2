package s3

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"strata/blockstore"
	"strata/node"
	"strata/node/placement"
)

// Multipart uploads live under uploadsPrefix: the upload's record at
// uploadsPrefix+id (uploadRecord as JSON) and each part as its own blob at
// placement.Colocate(object's blob key, uploadsPrefix+id+"/"+5-digit part
// number), so parts sort in order, live on the object's homes in a cluster,
// and CompleteMultipartUpload composes them (node.Composer) without copying a
// byte. Uploads created before co-location (record without "colocated") keep
// their parts at uploadsPrefix+id+"/"+number.
const uploadsPrefix = node.ReservedPrefix + "uploads/"

// uploadIDLen is the hex length of an upload id (16 random bytes).
const uploadIDLen = 32

type uploadRecord struct {
	Bucket      string            `json:"bucket"`
	Key         string            `json:"key"`
	ContentType string            `json:"content_type,omitempty"`
	Meta        map[string]string `json:"meta,omitempty"`
	Initiated   time.Time         `json:"initiated"`
	Owner       string            `json:"owner"`
	// Colocated: the parts are co-located with the object (see uploadsPrefix).
	Colocated bool `json:"colocated,omitempty"`
}

func uploadKey(id string) string { return uploadsPrefix + id }

// partPrefix is the prefix of the upload's part keys.
func partPrefix(rec uploadRecord, id string) string {
	rest := uploadsPrefix + id + "/"
	if !rec.Colocated {
		return rest
	}
	return placement.Colocate(blobKey(rec.Bucket, rec.Key), rest)
}

func partKey(rec uploadRecord, id string, number int) string {
	return fmt.Sprintf("%s%05d", partPrefix(rec, id), number)
}

// validUploadID reports whether id could have been made by newUploadID.
func validUploadID(id string) bool {
	if len(id) != uploadIDLen {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil && strings.ToLower(id) == id
}

func newUploadID() string {
	var b [uploadIDLen / 2]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// loadUpload reads the upload's record; ErrNoSuchUpload when there is none
// or it belongs to another object.
func (h *Handler) loadUpload(ctx context.Context, store node.Store, id string, t target) (uploadRecord, error) {
	rec, err := h.readUploadRecord(ctx, store, id)
	if err != nil {
		return uploadRecord{}, err
	}
	if rec.Bucket != t.bucket || rec.Key != t.key {
		return uploadRecord{}, fmt.Errorf("%w: the upload is for another object", ErrNoSuchUpload)
	}
	return rec, nil
}

// readUploadRecord reads the upload's record; ErrNoSuchUpload when there is none.
func (h *Handler) readUploadRecord(ctx context.Context, store node.Store, id string) (uploadRecord, error) {
	if !validUploadID(id) {
		return uploadRecord{}, fmt.Errorf("%w: malformed upload id", ErrNoSuchUpload)
	}
	obj, err := store.Open(ctx, uploadKey(id))
	if isNotFound(err) {
		return uploadRecord{}, ErrNoSuchUpload
	}
	if err != nil {
		return uploadRecord{}, err
	}
	defer obj.Close()
	raw, err := io.ReadAll(io.LimitReader(obj, 64<<10))
	if err != nil {
		return uploadRecord{}, err
	}
	var rec uploadRecord
	if err := json.Unmarshal(raw, &rec); err != nil {
		return uploadRecord{}, fmt.Errorf("s3: upload record %s: %w", id, blockstore.ErrCorrupt)
	}
	return rec, nil
}

type initiateResult struct {
	XMLName  xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ InitiateMultipartUploadResult"`
	Bucket   string   `xml:"Bucket"`
	Key      string   `xml:"Key"`
	UploadID string   `xml:"UploadId"`
}

func (h *Handler) createMultipart(q *request) error {
	meta, contentType, err := metaFromHeaders(q.r.Header)
	if err != nil {
		return err
	}
	if err := h.needBucket(q); err != nil {
		return err
	}
	ctx := q.r.Context()
	release, err := h.opt.Node.Admit(ctx, true)
	if err != nil {
		return err
	}
	defer release()
	id := newUploadID()
	rec, _ := json.Marshal(uploadRecord{Bucket: q.t.bucket, Key: q.t.key, ContentType: contentType, Meta: meta,
		Initiated: h.opt.Now().UTC(), Owner: q.auth.Key.AccessKey, Colocated: true})
	if _, err := q.store.Put(ctx, uploadKey(id), bytes.NewReader(rec), int64(len(rec)), blockstore.PutOptions{ContentType: "application/json"}); err != nil {
		return err
	}
	writeXML(q.w, http.StatusOK, initiateResult{Bucket: q.t.bucket, Key: q.t.key, UploadID: id})
	return nil
}

// partNumberParam reads partNumber: 1 to MaxParts.
func partNumberParam(v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > MaxParts {
		return 0, fmt.Errorf("%w: partNumber %q: want 1 to %d", ErrInvalidArgument, v, MaxParts)
	}
	return n, nil
}

type copyPartResult struct {
	XMLName      xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ CopyPartResult"`
	LastModified string   `xml:"LastModified"`
	ETag         string   `xml:"ETag"`
}

// uploadPart answers UploadPart (the body) and UploadPartCopy (a range of
// another object, read inside the node). The part's ETag is its MD5.
func (h *Handler) uploadPart(q *request) error {
	params := q.r.URL.Query()
	number, err := partNumberParam(params.Get("partNumber"))
	if err != nil {
		return err
	}
	id := params.Get("uploadId")
	ctx := q.r.Context()
	if err := h.needBucket(q); err != nil {
		return err
	}
	rec, err := h.loadUpload(ctx, q.store, id, q.t)
	if err != nil {
		return err
	}
	key := partKey(rec, id, number)
	if q.op == opUploadPart {
		if objectSize(q) > h.opt.MaxObjectSize {
			return fmt.Errorf("%w: part of %d bytes", ErrEntityTooLarge, objectSize(q))
		}
		done, err := h.writeGate(ctx, key)
		if err != nil {
			return err
		}
		defer done()
		info, err := h.storeBody(q, key, blockstore.PutOptions{}, true)
		if err != nil {
			return err
		}
		q.w.Header().Set("ETag", etagOf(info))
		q.w.WriteHeader(http.StatusOK)
		return nil
	}
	done, err := h.writeGate(ctx, key)
	if err != nil {
		return err
	}
	defer done()
	obj, _, err := h.openCopySource(q)
	if err != nil {
		return err
	}
	defer obj.Close()
	size := obj.Info().Size
	off, n := int64(0), size
	if v := q.r.Header.Get("X-Amz-Copy-Source-Range"); v != "" {
		ranges, ok, err := node.ParseRange([]string{v}, size)
		if err != nil || !ok || len(ranges) != 1 || strings.Contains(v, ",") || strings.HasPrefix(strings.TrimPrefix(v, "bytes="), "-") {
			return fmt.Errorf("%w: x-amz-copy-source-range %q: want bytes=first-last within the %d-byte source", ErrInvalidRange, v, size)
		}
		off, n = ranges[0].First, ranges[0].Last-ranges[0].First+1
	}
	if n > h.opt.MaxObjectSize {
		return fmt.Errorf("%w: part of %d bytes", ErrEntityTooLarge, n)
	}
	src, err := contentReader(obj, off, n)
	if err != nil {
		return err
	}
	info, err := q.store.Put(ctx, key, src, n, blockstore.PutOptions{WantMD5: true})
	if err != nil {
		return err
	}
	writeXML(q.w, http.StatusOK, copyPartResult{LastModified: s3Time(info.ModTime), ETag: etagOf(info)})
	return nil
}

// completeRequest is CompleteMultipartUpload's body.
type completeRequest struct {
	XMLName xml.Name       `xml:"CompleteMultipartUpload"`
	Parts   []completePart `xml:"Part"`
}

type completePart struct {
	PartNumber int    `xml:"PartNumber"`
	ETag       string `xml:"ETag"`
}

// parseCompleteRequest decodes the part list: 1 to MaxParts parts, numbers
// in 1..MaxParts and strictly ascending (InvalidPartOrder otherwise).
func parseCompleteRequest(raw []byte) (completeRequest, error) {
	var req completeRequest
	if err := xml.Unmarshal(raw, &req); err != nil {
		return completeRequest{}, fmt.Errorf("%w: %v", ErrMalformedXML, err)
	}
	if len(req.Parts) == 0 || len(req.Parts) > MaxParts {
		return completeRequest{}, fmt.Errorf("%w: %d parts (want 1 to %d)", ErrMalformedXML, len(req.Parts), MaxParts)
	}
	prev := 0
	for _, p := range req.Parts {
		if p.PartNumber < 1 || p.PartNumber > MaxParts {
			return completeRequest{}, fmt.Errorf("%w: part number %d", ErrInvalidPart, p.PartNumber)
		}
		if p.PartNumber <= prev {
			return completeRequest{}, ErrInvalidPartOrder
		}
		prev = p.PartNumber
	}
	return req, nil
}

// normalETag strips quotes and case from an ETag a client sent back.
func normalETag(e string) string {
	e = strings.TrimSpace(e)
	e = strings.TrimPrefix(strings.TrimSuffix(e, `"`), `"`)
	e = strings.ReplaceAll(e, "&quot;", "")
	return strings.ToLower(e)
}

type completeResult struct {
	XMLName  xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ CompleteMultipartUploadResult"`
	Location string   `xml:"Location"`
	Bucket   string   `xml:"Bucket"`
	Key      string   `xml:"Key"`
	ETag     string   `xml:"ETag"`
}

// completeMultipart checks the listed parts (present, ETags matching, all
// but the last at least MinPartSize), composes them into the object in one
// durable step that copies no byte, then drops the upload and any part not
// listed. The ETag is S3's: hex(md5(part md5s...))-N.
func (h *Handler) completeMultipart(q *request) error {
	raw, err := h.readXMLBody(q)
	if err != nil {
		return err
	}
	req, err := parseCompleteRequest(raw)
	if err != nil {
		return err
	}
	composer, ok := q.store.(node.Composer)
	if !ok {
		return fmt.Errorf("%w: the store cannot compose blobs", ErrNotImplemented)
	}
	id := q.r.URL.Query().Get("uploadId")
	ctx := q.r.Context()
	dst := blobKey(q.t.bucket, q.t.key)
	done, err := h.objectWriteGate(q, dst)
	if err != nil {
		return err
	}
	defer done()
	unlock, err := h.opt.Node.LockKey(ctx, uploadKey(id))
	if err != nil {
		return err
	}
	defer unlock()
	rec, err := h.loadUpload(ctx, q.store, id, q.t)
	if err != nil {
		return err
	}
	keys := make([]string, len(req.Parts))
	for i, p := range req.Parts {
		keys[i] = partKey(rec, id, p.PartNumber)
	}
	versions := make([]uint64, len(req.Parts))
	sum := md5.New()
	for i, p := range req.Parts {
		info, err := q.store.Stat(ctx, keys[i])
		if isNotFound(err) {
			if info, ok, err := h.resumeComplete(ctx, q, composer, dst, keys, rec, req); err != nil || ok {
				if err != nil {
					return err
				}
				return h.completed(ctx, q, id, rec, info)
			}
			return fmt.Errorf("%w: part %d was not uploaded", ErrInvalidPart, p.PartNumber)
		}
		if err != nil {
			return err
		}
		if len(info.MD5) == 0 || normalETag(p.ETag) != hex.EncodeToString(info.MD5) {
			return fmt.Errorf("%w: part %d has another ETag", ErrInvalidPart, p.PartNumber)
		}
		if i < len(req.Parts)-1 && info.Size < h.opt.MinPartSize {
			return fmt.Errorf("%w: part %d has %d bytes, minimum %d", ErrEntityTooSmall, p.PartNumber, info.Size, h.opt.MinPartSize)
		}
		sum.Write(info.MD5)
		versions[i] = info.Version
	}
	etag := fmt.Sprintf("%s-%d", hex.EncodeToString(sum.Sum(nil)), len(req.Parts))
	meta := make(map[string]string, len(rec.Meta)+1)
	for k, v := range rec.Meta {
		meta[k] = v
	}
	meta[metaETag] = etag
	// The versions pin the parts whose MD5s made the ETag: a part uploaded
	// again meanwhile fails the Complete (InvalidPart) instead of an object
	// whose bytes and ETag disagree.
	info, err := composer.Compose(ctx, dst, keys, blockstore.ComposeOptions{ContentType: rec.ContentType, Meta: meta, PartVersions: versions})
	if isNotFound(err) {
		return fmt.Errorf("%w: a part changed while the upload completed: %v", ErrInvalidPart, err)
	}
	if err != nil {
		return err
	}
	return h.completed(ctx, q, id, rec, info)
}

// completed answers a Complete whose object is durable: what is left of
// the upload goes (a failure here leaves garbage the expiry sweep removes,
// never a wrong object), and the answer names the object's ETag.
func (h *Handler) completed(ctx context.Context, q *request, id string, rec uploadRecord, info blockstore.Info) error {
	if err := h.confirmBucket(q, blobKey(q.t.bucket, q.t.key), info); err != nil {
		return err // the upload's records stay for the expiry sweep
	}
	if err := h.dropUpload(ctx, q.store, id, rec); err != nil {
		h.log.Warn("s3 completed upload not cleaned up; the expiry sweep will", "upload", id, "err", err)
	}
	writeXML(q.w, http.StatusOK, completeResult{Location: "/" + q.t.bucket + "/" + q.t.key, Bucket: q.t.bucket, Key: q.t.key, ETag: etagOf(info)})
	return nil
}

// resumeComplete finishes a Complete an earlier attempt started: that
// attempt composed the object on some homes but fewer than W (a cluster's
// 503), which consumed the parts there, so a part now reads as missing.
// When the object exists with the multipart ETag the listed parts' ETags
// make, the compose is run again at the object's version: homes that
// composed answer from the blob, the others compose the parts they still
// hold (node/cluster Compose, consumedPart). ok false: no earlier attempt
// of this part list; the caller answers InvalidPart.
func (h *Handler) resumeComplete(ctx context.Context, q *request, composer node.Composer, dst string, keys []string, rec uploadRecord, req completeRequest) (info blockstore.Info, ok bool, err error) {
	sum := md5.New()
	for _, p := range req.Parts {
		raw, err := hex.DecodeString(normalETag(p.ETag))
		if err != nil || len(raw) != md5.Size {
			return blockstore.Info{}, false, nil
		}
		sum.Write(raw)
	}
	etag := fmt.Sprintf("%s-%d", hex.EncodeToString(sum.Sum(nil)), len(req.Parts))
	cur, err := q.store.Stat(ctx, dst)
	if isNotFound(err) || (err == nil && cur.Meta[metaETag] != etag) {
		return blockstore.Info{}, false, nil
	}
	if err != nil {
		return blockstore.Info{}, false, err
	}
	// The parts still live must be the ones the ETag names: a part uploaded
	// again since the first attempt (other bytes) would otherwise be
	// composed on the homes the first attempt missed, at the version the
	// others hold with the old bytes.
	for i, p := range req.Parts {
		pi, err := q.store.Stat(ctx, keys[i])
		if isNotFound(err) {
			continue // consumed by the first attempt
		}
		if err != nil {
			return blockstore.Info{}, false, err
		}
		if len(pi.MD5) == 0 || normalETag(p.ETag) != hex.EncodeToString(pi.MD5) {
			return blockstore.Info{}, false, fmt.Errorf("%w: part %d has another ETag", ErrInvalidPart, p.PartNumber)
		}
	}
	info, err = composer.Compose(ctx, dst, keys, blockstore.ComposeOptions{ContentType: rec.ContentType, Meta: cur.Meta, Version: cur.Version})
	if isNotFound(err) {
		return blockstore.Info{}, false, nil
	}
	if err != nil {
		return blockstore.Info{}, false, err
	}
	return info, true, nil
}

// dropUpload deletes the upload's remaining parts, then its record.
func (h *Handler) dropUpload(ctx context.Context, store node.Store, id string, rec uploadRecord) error {
	for {
		parts, err := store.List(ctx, partPrefix(rec, id), "", maxListKeys)
		if err != nil {
			return err
		}
		for _, p := range parts {
			if err := store.Delete(ctx, p.Key, blockstore.DeleteOptions{}); err != nil && !isNotFound(err) {
				return err
			}
		}
		if len(parts) < maxListKeys {
			break
		}
	}
	if err := store.Delete(ctx, uploadKey(id), blockstore.DeleteOptions{}); err != nil && !isNotFound(err) {
		return err
	}
	return nil
}

func (h *Handler) abortMultipart(q *request) error {
	id := q.r.URL.Query().Get("uploadId")
	ctx := q.r.Context()
	if err := h.needBucket(q); err != nil {
		return err
	}
	done, err := h.writeGate(ctx, uploadKey(id))
	if err != nil {
		return err
	}
	defer done()
	rec, err := h.loadUpload(ctx, q.store, id, q.t)
	if err != nil {
		return err
	}
	if err := h.dropUpload(ctx, q.store, id, rec); err != nil {
		return err
	}
	q.w.WriteHeader(http.StatusNoContent)
	return nil
}

type partXML struct {
	PartNumber   int    `xml:"PartNumber"`
	LastModified string `xml:"LastModified"`
	ETag         string `xml:"ETag"`
	Size         int64  `xml:"Size"`
}

type listPartsResult struct {
	XMLName              xml.Name  `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListPartsResult"`
	Bucket               string    `xml:"Bucket"`
	Key                  string    `xml:"Key"`
	UploadID             string    `xml:"UploadId"`
	Initiator            ownerXML  `xml:"Initiator"`
	Owner                ownerXML  `xml:"Owner"`
	StorageClass         string    `xml:"StorageClass"`
	PartNumberMarker     int       `xml:"PartNumberMarker"`
	NextPartNumberMarker int       `xml:"NextPartNumberMarker"`
	MaxParts             int       `xml:"MaxParts"`
	IsTruncated          bool      `xml:"IsTruncated"`
	Parts                []partXML `xml:"Part"`
}

func (h *Handler) listParts(q *request) error {
	params := q.r.URL.Query()
	id := params.Get("uploadId")
	maxParts, err := maxKeysParam(params.Get("max-parts"), "max-parts")
	if err != nil {
		return err
	}
	marker := 0
	if v := params.Get("part-number-marker"); v != "" {
		if marker, err = strconv.Atoi(v); err != nil || marker < 0 {
			return fmt.Errorf("%w: part-number-marker %q", ErrInvalidArgument, v)
		}
	}
	ctx := q.r.Context()
	release, err := h.readGate(q)
	if err != nil {
		return err
	}
	defer release()
	rec, err := h.loadUpload(ctx, q.store, id, q.t)
	if err != nil {
		return err
	}
	after := ""
	if marker > 0 {
		after = partKey(rec, id, min(marker, MaxParts))
	}
	res := listPartsResult{Bucket: q.t.bucket, Key: q.t.key, UploadID: id, Initiator: theOwner, Owner: theOwner,
		StorageClass: "STANDARD", PartNumberMarker: marker, MaxParts: maxParts, Parts: []partXML{}}
	if maxParts > 0 {
		infos, err := q.store.List(ctx, partPrefix(rec, id), after, maxParts+1)
		if err != nil {
			return err
		}
		if len(infos) > maxParts {
			infos, res.IsTruncated = infos[:maxParts], true
		}
		for _, info := range infos {
			n, _ := strconv.Atoi(strings.TrimPrefix(info.Key, partPrefix(rec, id)))
			res.Parts = append(res.Parts, partXML{PartNumber: n, LastModified: s3Time(info.ModTime), ETag: etagOf(info), Size: info.Size})
			res.NextPartNumberMarker = n
		}
	}
	writeXML(q.w, http.StatusOK, res)
	return nil
}

type uploadXML struct {
	Key          string   `xml:"Key"`
	UploadID     string   `xml:"UploadId"`
	Initiator    ownerXML `xml:"Initiator"`
	Owner        ownerXML `xml:"Owner"`
	StorageClass string   `xml:"StorageClass"`
	Initiated    string   `xml:"Initiated"`
}

type listUploadsResult struct {
	XMLName            xml.Name    `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListMultipartUploadsResult"`
	Bucket             string      `xml:"Bucket"`
	KeyMarker          string      `xml:"KeyMarker"`
	UploadIDMarker     string      `xml:"UploadIdMarker"`
	NextKeyMarker      string      `xml:"NextKeyMarker,omitempty"`
	NextUploadIDMarker string      `xml:"NextUploadIdMarker,omitempty"`
	Prefix             string      `xml:"Prefix"`
	Delimiter          string      `xml:"Delimiter,omitempty"`
	MaxUploads         int         `xml:"MaxUploads"`
	IsTruncated        bool        `xml:"IsTruncated"`
	Uploads            []uploadXML `xml:"Upload"`
	CommonPrefixes     []prefixXML `xml:"CommonPrefixes"`
}

// maxUploadsScanned bounds the in-progress uploads one ListMultipartUploads
// gathers to sort by key (the registry is keyed by upload id).
const maxUploadsScanned = 10000

// upload is one in-progress upload found by scanUploads.
type upload struct {
	id  string
	rec uploadRecord
}

// scanUploads visits every blob under uploadsPrefix (records and parts,
// id is the upload id of each), in key order, a page at a time; visit
// returns false to stop.
func scanUploads(ctx context.Context, store node.Store, visit func(id string, info blockstore.Info) (bool, error)) error {
	after := ""
	for {
		infos, err := store.List(ctx, uploadsPrefix, after, maxListKeys)
		if err != nil {
			return err
		}
		for _, info := range infos {
			rest := strings.TrimPrefix(info.Key, uploadsPrefix)
			id, _, _ := strings.Cut(rest, "/")
			after = info.Key
			more, err := visit(id, info)
			if err != nil || !more {
				return err
			}
		}
		if len(infos) < maxListKeys {
			return nil
		}
	}
}

func (h *Handler) listMultipartUploads(q *request) error {
	params := q.r.URL.Query()
	maxUploads, err := maxKeysParam(params.Get("max-uploads"), "max-uploads")
	if err != nil {
		return err
	}
	enc, err := encodingParam(params.Get("encoding-type"))
	if err != nil {
		return err
	}
	prefix, delimiter := params.Get("prefix"), params.Get("delimiter")
	keyMarker, idMarker := params.Get("key-marker"), params.Get("upload-id-marker")
	ctx := q.r.Context()
	release, err := h.readGate(q)
	if err != nil {
		return err
	}
	defer release()
	var found []upload
	err = scanUploads(ctx, q.store, func(id string, info blockstore.Info) (bool, error) {
		if info.Key != uploadKey(id) {
			return true, nil // a part
		}
		rec, err := h.readUploadRecord(ctx, q.store, id)
		if err != nil {
			return true, nil // gone meanwhile, or unreadable: not listed
		}
		if rec.Bucket != q.t.bucket || !strings.HasPrefix(rec.Key, prefix) {
			return true, nil
		}
		if rec.Key < keyMarker || (rec.Key == keyMarker && (idMarker == "" || id <= idMarker)) {
			return true, nil
		}
		found = append(found, upload{id: id, rec: rec})
		return len(found) < maxUploadsScanned, nil
	})
	if err != nil {
		return err
	}
	sort.Slice(found, func(i, j int) bool {
		if found[i].rec.Key != found[j].rec.Key {
			return found[i].rec.Key < found[j].rec.Key
		}
		return found[i].id < found[j].id
	})
	esc := func(s string) string { return s }
	if enc {
		esc = urlEncode
	}
	res := listUploadsResult{Bucket: q.t.bucket, KeyMarker: esc(keyMarker), UploadIDMarker: idMarker, Prefix: esc(prefix),
		Delimiter: esc(delimiter), MaxUploads: maxUploads, Uploads: []uploadXML{}}
	seenPrefix := map[string]bool{}
	count := 0
	for _, u := range found {
		if count == maxUploads {
			res.IsTruncated = true
			break
		}
		if cp, ok := commonPrefix(u.rec.Key, prefix, delimiter); ok {
			if !seenPrefix[cp] {
				seenPrefix[cp] = true
				res.CommonPrefixes = append(res.CommonPrefixes, prefixXML{Prefix: esc(cp)})
				count++
			}
			res.NextKeyMarker, res.NextUploadIDMarker = esc(u.rec.Key), u.id
			continue
		}
		res.Uploads = append(res.Uploads, uploadXML{Key: esc(u.rec.Key), UploadID: u.id, Initiator: theOwner, Owner: theOwner,
			StorageClass: "STANDARD", Initiated: s3Time(u.rec.Initiated)})
		res.NextKeyMarker, res.NextUploadIDMarker = esc(u.rec.Key), u.id
		count++
	}
	if !res.IsTruncated {
		res.NextKeyMarker, res.NextUploadIDMarker = "", ""
	}
	writeXML(q.w, http.StatusOK, res)
	return nil
}
