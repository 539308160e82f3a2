package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// nodeStat is the node's /readyz as `strata stat --node` shows it:
// readiness, writability, read-only mode, failed disks and the blob
// listeners' addresses.
type nodeStat struct {
	Status      string            `json:"status"`
	Reason      string            `json:"reason,omitempty"`
	Writable    bool              `json:"writable"`
	WriteReason string            `json:"write_reason,omitempty"`
	ReadOnly    bool              `json:"read_only"`
	FailedDisks []string          `json:"failed_disks"`
	Listeners   map[string]string `json:"listeners"`
}

// maxReadyzBody bounds what statNode reads of /readyz.
const maxReadyzBody = 1 << 20

// statNode prints the node's /readyz. It exits 1 when the node is not
// ready (a 503 with its reason is still shown).
func statNode(ctx context.Context, s stdio, c *client, asJSON bool) int {
	req, err := c.newRequest(ctx, http.MethodGet, c.base.String()+"/readyz", nil)
	if err != nil {
		return fail(s, "stat", err)
	}
	resp, err := c.do(req, http.StatusOK, http.StatusServiceUnavailable)
	if err != nil {
		return fail(s, "stat", err)
	}
	defer resp.Body.Close()
	var st nodeStat
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxReadyzBody)).Decode(&st); err != nil {
		return fail(s, "stat", fmt.Errorf("reading the node's /readyz: %w", err))
	}
	code := exitOK
	if resp.StatusCode != http.StatusOK {
		code = exitError
	}
	if asJSON {
		_ = json.NewEncoder(s.out).Encode(st)
		return code
	}
	ready := st.Status
	if st.Reason != "" {
		ready += " (" + st.Reason + ")"
	}
	writable := "yes"
	if !st.Writable {
		writable = "no (" + st.WriteReason + ")"
	}
	readOnly := "no"
	if st.ReadOnly {
		readOnly = "yes: serves reads, refuses client writes, takes replica traffic"
	}
	failed := "none"
	if len(st.FailedDisks) > 0 {
		failed = strings.Join(st.FailedDisks, ", ")
	}
	fmt.Fprintf(s.out, "status:        %s\n", ready)
	fmt.Fprintf(s.out, "writable:      %s\n", writable)
	fmt.Fprintf(s.out, "read-only:     %s\n", readOnly)
	fmt.Fprintf(s.out, "failed disks:  %s\n", failed)
	for _, l := range []struct{ key, label string }{
		{"listen", "listen:        "}, {"listen_read", "listen_read:   "}, {"listen_write", "listen_write:  "},
	} {
		if addr := st.Listeners[l.key]; addr != "" {
			fmt.Fprintf(s.out, "%s%s\n", l.label, addr)
		}
	}
	return code
}
