package s3

import (
	"encoding/xml"
	"fmt"
	"net/http"

	"strata/blockstore"
)

// deleteRequest is DeleteObjects' body.
type deleteRequest struct {
	XMLName xml.Name          `xml:"Delete"`
	Quiet   bool              `xml:"Quiet"`
	Objects []deleteObjectXML `xml:"Object"`
}

type deleteObjectXML struct {
	Key       string `xml:"Key"`
	VersionID string `xml:"VersionId,omitempty"`
}

type deleteResult struct {
	XMLName xml.Name          `xml:"http://s3.amazonaws.com/doc/2006-03-01/ DeleteResult"`
	Deleted []deleteObjectXML `xml:"Deleted"`
	Errors  []deleteErrorXML  `xml:"Error"`
}

type deleteErrorXML struct {
	Key     string `xml:"Key"`
	Code    string `xml:"Code"`
	Message string `xml:"Message"`
}

// parseDeleteRequest decodes a DeleteObjects body: 1 to maxBatchDelete
// objects, each with a key.
func parseDeleteRequest(raw []byte) (deleteRequest, error) {
	var req deleteRequest
	if err := xml.Unmarshal(raw, &req); err != nil {
		return deleteRequest{}, fmt.Errorf("%w: %v", ErrMalformedXML, err)
	}
	if len(req.Objects) == 0 || len(req.Objects) > maxBatchDelete {
		return deleteRequest{}, fmt.Errorf("%w: %d objects (want 1 to %d)", ErrMalformedXML, len(req.Objects), maxBatchDelete)
	}
	for _, o := range req.Objects {
		if o.Key == "" {
			return deleteRequest{}, fmt.Errorf("%w: an object without a key", ErrMalformedXML)
		}
	}
	return req, nil
}

// deleteObjects answers DeleteObjects: each key deleted like DeleteObject
// (a missing key counts as deleted), results per key; Quiet reports only
// the errors. The body's integrity is the signature's (and Content-MD5's
// or the checksum's, which the verifier checks when sent).
func (h *Handler) deleteObjects(q *request) error {
	raw, err := h.readXMLBody(q)
	if err != nil {
		return err
	}
	req, err := parseDeleteRequest(raw)
	if err != nil {
		return err
	}
	if err := h.needBucket(q); err != nil {
		return err
	}
	ctx := q.r.Context()
	res := deleteResult{}
	for _, o := range req.Objects {
		err := func() error {
			if o.VersionID != "" && o.VersionID != "null" {
				return ErrNotImplemented
			}
			if err := checkKey(q.t.bucket, o.Key); err != nil {
				return err
			}
			key := blobKey(q.t.bucket, o.Key)
			done, err := h.writeGate(ctx, key)
			if err != nil {
				return err
			}
			defer done()
			if err := q.store.Delete(ctx, key, blockstore.DeleteOptions{}); err != nil && !isNotFound(err) {
				return err
			}
			return nil
		}()
		if err != nil {
			e := errorOf(err)
			if e.Status >= 500 {
				h.log.Warn("s3 batch delete of one key failed", "request_id", q.id, "err", err)
			}
			res.Errors = append(res.Errors, deleteErrorXML{Key: o.Key, Code: e.Code, Message: e.Message})
			continue
		}
		if !req.Quiet {
			res.Deleted = append(res.Deleted, deleteObjectXML{Key: o.Key})
		}
	}
	writeXML(q.w, http.StatusOK, res)
	return nil
}
