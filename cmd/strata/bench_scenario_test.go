package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// contendedTarget is an in-memory target whose read latency is a
// function of the uploads in flight: a PUT takes writeHold, and a GET waits
// readCostPerWrite for each PUT in flight when it arrives, as reads queued
// behind writes on a disk without read priority would. Reads alone never
// wait.
type contendedTarget struct {
	writeHold, readCostPerWrite time.Duration

	mu    sync.Mutex
	blobs map[string][]byte

	writesInFlight    atomic.Int64
	readsBesideWrites atomic.Int64

	// corrupt, if set, names keys whose GETs get one byte flipped.
	corrupt func(key string) bool
}

func newContendedTarget(hold time.Duration) *contendedTarget {
	return &contendedTarget{writeHold: hold, readCostPerWrite: hold / 2, blobs: map[string][]byte{}}
}

func (t *contendedTarget) mode() string                { return "fake" }
func (t *contendedTarget) describe() string            { return "contended" }
func (t *contendedTarget) ready(context.Context) error { return nil }
func (t *contendedTarget) close() error                { return nil }

func (t *contendedTarget) put(_ context.Context, key string, body io.Reader, _ int64, _ string) error {
	t.writesInFlight.Add(1)
	defer t.writesInFlight.Add(-1)
	b, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	time.Sleep(t.writeHold)
	t.mu.Lock()
	t.blobs[key] = b
	t.mu.Unlock()
	return nil
}

func (t *contendedTarget) get(_ context.Context, key string, read func(io.Reader) (int64, error)) (int64, string, error) {
	if n := t.writesInFlight.Load(); n > 0 {
		t.readsBesideWrites.Add(1)
		time.Sleep(time.Duration(n) * t.readCostPerWrite)
	}
	t.mu.Lock()
	b, ok := t.blobs[key]
	t.mu.Unlock()
	if !ok {
		return 0, "", errNotFound
	}
	if t.corrupt != nil && t.corrupt(key) {
		b = bytes.Clone(b)
		b[len(b)/2] ^= 0x10
	}
	n, err := read(bytes.NewReader(b))
	return n, "hdd", err
}

func (t *contendedTarget) delete(context.Context, string) error { return nil }

