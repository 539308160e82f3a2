package s3

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"strata/blockstore"
	"strata/node"
)

// The bucket registry: one small blob per bucket under bucketsPrefix,
// holding bucketRecord as JSON. Objects of bucket B are the blobs "B/...".
const bucketsPrefix = node.ReservedPrefix + "buckets/"

// bucketRecord is a registry entry.
type bucketRecord struct {
	Created time.Time `json:"created"`
	Owner   string    `json:"owner"` // access key that created it
}

func bucketRegistryKey(bucket string) string { return bucketsPrefix + bucket }

// validBucketName applies the S3 naming rules: 3 to 63 characters of
// lowercase letters, digits, dots and hyphens, starting and ending with a
// letter or digit, no "..", not an IPv4 address, none of the reserved
// prefixes and suffixes.
func validBucketName(name string) error {
	bad := func(why string) error { return fmt.Errorf("%w: %q %s", ErrInvalidBucketName, name, why) }
	if len(name) < 3 || len(name) > 63 {
		return bad("must be 3 to 63 characters long")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			return bad("may hold only lowercase letters, digits, dots and hyphens")
		}
	}
	first, last := name[0], name[len(name)-1]
	if first == '.' || first == '-' || last == '.' || last == '-' {
		return bad("must start and end with a letter or digit")
	}
	if strings.Contains(name, "..") || strings.Contains(name, ".-") || strings.Contains(name, "-.") {
		return bad("may not hold two adjacent periods or a period next to a hyphen")
	}
	if ip := net.ParseIP(name); ip != nil {
		return bad("may not be an IP address")
	}
	if strings.HasPrefix(name, "xn--") || strings.HasPrefix(name, "sthree-") || strings.HasSuffix(name, "-s3alias") || strings.HasSuffix(name, "--ol-s3") {
		return bad("uses a reserved prefix or suffix")
	}
	return nil
}

// bucket returns the registry entry, or ErrNoSuchBucket.
func (h *Handler) bucket(ctx context.Context, store node.Store, name string) (bucketRecord, error) {
	obj, err := store.Open(ctx, bucketRegistryKey(name))
	if isNotFound(err) {
		return bucketRecord{}, fmt.Errorf("%w: %q", ErrNoSuchBucket, name)
	}
	if err != nil {
		return bucketRecord{}, err
	}
	defer obj.Close()
	var rec bucketRecord
	raw, err := io.ReadAll(io.LimitReader(obj, 64<<10))
	if err != nil {
		return bucketRecord{}, err
	}
	if err := json.Unmarshal(raw, &rec); err != nil {
		rec.Created = obj.Info().ModTime // readable anyway
	}
	return rec, nil
}

// needBucket fails with ErrNoSuchBucket unless the request's bucket exists.
func (h *Handler) needBucket(q *request) error {
	return h.bucketExists(q.r.Context(), q.store, q.t.bucket)
}

// bucketExists fails with ErrNoSuchBucket unless bucket is registered.
func (h *Handler) bucketExists(ctx context.Context, store node.Store, bucket string) error {
	_, err := store.Stat(ctx, bucketRegistryKey(bucket))
	if isNotFound(err) {
		return fmt.Errorf("%w: %q", ErrNoSuchBucket, bucket)
	}
	return err
}

type ownerXML struct {
	ID          string `xml:"ID"`
	DisplayName string `xml:"DisplayName"`
}

// theOwner owns everything: a node has one tenant.
var theOwner = ownerXML{ID: "strata", DisplayName: "strata"}

type listBucketsResult struct {
	XMLName xml.Name    `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListAllMyBucketsResult"`
	Owner   ownerXML    `xml:"Owner"`
	Buckets []bucketXML `xml:"Buckets>Bucket"`
}

type bucketXML struct {
	Name         string `xml:"Name"`
	CreationDate string `xml:"CreationDate"`
}

