package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"syscall"

	"strata/node"
)

// defaultAdminAddr is the admin listener of a node alone; a cluster node
// started without admin_listen has its admin listener at its listen port +
// 1000 (docs/config.md).
const defaultAdminAddr = "http://" + node.DefaultAdminListen

// adminClientFlags registers --addr (the admin listener) and --token.
func adminClientFlags(fs *flagSet, name string) func() (*client, error) {
	addr := fs.String(name, envOr("STRATA_ADMIN_ADDR", defaultAdminAddr), "admin listener `URL` or host:port of the node (env STRATA_ADMIN_ADDR; a cluster node's default is its listen port + 1000)")
	if fs.Lookup("token") == nil { // shared with the blob client's --token when both are there
		fs.String("token", envOr("STRATA_TOKEN", ""), "bearer `TOKEN`, when the node has tokens: admin scope to leave, compact or scrub (or read-write from the node's own host when it has no admin token), read to look (env STRATA_TOKEN)")
	}
	return func() (*client, error) { return newClient(*addr, fs.Lookup("token").Value.String(), 0) }
}

func runLeave(ctx context.Context, s stdio, args []string) int {
	fs := newFlagSet("leave", "",
		"Decommission a cluster node: it drains (every key it holds is copied to the\n"+
			"key's new homes, which must confirm it durable), then leaves the cluster and\n"+
			"exits. Waits until the node has left, printing progress, unless --no-wait.\n"+
			"Exits 1 if the drain or the leave failed (the node then stays a member;\n"+
			"run it again to retry).")
	mk := adminClientFlags(fs, "addr")
	noWait := fs.Bool("no-wait", false, "return once the decommission has started")
	timeout := fs.Duration("timeout", 0, "give up waiting after this `duration` (the drain goes on); 0 = wait as long as it takes")
	pos, code, ok := fs.parse(args, s)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return fs.usageError(s.err, "unexpected argument %q", pos[0])
	}
	c, err := mk()
	if err != nil {
		return fs.usageError(s.err, "%v", err)
	}
	defer c.close()
	if *timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *timeout)
		defer cancel()
	}
	var st leaveStatus
	if *noWait {
		if err := c.adminJSON(ctx, http.MethodPost, "/admin/leave", http.StatusAccepted, &st); err != nil {
			return fail(s, "leave", err)
		}
		fmt.Fprintf(s.out, "leave: %s (not waiting; GET /admin/cluster shows progress)\n", st.State)
		return exitOK
	}
	fmt.Fprintln(s.out, "leave: draining (waiting until every key this node holds is on its new homes)")
	err = c.adminJSON(ctx, http.MethodPost, "/admin/leave?wait=true", http.StatusOK, &st)
	var se *statusError
	switch {
	case errors.As(err, &se) && se.code == http.StatusInternalServerError:
		return fail(s, "leave", fmt.Errorf("decommission failed; the node stays a member (run strata leave again): %s", se.msg))
	case err != nil && ctx.Err() != nil:
		return fail(s, "leave", fmt.Errorf("gave up waiting (the drain goes on; GET /admin/cluster shows it): %w", ctx.Err()))
	case err != nil:
		return fail(s, "leave", err)
	}
	fmt.Fprintln(s.out, "leave: the node has left the cluster and is stopping")
	return exitOK
}

// adminJSON sends a body-less request to an admin route and decodes the
// JSON answer into v.
func (c *client) adminJSON(ctx context.Context, method, path string, want int, v any) error {
	req, err := c.newRequest(ctx, method, c.base.String()+path, nil)
	if err != nil {
		return err
	}
	resp, err := c.do(req, want)
	if err != nil {
		if se := (*statusError)(nil); errors.As(err, &se) && se.code == http.StatusNotFound {
			return fmt.Errorf("%w (is this the admin listener of a node in cluster mode?)", err)
		}
		if errors.Is(err, syscall.ECONNREFUSED) {
			// The usual cause: a cluster node's admin listener is not
			// at the single node's default.
			return fmt.Errorf("%w (a cluster node started without admin_listen has its admin listener at its listen port + 1000, e.g. 127.0.0.1:8001 for --listen 127.0.0.1:7001)", err)
		}
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// printClusterStatus renders GET /admin/cluster for people: the members
// as a table, then the other fields (hints, anti-entropy, keys moving,
// leave) one per line.
func printClusterStatus(w io.Writer, report map[string]json.RawMessage) {
	var members []map[string]any
	if raw, ok := report["members"]; ok {
		_ = json.Unmarshal(raw, &members)
	}
	if len(members) > 0 {
		cols := memberColumns(members)
		rows := [][]string{cols}
		for _, m := range members {
			row := make([]string, len(cols))
			for i, col := range cols {
				row[i] = cellString(m[col])
			}
			rows = append(rows, row)
		}
		widths := make([]int, len(cols))
		for _, row := range rows {
			for i, cell := range row {
				widths[i] = max(widths[i], len(cell))
			}
		}
		for _, row := range rows {
			var line strings.Builder
			for i, cell := range row {
				if i > 0 {
					line.WriteString("  ")
				}
				fmt.Fprintf(&line, "%-*s", widths[i], cell)
			}
			fmt.Fprintln(w, strings.TrimRight(line.String(), " "))
		}
	}
	keys := make([]string, 0, len(report))
	for k := range report {
		if k != "members" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "%s: %s\n", k, compactJSON(report[k]))
	}
}

// memberColumns orders the members' fields: the usual ones first, then any
// others by name.
func memberColumns(members []map[string]any) []string {
	preferred := []string{"id", "http_addr", "addr", "gossip_addr", "zone", "weight", "state", "draining"}
	seen := map[string]bool{}
	for _, m := range members {
		for k := range m {
			seen[k] = true
		}
	}
	var cols []string
	for _, k := range preferred {
		if seen[k] {
			cols = append(cols, k)
		}
	}
	var rest []string
	for k := range seen {
		if !slices.Contains(preferred, k) {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	return append(cols, rest...)
}

func cellString(v any) string {
	switch v := v.(type) {
	case nil:
		return "-"
	case string:
		if v == "" {
			return "-"
		}
		return v
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func compactJSON(raw json.RawMessage) string {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return string(raw)
	}
	b, _ := json.Marshal(v)
	return string(b)
}