// scenarioConfig is a short read-under-write run as the flags would give it.
func scenarioConfig(t *testing.T, phase time.Duration) benchConfig {
	t.Helper()
	cfg := benchConfig{
		Mode: "fake", Scenario: scenarioReadUnderWrite, Sizes: "1KiB", Keys: 40, KeyPrefix: "bench/", Zipf: 0.9,
		ReadConcurrency: 4, WriteSizes: "64KiB", WriteConcurrency: 2, Concurrency: 6,
		Duration: phase, Prefill: true, Seed: 5, ContentType: "application/octet-stream", Verify: true,
	}
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestReadUnderWriteContention runs the scenario on a target whose reads
// wait longer the more uploads are in flight. The report must show the
// mechanism: phase 1 reads only, phase 2 reads and uploads at once with
// reads slower than alone (ratio > 1), phase 3 uploads only; and every
// read verified.
func TestReadUnderWriteContention(t *testing.T) {
	target := newContendedTarget(2 * time.Millisecond)
	cfg := scenarioConfig(t, 400*time.Millisecond)
	res, err := runBenchmarkOn(context.Background(), cfg, target, stdio{out: io.Discard, err: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	sc := res.Scenario
	if sc == nil || len(sc.Phases) != 3 {
		t.Fatalf("scenario %+v, want three phases", sc)
	}
	for i, want := range []struct {
		name          string
		reads, writes bool
	}{{phaseReads, true, false}, {phaseReadsWithWrites, true, true}, {phaseWrites, false, true}} {
		p := sc.Phases[i]
		if p.Name != want.name || (p.Read.Ops > 0) != want.reads || (p.Write.Ops > 0) != want.writes {
			t.Errorf("phase %d: %s with %d reads and %d writes, want %s with reads %t writes %t",
				i, p.Name, p.Read.Ops, p.Write.Ops, want.name, want.reads, want.writes)
		}
		if p.Read.Errors+p.Write.Errors+p.Read.VerifyMismatch+p.Read.VerifyStale != 0 || p.Read.Verified != p.Read.Ops {
			t.Errorf("phase %s: errors %d/%d, verified %d of %d reads", p.Name, p.Read.Errors, p.Write.Errors, p.Read.Verified, p.Read.Ops)
		}
	}
	t.Logf("read latency with uploads / alone: p50 x%.1f p99 x%.1f", sc.ReadP50Ratio, sc.ReadP99Ratio)
	if c := sc.UploadCheck; c == nil || c.Verified != int64(cfg.WriteConcurrency*writerKeysPerClient) || c.VerifyMismatch+c.VerifyStale+c.Errors != 0 {
		t.Errorf("upload read-back %+v, want all %d writer keys verified", c, cfg.WriteConcurrency*writerKeysPerClient)
	}
	if f := res.failures(); len(f) != 0 {
		t.Errorf("failures %q", f)
	}
	if target.readsBesideWrites.Load() == 0 {
		t.Error("no read ran while an upload was in flight")
	}
	// Nearly every read beside the two uploads waits at least 2ms (1ms per
	// upload in flight); alone, reads wait for nothing and take
	// microseconds. The median tells the two apart whatever the machine's
	// load: a factor of 2 is far inside the difference. (The tail is not
	// asserted: one scheduling hiccup of a loaded machine moves it.)
	if sc.ReadP50Ratio <= 2 {
		t.Errorf("read p50 with uploads / alone x%.2f, want > 2 (phase 1 p50 %dus, phase 2 p50 %dus)",
			sc.ReadP50Ratio, sc.Phases[0].Read.Latency.P50, sc.Phases[1].Read.Latency.P50)
	}
	if sc.UploadMBPerSec <= 0 || sc.UploadSoloMBPerSec <= 0 || sc.UploadShare <= 0 ||
		sc.UploadShare != sc.UploadMBPerSec/sc.UploadSoloMBPerSec {
		t.Errorf("upload %g MB/s beside reads, %g alone, share %g", sc.UploadMBPerSec, sc.UploadSoloMBPerSec, sc.UploadShare)
	}
	// The run's totals are the phases' sums, and the series covers all
	// three phases in order.
	var reads, writes int64
	for _, p := range sc.Phases {
		reads, writes = reads+p.Read.Ops, writes+p.Write.Ops
	}
	if res.Read.Ops != reads || res.Write.Ops != writes {
		t.Errorf("totals %d reads %d writes, phases add up to %d and %d", res.Read.Ops, res.Write.Ops, reads, writes)
	}
	var phases []string
	for _, s := range res.Series {
		if len(phases) == 0 || phases[len(phases)-1] != s.Phase {
			phases = append(phases, s.Phase)
		}
	}
	if strings.Join(phases, ",") != "reads,reads+writes,writes" {
		t.Errorf("series phases %v", phases)
	}
}

// TestReadUnderWriteUploadCheck corrupts the uploads as they are read
// back: the read set stays clean, the read-back counts every upload as a
// mismatch, and the run fails.
func TestReadUnderWriteUploadCheck(t *testing.T) {
	target := newContendedTarget(time.Millisecond)
	cfg := scenarioConfig(t, 100*time.Millisecond)
	firstWriterKey := cfg.keyName(uint64(cfg.Keys))
	target.corrupt = func(key string) bool { return key >= firstWriterKey }
	res, err := runBenchmarkOn(context.Background(), cfg, target, stdio{out: io.Discard, err: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	c := res.Scenario.UploadCheck
	if c == nil || c.VerifyMismatch == 0 || c.Verified != 0 || len(c.ErrorSamples) == 0 {
		t.Fatalf("upload read-back %+v, want every upload a mismatch", c)
	}
	if res.Read.VerifyMismatch != 0 || res.Read.Verified != res.Read.Ops {
		t.Errorf("reads of the read set: %d mismatches, %d of %d verified", res.Read.VerifyMismatch, res.Read.Verified, res.Read.Ops)
	}
	if f := res.failures(); len(f) != 1 || !strings.Contains(f[0], "reading the uploads back") {
		t.Errorf("failures %q, want the read-back's", f)
	}
}

// TestReadUnderWriteCLI runs the scenario through the command line over
// HTTP (the fake node), open loop for the readers, and embedded, each
// with --verify and --json.
func TestReadUnderWriteCLI(t *testing.T) {
	_, addr := newFakeNode(t)
	for _, tc := range []struct {
		name string
		args []string
		mode string
	}{
		{name: "http, open-loop readers", args: []string{"--addr", addr, "--rate", "2000"}, mode: "http"},
		{name: "embedded", args: []string{"--embedded", filepath.Join(t.TempDir(), "store")}, mode: "embedded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			jsonPath := filepath.Join(t.TempDir(), "bench.json")
			args := append([]string{"bench", "--scenario", "read-under-write", "--verify", "--read-size", "1KiB", "--read-keys", "30",
				"--read-concurrency", "3", "--write-size", "32KiB:1,96KiB:1", "--write-concurrency", "2", "--duration", "250ms",
				"--seed", "9", "--json", jsonPath}, tc.args...)
			code, out, errOut := cliRun(t, "", args...)
			if code != exitOK {
				t.Fatalf("bench: exit %d\n%s\n%s", code, out, errOut)
			}
			for _, want := range []string{"scenario=read-under-write", "phase reads (", "phase reads+writes (", "phase writes (", "    upload: IOPS=",
				"read latency with uploads / alone: p50 x", "upload MB/s with reads / alone: "} {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
			b, err := os.ReadFile(jsonPath)
			if err != nil {
				t.Fatal(err)
			}
			var res benchResult
			if err := json.Unmarshal(b, &res); err != nil {
				t.Fatal(err)
			}
			if res.Config.Mode != tc.mode || res.Scenario == nil || len(res.Scenario.Phases) != 3 {
				t.Fatalf("mode %q scenario %+v", res.Config.Mode, res.Scenario)
			}
			if res.Read.Verified == 0 || res.Read.Verified != res.Read.Ops || res.Total.Errors != 0 || res.Write.Ops == 0 {
				t.Errorf("verified %d of %d reads, %d errors, %d uploads", res.Read.Verified, res.Read.Ops, res.Total.Errors, res.Write.Ops)
			}
			if res.Scenario.UploadSoloMBPerSec <= 0 || res.Scenario.ReadP50Ratio <= 0 {
				t.Errorf("scenario ratios %+v", res.Scenario)
			}
		})
	}
}
