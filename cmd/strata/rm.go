package main

import (
	"context"
	"net/http"
)

func runRm(ctx context.Context, s stdio, args []string) int {
	fs := newFlagSet("rm", "KEY...",
		"Delete each KEY. Exits 1 if any delete failed, including a KEY that does not exist\n"+
			"(unless -f).")
	mk := clientFlags(fs)
	force := fs.Bool("f", false, "ignore keys that do not exist")
	ifMatch := fs.String("if-match", "", "only delete if the current ETag is `ETAG`")
	pos, code, ok := fs.parse(args, s)
	if !ok {
		return code
	}
	if len(pos) == 0 {
		return fs.usageError(s.err, "want at least one KEY")
	}
	c, err := mk()
	if err != nil {
		return fs.usageError(s.err, "%v", err)
	}
	defer c.close()
	code = exitOK
	for _, key := range pos {
		if err := deleteBlob(ctx, c, key, *ifMatch); err != nil {
			if *force && isNotFound(err) {
				continue
			}
			code = fail(s, "rm", errorForKey(key, err))
		}
	}
	return code
}

// deleteBlob deletes key; a missing key is an error wrapping errNotFound.
func deleteBlob(ctx context.Context, c *client, key, ifMatch string) error {
	req, err := c.newRequest(ctx, http.MethodDelete, c.blobURL(key), nil)
	if err != nil {
		return err
	}
	if ifMatch != "" {
		req.Header.Set("If-Match", ifMatch)
	}
	resp, err := c.do(req, http.StatusNoContent, http.StatusOK)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}
