package main

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"strata/internal/poll"
)

// TestE2EBench runs 5-second benches with --verify against a node started
// by the test, closed loop and open loop, and checks that the bench
// counted what the node answered (the node's request counter moved by the
// prefill plus the ops the bench counted, plus at most one request per
// client cut off by the deadline), that nothing failed, that every GET's
// bytes verified, and that the series adds up to the totals.
func TestE2EBench(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{name: "closed loop", args: []string{"--concurrency", "4"}},
		{name: "open loop", args: []string{"--concurrency", "8", "--rate", "400"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			n := startNode(t, nodeOptions{})
			before := blobRequests(t, n.base)
			jsonPath := filepath.Join(t.TempDir(), "bench.json")
			args := append([]string{"bench", "--addr", n.base, "--verify", "--size", "4KiB:9,64KiB:1", "--keys", "200",
				"--read-ratio", "0.8", "--duration", "5s", "--seed", "11", "--json", jsonPath}, tc.args...)
			code, out, errOut := cliRun(t, "", args...)
			if code != exitOK {
				t.Fatalf("bench: exit %d\n%s\n%s\nnode log:\n%s", code, out, errOut, n.logTail())
			}
			b, err := os.ReadFile(jsonPath)
			if err != nil {
				t.Fatal(err)
			}
			var res benchResult
			if err := json.Unmarshal(b, &res); err != nil {
				t.Fatal(err)
			}
			r, w := res.Read, res.Write
			if res.Total.Errors != 0 || r.NotFound != 0 || r.VerifyMismatch+r.VerifyStale != 0 {
				t.Errorf("errors %d (%v), not found %d, verify mismatches %d, stale %d", res.Total.Errors, res.Total.ErrorsByKind, r.NotFound, r.VerifyMismatch, r.VerifyStale)
			}
			if r.Ops == 0 || w.Ops == 0 || r.Verified != r.Ops {
				t.Errorf("%d reads (%d verified), %d writes", r.Ops, r.Verified, w.Ops)
			}
			var seriesReads, seriesWrites int64
			for _, p := range res.Series {
				seriesReads, seriesWrites = seriesReads+p.Read.Ops, seriesWrites+p.Write.Ops
			}
			if seriesReads != r.Ops || seriesWrites != w.Ops {
				t.Errorf("series counts %d reads %d writes, totals %d and %d", seriesReads, seriesWrites, r.Ops, w.Ops)
			}
			if len(res.Series) < 5 || len(res.Series) > 7 {
				t.Errorf("%d series points for a 5s run", len(res.Series))
			}
			// An open loop never sends faster than its rate; how close it
			// gets depends on the machine's load, which a test must not
			// assert (late starts show up as latency, not here).
			if res.Config.Rate > 0 && (res.AchievedRate <= 0 || res.AchievedRate > 1.01*res.Config.Rate) {
				t.Errorf("open loop achieved %.1f/s of %g/s", res.AchievedRate, res.Config.Rate)
			}
			counted := int64(res.Prefill.Keys) + res.Total.Ops
			// The node counts a request once its handler returned, which
			// may be just after the client read the answer.
			var answered int64
			poll.Until(t, "the node counting the bench's requests", func() bool {
				answered = blobRequests(t, n.base) - before
				return answered >= counted
			})
			if cutOff := answered - counted; cutOff > int64(res.Config.Concurrency) {
				t.Errorf("the node answered %d blob requests, the bench counted %d (prefill %d + %d ops): %d unaccounted for, more than one per client",
					answered, counted, res.Prefill.Keys, res.Total.Ops, cutOff)
			}
		})
	}
}

// blobRequests is the node's count of blob requests answered, any status.
func blobRequests(t *testing.T, base string) int64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var total int64
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "strata_http_requests_total{") || !strings.Contains(line, `route="blob"`) {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		total += int64(v)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return total
}
