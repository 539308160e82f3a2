package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBenchEmbedded runs short --verify benches on the store opened
// in-process on a temporary directory: ops happen, every GET's bytes
// verify, the tiers come from the store's answers, the JSON and the text
// say the mode, and a second run reopens what the first one closed.
func TestBenchEmbedded(t *testing.T) {
	dir := t.TempDir()
	// No caches: every read must be served, and named, by the HDD tier.
	noCaches := filepath.Join(t.TempDir(), "strata.toml")
	if err := os.WriteFile(noCaches, []byte("ram_cache_size = \"0\"\nssd_cache_size = \"0\"\nvolume_size = \"64MiB\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		args     []string
		wantTier string // the only tier reads may come from; "" = any
	}{
		{name: "embedded layout", args: []string{"--embedded", filepath.Join(dir, "a")}},
		{name: "embedded layout reopened, open loop", args: []string{"--embedded", filepath.Join(dir, "a"), "--rate", "4000"}},
		{name: "config without caches", args: []string{"--embedded", filepath.Join(dir, "b"), "--config", noCaches}, wantTier: "hdd"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			jsonPath := filepath.Join(t.TempDir(), "bench.json")
			args := append([]string{"bench", "--verify", "--size", "100B:2,5KiB:1,300KiB:1", "--keys", "20",
				"--read-ratio", "0.7", "--ops", "300", "--duration", "1m", "--concurrency", "4", "--seed", "3",
				"--json", jsonPath}, tc.args...)
			code, out, errOut := cliRun(t, "", args...)
			if code != exitOK {
				t.Fatalf("bench: exit %d\n%s\n%s", code, out, errOut)
			}
			if !strings.Contains(out, "mode=embedded embedded=") {
				t.Errorf("text output does not say the mode:\n%s", out)
			}
			b, err := os.ReadFile(jsonPath)
			if err != nil {
				t.Fatal(err)
			}
			var res benchResult
			if err := json.Unmarshal(b, &res); err != nil {
				t.Fatal(err)
			}
			if res.Config.Mode != "embedded" || res.Config.EmbeddedDir == "" || res.Config.Addr != "" {
				t.Errorf("config mode=%q embedded_dir=%q addr=%q, want embedded", res.Config.Mode, res.Config.EmbeddedDir, res.Config.Addr)
			}
			if res.Total.Ops != 300 || res.Total.Errors != 0 || res.Read.NotFound != 0 {
				t.Errorf("ops=%d errors=%d not_found=%d, want 300 ops and no errors", res.Total.Ops, res.Total.Errors, res.Read.NotFound)
			}
			if res.Read.Ops == 0 || res.Read.Verified != res.Read.Ops || res.Read.VerifyMismatch+res.Read.VerifyStale != 0 {
				t.Errorf("verified %d of %d GETs, %d mismatches, %d stale", res.Read.Verified, res.Read.Ops, res.Read.VerifyMismatch, res.Read.VerifyStale)
			}
			var served int64
			for tier, n := range res.TierReads {
				switch {
				case tier != "ram" && tier != "ssd" && tier != "hdd":
					t.Errorf("%d reads from tier %q", n, tier)
				case tc.wantTier != "" && tier != tc.wantTier && n > 0:
					t.Errorf("%d reads from %s, want only %s", n, tier, tc.wantTier)
				}
				served += n
			}
			if served == 0 || served != res.Read.Ops {
				t.Errorf("tier reads %v sum to %d, want the %d GETs", res.TierReads, served, res.Read.Ops)
			}
		})
	}
}

// closeFailsTarget is a target whose close fails after closing the one it
// wraps.
type closeFailsTarget struct{ benchTarget }

var errInjectedClose = errors.New("injected close failure")

func (t closeFailsTarget) close() error { return errors.Join(t.benchTarget.close(), errInjectedClose) }

// TestBenchEmbeddedCloseFails checks that a run whose store fails to close
// fails, with the close error, instead of printing figures.
func TestBenchEmbeddedCloseFails(t *testing.T) {
	cfg := benchConfig{Mode: "embedded", EmbeddedDir: t.TempDir(), Sizes: "1KiB", ReadRatio: 0.5, Keys: 5,
		Duration: time.Minute, MaxOps: 20, Concurrency: 2, Prefill: true, Seed: 1}
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	s := stdio{out: &out, err: &errb}
	target, err := newBenchTarget(context.Background(), cfg, s)
	if err != nil {
		t.Fatal(err)
	}
	res, err := runBenchmarkOn(context.Background(), cfg, closeFailsTarget{target}, s)
	if !errors.Is(err, errInjectedClose) || res != nil {
		t.Fatalf("runBenchmarkOn = %v, %v; want no result and the close error", res, err)
	}
}
