package main

import (
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"path/filepath"
)

func runPut(ctx context.Context, s stdio, args []string) int {
	fs := newFlagSet("put", "KEY [FILE|-]",
		"Upload FILE (or stdin when FILE is \"-\" or missing) as the blob KEY. The body is\n"+
			"streamed, never buffered whole; its length is sent when it is known (a regular\n"+
			"file). On success prints the new ETag.")
	mk := clientFlags(fs)
	contentType := fs.String("content-type", "", "Content-Type to store (default: guessed from FILE's extension, else the node's default)")
	ifMatch := fs.String("if-match", "", "only replace the blob if its current ETag is `ETAG`")
	create := fs.Bool("create-only", false, "fail (412) if KEY already exists (sends If-None-Match: *)")
	quiet := fs.Bool("q", false, "print nothing on success")
	pos, code, ok := fs.parse(args, s)
	if !ok {
		return code
	}
	if len(pos) < 1 || len(pos) > 2 {
		return fs.usageError(s.err, "want KEY and at most one FILE, got %d arguments", len(pos))
	}
	key := pos[0]
	c, err := mk()
	if err != nil {
		return fs.usageError(s.err, "%v", err)
	}
	defer c.close()

	var body io.Reader = s.in
	size := int64(-1)
	name := "-"
	if len(pos) == 2 && pos[1] != "-" {
		name = pos[1]
		f, err := os.Open(name)
		if err != nil {
			return fail(s, "put", err)
		}
		defer f.Close()
		body = f
	}
	// A regular file (named, or stdin redirected from one) has a known
	// length; pipes and terminals are sent chunked.
	if f, isFile := body.(*os.File); isFile {
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			if offset, err := f.Seek(0, io.SeekCurrent); err == nil {
				size = st.Size() - offset
			}
		}
	}
	ct := *contentType
	if ct == "" && name != "-" {
		ct = mime.TypeByExtension(filepath.Ext(name))
	}

	etag, err := putBlob(ctx, c, key, body, size, putHeaders{contentType: ct, ifMatch: *ifMatch, createOnly: *create})
	if err != nil {
		return fail(s, "put", err)
	}
	if !*quiet {
		fmt.Fprintln(s.out, etag)
	}
	return exitOK
}

// putHeaders are the optional request headers of a PUT.
type putHeaders struct {
	contentType string
	ifMatch     string
	createOnly  bool
}

// putBlob streams body (size bytes, or -1 when unknown) to key and returns
// the ETag the node answered with.
func putBlob(ctx context.Context, c *client, key string, body io.Reader, size int64, h putHeaders) (string, error) {
	req, err := c.newRequest(ctx, http.MethodPut, c.blobURL(key), io.NopCloser(body))
	if err != nil {
		return "", err
	}
	switch {
	case size < 0:
		req.ContentLength = -1 // chunked
	case size == 0:
		// net/http treats a non-nil body with length 0 as "unknown"; an
		// empty blob goes out with an explicit Content-Length: 0.
		req.Body, req.ContentLength = http.NoBody, 0
	default:
		req.ContentLength = size
	}
	if h.contentType != "" {
		req.Header.Set("Content-Type", h.contentType)
	}
	if h.ifMatch != "" {
		req.Header.Set("If-Match", h.ifMatch)
	}
	if h.createOnly {
		req.Header.Set("If-None-Match", "*")
	}
	resp, err := c.do(req, http.StatusCreated, http.StatusOK, http.StatusNoContent)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return resp.Header.Get("ETag"), nil
}
