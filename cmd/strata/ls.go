package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"text/tabwriter"
	"time"
)

// listPage is one page of GET /blobs.
type listPage struct {
	Keys           []listEntry `json:"keys"`
	NextStartAfter string      `json:"next_start_after"`
	Truncated      bool        `json:"truncated"`
}

// listEntry is one key of a listing.
type listEntry struct {
	Key          string    `json:"key"`
	Size         int64     `json:"size"`
	ETag         string    `json:"etag"`
	LastModified time.Time `json:"last_modified"`
}

// maxPageSize is the largest page asked of the node at once.
const maxPageSize = 1000

func runLs(ctx context.Context, s stdio, args []string) int {
	fs := newFlagSet("ls", "",
		"List keys in key order, one per line, following the node's continuation until\n"+
			"the listing (or --limit) is exhausted.")
	mk := clientFlags(fs)
	prefix := fs.String("prefix", "", "only keys starting with `P`")
	startAfter := fs.String("start-after", "", "only keys sorted after `K`")
	limit := fs.Int("limit", 0, "print at most `N` keys (0: all)")
	long := fs.Bool("l", false, "long format: size, last modified, ETag, key")
	asJSON := fs.Bool("json", false, "print one JSON object per key")
	pos, code, ok := fs.parse(args, s)
	if !ok {
		return code
	}
	if len(pos) != 0 {
		return fs.usageError(s.err, "unexpected argument %q (use --prefix)", pos[0])
	}
	if *limit < 0 {
		return fs.usageError(s.err, "--limit must be >= 0")
	}
	c, err := mk()
	if err != nil {
		return fs.usageError(s.err, "%v", err)
	}
	defer c.close()

	tw := tabwriter.NewWriter(s.out, 0, 8, 2, ' ', tabwriter.AlignRight)
	enc := json.NewEncoder(s.out)
	err = listAll(ctx, c, *prefix, *startAfter, *limit, func(e listEntry) error {
		switch {
		case *asJSON:
			return enc.Encode(e)
		case *long:
			_, err := fmt.Fprintf(tw, "%d\t %s\t %s\t %s\n", e.Size, e.LastModified.UTC().Format(time.RFC3339), e.ETag, e.Key)
			return err
		default:
			_, err := fmt.Fprintln(s.out, e.Key)
			return err
		}
	})
	if ferr := tw.Flush(); err == nil {
		err = ferr
	}
	if err != nil {
		return fail(s, "ls", err)
	}
	return exitOK
}

// listAll calls fn for every key after startAfter with the prefix, in key
// order, at most limit keys (0: no limit), fetching pages as it goes.
func listAll(ctx context.Context, c *client, prefix, startAfter string, limit int, fn func(listEntry) error) error {
	seen := 0
	for {
		pageSize := maxPageSize
		if limit > 0 {
			pageSize = min(pageSize, limit-seen)
		}
		page, err := listOnce(ctx, c, prefix, startAfter, pageSize)
		if err != nil {
			return err
		}
		for _, e := range page.Keys {
			if err := fn(e); err != nil {
				return err
			}
			seen++
			if limit > 0 && seen >= limit {
				return nil
			}
		}
		if !page.Truncated {
			return nil
		}
		next := page.NextStartAfter
		if next == "" && len(page.Keys) > 0 {
			next = page.Keys[len(page.Keys)-1].Key
		}
		if next <= startAfter {
			return fmt.Errorf("node's listing did not advance past %q", startAfter)
		}
		startAfter = next
	}
}

// listOnce fetches one page of the listing.
func listOnce(ctx context.Context, c *client, prefix, startAfter string, limit int) (listPage, error) {
	var page listPage
	req, err := c.newRequest(ctx, http.MethodGet, c.listURL(prefix, startAfter, limit), nil)
	if err != nil {
		return page, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.do(req, http.StatusOK)
	if err != nil {
		return page, err
	}
	defer resp.Body.Close()
	// A page is at most maxPageSize keys of at most 1 KiB each.
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&page); err != nil {
		return page, fmt.Errorf("decoding listing: %w", err)
	}
	return page, nil
}