// s3Time formats a time as S3's XML does.
func s3Time(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func (h *Handler) listBuckets(q *request) error {
	release, err := h.opt.Node.Admit(q.r.Context(), false)
	if err != nil {
		return err
	}
	defer release()
	res := listBucketsResult{Owner: theOwner, Buckets: []bucketXML{}}
	after := ""
	for {
		infos, err := q.store.List(q.r.Context(), bucketsPrefix, after, maxListKeys)
		if err != nil {
			return err
		}
		for _, info := range infos {
			name := strings.TrimPrefix(info.Key, bucketsPrefix)
			if keyAllows(q.auth.Key, name) {
				res.Buckets = append(res.Buckets, bucketXML{Name: name, CreationDate: s3Time(info.ModTime)})
			}
		}
		if len(infos) < maxListKeys {
			break
		}
		after = infos[len(infos)-1].Key
	}
	writeXML(q.w, http.StatusOK, res)
	return nil
}

// createBucketConfiguration is CreateBucket's optional body.
type createBucketConfiguration struct {
	LocationConstraint string `xml:"LocationConstraint"`
}

func (h *Handler) createBucket(q *request) error {
	if err := validBucketName(q.t.bucket); err != nil {
		return err
	}
	raw, err := h.readXMLBody(q)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(raw)) > 0 {
		var cfg createBucketConfiguration
		if err := xml.Unmarshal(raw, &cfg); err != nil {
			return fmt.Errorf("%w: %v", ErrMalformedXML, err)
		}
		if c := cfg.LocationConstraint; c != "" && c != h.opt.Region && c != node.DefaultS3Region {
			return fmt.Errorf("%w: %q (this node serves %q)", ErrInvalidLocation, c, h.opt.Region)
		}
	}
	ctx := q.r.Context()
	key := bucketRegistryKey(q.t.bucket)
	done, err := h.writeGate(ctx, key)
	if err != nil {
		return err
	}
	defer done()
	if _, err := q.store.Stat(ctx, key); err == nil {
		return ErrBucketAlreadyOwned
	} else if !isNotFound(err) {
		return err
	}
	if err := h.putRegistry(ctx, q.store, key, bucketRecord{Created: h.opt.Now().UTC(), Owner: q.auth.Key.AccessKey}); err != nil {
		return err
	}
	q.w.Header().Set("Location", "/"+q.t.bucket)
	q.w.WriteHeader(http.StatusOK)
	return nil
}

func (h *Handler) headBucket(q *request) error {
	if err := h.needBucket(q); err != nil {
		return err
	}
	q.w.Header().Set("X-Amz-Bucket-Region", h.opt.Region)
	q.w.WriteHeader(http.StatusOK)
	return nil
}

func (h *Handler) deleteBucket(q *request) error {
	ctx := q.r.Context()
	key := bucketRegistryKey(q.t.bucket)
	// A bucket with objects is refused before the exclusive lock, which
	// would hold the bucket's new writes back while it waits.
	if err := h.bucketEmpty(q); err != nil {
		return err
	}
	done, err := h.writeGate(ctx, key)
	if err != nil {
		return err
	}
	defer done()
	if err := h.bucketEmpty(q); err != nil {
		return err
	}
	rec, err := h.bucket(ctx, q.store, q.t.bucket)
	if err != nil {
		return err
	}
	if err := q.store.Delete(ctx, key, blockstore.DeleteOptions{}); err != nil && !isNotFound(err) {
		return err
	}
	// The locks above are this node's: in a cluster a write on another
	// node may have found the bucket before the delete and stored its
	// object after the emptiness check. Such a write checks the bucket
	// again once it is durable (confirmBucket) and withdraws itself if the
	// bucket is gone; if it checked first, it is listed now and the bucket
	// is put back. Either way no acknowledged object outlives its bucket.
	switch err := h.bucketEmptyAfterDelete(q); {
	case errors.Is(err, ErrBucketNotEmpty):
		if rerr := h.putRegistry(ctx, q.store, key, rec); rerr != nil {
			return fmt.Errorf("%w; restoring the bucket that an object was written into failed: %v", err, rerr)
		}
		return err
	case err != nil:
		return err
	}
	q.w.WriteHeader(http.StatusNoContent)
	return nil
}

// bucketEmptyAfterDelete lists the bucket whose registry entry is gone:
// ErrBucketNotEmpty when an object was written into it meanwhile.
func (h *Handler) bucketEmptyAfterDelete(q *request) error {
	objs, err := q.store.List(q.r.Context(), q.t.bucket+"/", "", 1)
	if err != nil {
		return err
	}
	if len(objs) > 0 {
		return ErrBucketNotEmpty
	}
	return nil
}

// putRegistry writes bucket registry entry rec under key.
func (h *Handler) putRegistry(ctx context.Context, store node.Store, key string, rec bucketRecord) error {
	raw, _ := json.Marshal(rec)
	_, err := store.Put(ctx, key, bytes.NewReader(raw), int64(len(raw)), blockstore.PutOptions{ContentType: "application/json"})
	return err
}

