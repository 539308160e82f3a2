package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
)

// blobStat is what HEAD tells about a blob.
type blobStat struct {
	Key          string `json:"key"`
	Size         int64  `json:"size"`
	ETag         string `json:"etag"`
	ContentType  string `json:"content_type"`
	LastModified string `json:"last_modified"`
	Tier         string `json:"tier"`
}

func runStat(ctx context.Context, s stdio, args []string) int {
	fs := newFlagSet("stat", "[--disks | --members | --node] [KEY...]",
		"With no KEY, show the node (from its /metrics): whether it takes writes,\n"+
			"each tier's items, bytes, capacity and hit ratio (RAM, SSD, HDD), each data\n"+
			"disk's used, free, live and garbage bytes and scrub state, compaction totals,\n"+
			"the compaction and scrub passes (running, progress, last end) and error\n"+
			"counts; exits 1 if a disk failed or the scrub found corruption. With KEYs,\n"+
			"show each KEY's size, ETag, content type, last-modified time and the tier the\n"+
			"node would serve it from (X-Strata-Tier), using HEAD; exits 1 if any KEY is\n"+
			"missing. --disks shows the data disks in detail. --members shows the cluster\n"+
			"as the node sees it (GET /admin/cluster on its admin listener): members with\n"+
			"state, zone and weight, pending hints, anti-entropy progress, keys moving.\n"+
			"--node shows the node's /readyz: ready, writable, read-only mode, failed\n"+
			"disks and its blob listeners; exits 1 if it is not ready.")
	mk := clientFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON: the node overview as one object, one object per key, disk, or the cluster or readiness status")
	disks := fs.Bool("disks", false, "show the node's data disks (from its /metrics) instead of keys")
	members := fs.Bool("members", false, "show the cluster's members and background work")
	nodeFlag := fs.Bool("node", false, "show the node's readiness, writability, read-only mode and listeners (its /readyz) instead of keys")
	mkAdmin := adminClientFlags(fs, "admin-addr")
	pos, code, ok := fs.parse(args, s)
	if !ok {
		return code
	}
	if *nodeFlag {
		if len(pos) > 0 {
			return fs.usageError(s.err, "--node takes no KEY")
		}
		c, err := mk()
		if err != nil {
			return fs.usageError(s.err, "%v", err)
		}
		defer c.close()
		return statNode(ctx, s, c, *asJSON)
	}
	if *disks {
		if len(pos) > 0 {
			return fs.usageError(s.err, "--disks takes no KEY")
		}
		c, err := mk()
		if err != nil {
			return fs.usageError(s.err, "%v", err)
		}
		defer c.close()
		return statDisks(ctx, s, c, *asJSON)
	}
	if len(pos) == 0 && !*members {
		c, err := mk()
		if err != nil {
			return fs.usageError(s.err, "%v", err)
		}
		defer c.close()
		return statOverview(ctx, s, c, *asJSON)
	}
	code = exitOK
	if *members {
		if code = statMembers(ctx, s, mkAdmin, *asJSON); code != exitOK || len(pos) == 0 {
			return code
		}
	}
	c, err := mk()
	if err != nil {
		return fs.usageError(s.err, "%v", err)
	}
	defer c.close()
	for i, key := range pos {
		st, err := statBlob(ctx, c, key)
		if err != nil {
			code = fail(s, "stat", errorForKey(key, err))
			continue
		}
		if *asJSON {
			_ = json.NewEncoder(s.out).Encode(st)
			continue
		}
		if i > 0 {
			fmt.Fprintln(s.out)
		}
		fmt.Fprintf(s.out, "key:           %s\n", st.Key)
		fmt.Fprintf(s.out, "size:          %d\n", st.Size)
		fmt.Fprintf(s.out, "etag:          %s\n", st.ETag)
		fmt.Fprintf(s.out, "content-type:  %s\n", st.ContentType)
		fmt.Fprintf(s.out, "last-modified: %s\n", st.LastModified)
		fmt.Fprintf(s.out, "tier:          %s\n", st.Tier)
	}
	return code
}

// statBlob sends HEAD for key.
func statBlob(ctx context.Context, c *client, key string) (blobStat, error) {
	req, err := c.newRequest(ctx, http.MethodHead, c.blobURL(key), nil)
	if err != nil {
		return blobStat{}, err
	}
	resp, err := c.do(req, http.StatusOK)
	if err != nil {
		return blobStat{}, err
	}
	resp.Body.Close()
	size, err := strconv.ParseInt(resp.Header.Get("Content-Length"), 10, 64)
	if err != nil {
		size = resp.ContentLength
	}
	return blobStat{
		Key:          key,
		Size:         size,
		ETag:         resp.Header.Get("ETag"),
		ContentType:  resp.Header.Get("Content-Type"),
		LastModified: resp.Header.Get("Last-Modified"),
		Tier:         resp.Header.Get("X-Strata-Tier"),
	}, nil
}

// statMembers prints GET /admin/cluster of the node's admin listener.
func statMembers(ctx context.Context, s stdio, mk func() (*client, error), asJSON bool) int {
	c, err := mk()
	if err != nil {
		return fail(s, "stat", err)
	}
	defer c.close()
	var report map[string]json.RawMessage
	if err := c.adminJSON(ctx, http.MethodGet, "/admin/cluster", http.StatusOK, &report); err != nil {
		return fail(s, "stat", err)
	}
	if asJSON {
		_ = json.NewEncoder(s.out).Encode(report)
	} else {
		printClusterStatus(s.out, report)
	}
	return exitOK
}
