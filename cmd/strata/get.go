package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

func runGet(ctx context.Context, s stdio, args []string) int {
	fs := newFlagSet("get", "KEY",
		"Download the blob KEY to stdout, or to FILE with -o. The body is streamed. With -o\n"+
			"the bytes go to a temporary file next to FILE, which is renamed over FILE only\n"+
			"once the whole body has arrived, so FILE never holds a partial blob.")
	mk := clientFlags(fs)
	out := fs.String("o", "", "write to `FILE` instead of stdout")
	rng := fs.String("range", "", "fetch only a byte range: `RANGE` as in HTTP (\"bytes=0-99\", \"0-99\", \"-100\", \"100-\")")
	ifNoneMatch := fs.String("if-none-match", "", "send If-None-Match: `ETAG`; exit 0 without output when it still matches (304)")
	pos, code, ok := fs.parse(args, s)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		return fs.usageError(s.err, "want exactly one KEY, got %d arguments", len(pos))
	}
	c, err := mk()
	if err != nil {
		return fs.usageError(s.err, "%v", err)
	}
	defer c.close()

	req, err := c.newRequest(ctx, http.MethodGet, c.blobURL(pos[0]), nil)
	if err != nil {
		return fail(s, "get", err)
	}
	if *rng != "" {
		r := *rng
		if !strings.HasPrefix(r, "bytes=") {
			r = "bytes=" + r
		}
		req.Header.Set("Range", r)
	}
	if *ifNoneMatch != "" {
		req.Header.Set("If-None-Match", *ifNoneMatch)
	}
	resp, err := c.do(req, http.StatusOK, http.StatusPartialContent, http.StatusNotModified)
	if err != nil {
		return fail(s, "get", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotModified {
		return exitOK
	}
	if *out == "" || *out == "-" {
		if _, err := io.Copy(s.out, resp.Body); err != nil {
			return fail(s, "get", fmt.Errorf("reading body: %w", err))
		}
		return exitOK
	}
	if err := writeFileAtomic(*out, resp.Body); err != nil {
		return fail(s, "get", err)
	}
	return exitOK
}

// writeFileAtomic streams r into a temporary file next to name, syncs it and
// renames it over name, so name holds either its old content or all of r.
func writeFileAtomic(name string, r io.Reader) (err error) {
	dir := filepath.Dir(name)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(name)+".part-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = io.Copy(tmp, r); err != nil {
		return fmt.Errorf("reading body: %w", err)
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Chmod(0o644); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), name); err != nil {
		return err
	}
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