// confirmBucket runs after an object write into the request's bucket is
// durable: if the bucket was deleted meanwhile (by a DeleteBucket on
// another node, which this node's bucket lock does not hold back), the
// object is withdrawn and the write answered NoSuchBucket. The tombstone
// is stamped just after the written version, so a newer write of the key
// survives it.
func (h *Handler) confirmBucket(q *request, key string, written blockstore.Info) error {
	err := h.needBucket(q)
	if !errors.Is(err, ErrNoSuchBucket) {
		return err
	}
	derr := q.store.Delete(q.r.Context(), key, blockstore.DeleteOptions{Version: written.Version + 1})
	if derr != nil && !isNotFound(derr) {
		return fmt.Errorf("%w; withdrawing the object written meanwhile failed: %v", err, derr)
	}
	h.log.Warn("s3: a write found its bucket deleted after it was stored; withdrawn", "key", key, "version", written.Version)
	return err
}

// bucketEmpty is nil when the request's bucket exists and holds no object.
func (h *Handler) bucketEmpty(q *request) error {
	if err := h.needBucket(q); err != nil {
		return err
	}
	objs, err := q.store.List(q.r.Context(), q.t.bucket+"/", "", 1)
	if err != nil {
		return err
	}
	if len(objs) > 0 {
		return ErrBucketNotEmpty
	}
	return nil
}

type locationConstraint struct {
	XMLName xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ LocationConstraint"`
	Region  string   `xml:",chardata"`
}

func (h *Handler) getBucketLocation(q *request) error {
	if err := h.needBucket(q); err != nil {
		return err
	}
	region := h.opt.Region
	if region == node.DefaultS3Region {
		region = "" // S3 answers an empty constraint for us-east-1
	}
	writeXML(q.w, http.StatusOK, locationConstraint{Region: region})
	return nil
}

type versioningConfiguration struct {
	XMLName xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ VersioningConfiguration"`
}

// getBucketVersioning answers the truth: versioning was never enabled.
func (h *Handler) getBucketVersioning(q *request) error {
	if err := h.needBucket(q); err != nil {
		return err
	}
	writeXML(q.w, http.StatusOK, versioningConfiguration{})
	return nil
}

type accessControlPolicy struct {
	XMLName xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ AccessControlPolicy"`
	Owner   ownerXML `xml:"Owner"`
	Grants  []grant  `xml:"AccessControlList>Grant"`
}

type grant struct {
	Grantee    grantee `xml:"Grantee"`
	Permission string  `xml:"Permission"`
}

type grantee struct {
	XMLNSXSI    string `xml:"xmlns:xsi,attr"`
	Type        string `xml:"xsi:type,attr"`
	ID          string `xml:"ID"`
	DisplayName string `xml:"DisplayName"`
}

// getACL answers the one ACL there is: the owner has full control (access
// is decided by the keys' scopes and bucket lists, not by ACLs).
func (h *Handler) getACL(q *request) error {
	if err := h.needBucket(q); err != nil {
		return err
	}
	if q.t.key != "" {
		if _, err := q.store.Stat(q.r.Context(), blobKey(q.t.bucket, q.t.key)); err != nil {
			return err
		}
	}
	writeXML(q.w, http.StatusOK, accessControlPolicy{Owner: theOwner, Grants: []grant{{
		Grantee:    grantee{XMLNSXSI: "http://www.w3.org/2001/XMLSchema-instance", Type: "CanonicalUser", ID: theOwner.ID, DisplayName: theOwner.DisplayName},
		Permission: "FULL_CONTROL",
	}}})
	return nil
}

// readXMLBody reads a small request body whole, up to maxXMLBody bytes,
// under the node's progress timeout like any upload.
func (h *Handler) readXMLBody(q *request) ([]byte, error) {
	if q.r.ContentLength > maxXMLBody {
		return nil, fmt.Errorf("%w: XML body of %d bytes", ErrMalformedXML, q.r.ContentLength)
	}
	body := h.uploadBody(q, maxXMLBody)
	raw, err := io.ReadAll(body)
	if err != nil {
		if errors.Is(err, node.ErrBodyTooLarge) {
			return nil, fmt.Errorf("%w: XML body over %d bytes", ErrMalformedXML, maxXMLBody)
		}
		return nil, err
	}
	return raw, nil
}
