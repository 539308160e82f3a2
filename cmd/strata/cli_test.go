package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// cliRun runs the binary's dispatcher in-process.
func cliRun(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), stdio{in: strings.NewReader(stdin), out: &out, err: &errb}, args)
	return code, out.String(), errb.String()
}

func TestUsageAndHelp(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		wantCode int
		wantOut  string // substring of stdout
		wantErr  string // substring of stderr
	}{
		{args: nil, wantCode: exitUsage, wantErr: "Usage: strata <command>"},
		{args: []string{"help"}, wantCode: exitOK, wantOut: "Commands:"},
		{args: []string{"--help"}, wantCode: exitOK, wantOut: "Commands:"},
		{args: []string{"help", "get"}, wantCode: exitOK, wantOut: "Usage: strata get"},
		{args: []string{"help", "nope"}, wantCode: exitUsage, wantErr: "unknown command"},
		{args: []string{"nope"}, wantCode: exitUsage, wantErr: "unknown command \"nope\""},
		{args: []string{"put", "--help"}, wantCode: exitOK, wantOut: "-content-type"},
		{args: []string{"get", "-h"}, wantCode: exitOK, wantOut: "-range"},
		{args: []string{"rm", "--help"}, wantCode: exitOK, wantOut: "Usage: strata rm"},
		{args: []string{"ls", "--help"}, wantCode: exitOK, wantOut: "-start-after"},
		{args: []string{"stat", "--help"}, wantCode: exitOK, wantOut: "Usage: strata stat"},
		{args: []string{"bench", "--help"}, wantCode: exitOK, wantOut: "-read-ratio"},
		{args: []string{"version", "--help"}, wantCode: exitOK, wantOut: "Usage: strata version"},
		{args: []string{"sim", "--help"}, wantCode: exitOK, wantOut: "-policies"},
		{args: []string{"get"}, wantCode: exitUsage, wantErr: "want exactly one KEY"},
		{args: []string{"get", "a", "b"}, wantCode: exitUsage, wantErr: "want exactly one KEY"},
		{args: []string{"put"}, wantCode: exitUsage, wantErr: "want KEY"},
		{args: []string{"rm"}, wantCode: exitUsage, wantErr: "at least one KEY"},
		{args: []string{"ls", "x"}, wantCode: exitUsage, wantErr: "unexpected argument"},
		{args: []string{"ls", "--limit", "-1"}, wantCode: exitUsage, wantErr: "--limit"},
		{args: []string{"get", "--bogus", "k"}, wantCode: exitUsage, wantErr: "flag provided but not defined"},
		{args: []string{"get", "--addr", "ftp://x", "k"}, wantCode: exitUsage, wantErr: "scheme"},
		{args: []string{"bench", "--read-ratio", "2"}, wantCode: exitUsage, wantErr: "--read-ratio"},
		{args: []string{"bench", "--size", "4XB"}, wantCode: exitUsage, wantErr: "size"},
		{args: []string{"bench", "--rate", "-1"}, wantCode: exitUsage, wantErr: "--rate"},
		{args: []string{"bench", "--verify", "--size", "8B"}, wantCode: exitUsage, wantErr: "--verify needs"},
		{args: []string{"bench", "--help"}, wantCode: exitOK, wantOut: "-embedded DIR"},
		{args: []string{"bench", "--embedded", "d", "--addr", "127.0.0.1:1"}, wantCode: exitUsage, wantErr: "--embedded and --addr exclude each other"},
		{args: []string{"bench", "--embedded", ""}, wantCode: exitUsage, wantErr: "--embedded needs a DIR"},
		{args: []string{"bench", "--read-size", "4KiB"}, wantCode: exitUsage, wantErr: "--read-size needs --scenario read-under-write"},
		{args: []string{"bench", "--scenario", "read-under-write", "--size", "4KiB"}, wantCode: exitUsage, wantErr: "--size does not apply to --scenario"},
		{args: []string{"bench", "--scenario", "read-under-write", "--concurrency", "4"}, wantCode: exitUsage, wantErr: "--concurrency does not apply"},
		{args: []string{"bench", "--scenario", "nope"}, wantCode: exitUsage, wantErr: "--scenario \"nope\" is unknown"},
		{args: []string{"bench", "--scenario", "read-under-write", "--write-size", "1XB"}, wantCode: exitUsage, wantErr: "--write-size"},
		{args: []string{"bench", "--scenario", "read-under-write", "--read-concurrency", "0"}, wantCode: exitUsage, wantErr: "--read-concurrency and --write-concurrency"},
		{args: []string{"bench", "--scenario", "read-under-write", "--verify", "--write-size", "8B"}, wantCode: exitUsage, wantErr: "--verify needs every --write-size"},
		{args: []string{"bench", "--help"}, wantCode: exitOK, wantOut: "-plot-dir DIR"},
		{args: []string{"bench", "--help"}, wantCode: exitOK, wantOut: "--scenario read-under-write"},
		{args: []string{"bench", "--config", "strata.toml"}, wantCode: exitUsage, wantErr: "--config needs --embedded"},
		{args: []string{"version"}, wantCode: exitOK, wantOut: "strata "},
		{args: []string{"--version"}, wantCode: exitOK, wantOut: "strata "},
	} {
		t.Run(strings.Join(tc.args, "_"), func(t *testing.T) {
			code, out, errOut := cliRun(t, "", tc.args...)
			if code != tc.wantCode {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.wantCode, out, errOut)
			}
			if !strings.Contains(out, tc.wantOut) {
				t.Errorf("stdout %q lacks %q", out, tc.wantOut)
			}
			if !strings.Contains(errOut, tc.wantErr) {
				t.Errorf("stderr %q lacks %q", errOut, tc.wantErr)
			}
		})
	}
}

func TestClientRoundTripAgainstFake(t *testing.T) {
	fake, addr := newFakeNode(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "photo.jpg")
	content := bytes.Repeat([]byte("0123456789"), 1000)
	if err := os.WriteFile(src, content, 0o644); err != nil {
		t.Fatal(err)
	}
	key := "dir/photo 1.jpg"

	// Flags after positional arguments work, and a file's length is sent.
	code, out, errOut := cliRun(t, "", "put", key, src, "--addr", addr)
	if code != exitOK || !strings.HasPrefix(out, `"`) {
		t.Fatalf("put: exit %d out %q err %q", code, out, errOut)
	}
	if p := fake.lastPut(); p.key != key || p.contentLength != int64(len(content)) || p.chunked {
		t.Fatalf("put on the wire: %+v, want key %q, Content-Length %d", p, key, len(content))
	}
	if got, _ := fake.get(key); !bytes.Equal(got, content) {
		t.Fatal("stored bytes differ")
	}

	// stdin from a pipe goes chunked.
	if code, _, errOut := cliRun(t, "from stdin", "put", "--addr", addr, "--content-type", "text/plain", "stdin-key"); code != exitOK {
		t.Fatalf("put stdin: %s", errOut)
	}
	if p := fake.lastPut(); p.contentLength != -1 || !p.chunked {
		t.Fatalf("stdin put on the wire: %+v, want chunked", p)
	}
	// Empty body: explicit zero length.
	if code, _, errOut := cliRun(t, "", "put", "--addr", addr, "empty", "-"); code != exitOK {
		t.Fatalf("put empty: %s", errOut)
	}

	code, out, _ = cliRun(t, "", "get", "--addr", addr, key)
	if code != exitOK || out != string(content) {
		t.Fatalf("get to stdout: exit %d, %d bytes", code, len(out))
	}
	dst := filepath.Join(dir, "out.bin")
	if code, _, errOut := cliRun(t, "", "get", key, "-o", dst, "--addr", addr); code != exitOK {
		t.Fatal(errOut)
	}
	if got, _ := os.ReadFile(dst); !bytes.Equal(got, content) {
		t.Fatal("get -o wrote different bytes")
	}
	if code, out, _ := cliRun(t, "", "get", "--addr", addr, "--range", "10-19", key); code != exitOK || out != "0123456789" {
		t.Fatalf("range get: exit %d out %q", code, out)
	}

	code, out, _ = cliRun(t, "", "stat", "--addr", addr, key)
	for _, want := range []string{"size:          10000", "content-type:  image/jpeg", "tier:          ram", "etag:"} {
		if !strings.Contains(out, want) {
			t.Errorf("stat output lacks %q:\n%s", want, out)
		}
	}
	if code != exitOK {
		t.Fatalf("stat exit %d", code)
	}

	// Listing follows continuation: the fake pages two keys at a time.
	code, out, _ = cliRun(t, "", "ls", "--addr", addr)
	if want := "dir/photo 1.jpg\nempty\nstdin-key\n"; code != exitOK || out != want {
		t.Fatalf("ls: exit %d out %q want %q", code, out, want)
	}
	if _, out, _ = cliRun(t, "", "ls", "--addr", addr, "--limit", "2"); out != "dir/photo 1.jpg\nempty\n" {
		t.Fatalf("ls --limit 2: %q", out)
	}
	if _, out, _ = cliRun(t, "", "ls", "--addr", addr, "--start-after", "empty"); out != "stdin-key\n" {
		t.Fatalf("ls --start-after: %q", out)
	}
	if _, out, _ = cliRun(t, "", "ls", "--addr", addr, "--prefix", "dir/"); out != "dir/photo 1.jpg\n" {
		t.Fatalf("ls --prefix: %q", out)
	}
	_, out, _ = cliRun(t, "", "ls", "--addr", addr, "--json")
	var e listEntry
	if err := json.Unmarshal([]byte(strings.SplitN(out, "\n", 2)[0]), &e); err != nil || e.Size != 10000 {
		t.Fatalf("ls --json: %q (%v)", out, err)
	}

	if code, _, _ := cliRun(t, "", "rm", "--addr", addr, key); code != exitOK {
		t.Fatal("rm failed")
	}
	for _, args := range [][]string{{"get", key}, {"stat", key}, {"rm", key}} {
		code, _, errOut := cliRun(t, "", append(args, "--addr", addr)...)
		if code != exitError || !strings.Contains(errOut, "404") {
			t.Errorf("%v after rm: exit %d stderr %q, want 1 and a 404", args, code, errOut)
		}
	}
	if code, _, _ := cliRun(t, "", "rm", "-f", "--addr", addr, key); code != exitOK {
		t.Error("rm -f of a missing key failed")
	}
	// A failed get -o leaves no file behind.
	if code, _, _ := cliRun(t, "", "get", "--addr", addr, key, "-o", filepath.Join(dir, "missing")); code != exitError {
		t.Error("get of missing key succeeded")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 2 {
		t.Errorf("temp dir holds %d entries after a failed get, want 2", len(ents))
	}
}

func TestClientTokenFromEnv(t *testing.T) {
	fake, addr := newFakeNode(t)
	fake.token = "s3cret-token-0123456789"
	t.Setenv("STRATA_ADDR", addr)
	if code, _, errOut := cliRun(t, "x", "put", "k"); code != exitError || !strings.Contains(errOut, "401") {
		t.Fatalf("no token: exit %d %q", code, errOut)
	}
	t.Setenv("STRATA_TOKEN", fake.token)
	if code, _, errOut := cliRun(t, "x", "put", "k"); code != exitOK {
		t.Fatalf("token from env: exit %d %q", code, errOut)
	}
}

func TestBenchAgainstFake(t *testing.T) {
	_, addr := newFakeNode(t)
	jsonPath := filepath.Join(t.TempDir(), "bench.json")
	code, out, errOut := cliRun(t, "", "bench", "--addr", addr, "--size", "1KiB:3,4KiB:1", "--keys", "20",
		"--ops", "200", "--duration", "30s", "--concurrency", "4", "--zipf", "0.9", "--churn", "0.1", "--seed", "1", "--json", jsonPath, "--hgrm", filepath.Join(filepath.Dir(jsonPath), "lat"))
	if code != exitOK {
		t.Fatalf("bench: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"seed=1", "prefill: 20 keys", "read: IOPS=", "lat percentiles (usec): p50=", "tiers (share of reads): ram="} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	var res benchResult
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	if got := res.Total.Ops; got != 200 {
		t.Errorf("total ops %d, want exactly --ops 200", got)
	}
	for _, kind := range []string{"read", "write"} {
		b, err := os.ReadFile(filepath.Join(filepath.Dir(jsonPath), "lat."+kind+".hgrm"))
		if err != nil || !bytes.Contains(b, []byte("Percentile")) {
			t.Errorf("%s.hgrm: %v %q", kind, err, truncate(b, 100))
		}
	}
	if res.TierHitRatio["ram"] != 1 || res.Read.NotFound != 0 || res.Total.Errors != 0 {
		t.Errorf("result %+v", res)
	}
}

// TestBenchVerify runs --verify against the fake node, healthy and with a
// fault injected: a flipped byte must count as a mismatch, a stale version
// as a stale read, and either must make the run exit 1.
func TestBenchVerify(t *testing.T) {
	for _, tc := range []struct {
		name         string
		corrupt      bool
		stale        bool
		concurrency  string
		rate         string
		wantCode     int
		wantMismatch bool
		wantStale    bool
	}{
		{name: "healthy", wantCode: exitOK},
		// Eight writers race on three keys: a GET may see a newer
		// generation than the last acknowledged one, never an older one.
		{name: "healthy, concurrent writers", concurrency: "8", wantCode: exitOK},
		{name: "healthy, open loop", concurrency: "4", rate: "5000", wantCode: exitOK},
		{name: "flipped byte", corrupt: true, wantCode: exitError, wantMismatch: true},
		{name: "stale version", stale: true, wantCode: exitError, wantStale: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake, addr := newFakeNode(t)
			fake.corruptGets, fake.serveFirst = tc.corrupt, tc.stale
			concurrency, rate := cmp.Or(tc.concurrency, "1"), cmp.Or(tc.rate, "0")
			jsonPath := filepath.Join(t.TempDir(), "bench.json")
			// One worker and a fixed seed: the same sequence every run, and
			// with 3 keys and half writes many GETs follow an overwrite.
			code, out, errOut := cliRun(t, "", "bench", "--addr", addr, "--verify", "--size", "100B:1,5KiB:1,70KiB:1",
				"--keys", "3", "--read-ratio", "0.5", "--ops", "300", "--duration", "1m", "--concurrency", concurrency,
				"--rate", rate, "--seed", "7", "--json", jsonPath)
			if code != tc.wantCode {
				t.Fatalf("bench: exit %d, want %d\n%s\n%s", code, tc.wantCode, out, errOut)
			}
			b, err := os.ReadFile(jsonPath)
			if err != nil {
				t.Fatal(err)
			}
			var res benchResult
			if err := json.Unmarshal(b, &res); err != nil {
				t.Fatal(err)
			}
			r := res.Read
			if !res.Config.Verify || r.Errors != 0 || res.Write.Errors != 0 {
				t.Fatalf("result %+v", res)
			}
			if (r.VerifyMismatch > 0) != tc.wantMismatch || (r.VerifyStale > 0) != tc.wantStale {
				t.Errorf("verify_mismatch=%d verify_stale=%d, want mismatches %t stale %t", r.VerifyMismatch, r.VerifyStale, tc.wantMismatch, tc.wantStale)
			}
			if tc.corrupt && (r.Ops != 0 || r.Verified != 0) {
				t.Errorf("corrupt: %d GETs passed (%d verified), want every GET a mismatch", r.Ops, r.Verified)
			}
			if !tc.corrupt && !tc.stale && (r.Verified == 0 || r.Verified != r.Ops) {
				t.Errorf("healthy: verified %d of %d GETs", r.Verified, r.Ops)
			}
			if !strings.Contains(out, "verify_mismatch=") {
				t.Errorf("text output lacks the verify counts:\n%s", out)
			}
		})
	}
}

// TestBenchVerifierCatches checks the verifier directly: every byte of a
// body matters, and an intact older generation is stale, not a mismatch.
func TestBenchVerifierCatches(t *testing.T) {
	v := newBenchVerifier(2, 1)
	put1 := v.nextGeneration(1)
	v.finish(1, put1, true)
	gen1 := put1.gen
	body1, _ := io.ReadAll(v.body(1, gen1, 4096))
	gen2 := v.nextGeneration(1).gen
	body2, _ := io.ReadAll(v.body(1, gen2, 1000))
	otherKey, _ := io.ReadAll(v.body(0, 1, 4096))
	flip := func(b []byte, i int) []byte { b = bytes.Clone(b); b[i] ^= 0x80; return b }
	for _, tc := range []struct {
		name   string
		body   []byte
		oldest uint64
		want   error
	}{
		{"intact", body1, gen1, nil},
		{"in-flight newer generation", body2, gen1, nil},
		{"flipped header", flip(body1, 9), gen1, errVerifyMismatch},
		{"flipped payload", flip(body1, 4000), gen1, errVerifyMismatch},
		{"truncated", body1[:4095], gen1, errVerifyMismatch},
		{"too long", append(bytes.Clone(body1), 0), gen1, errVerifyMismatch},
		{"shorter than header", body1[:10], gen1, errVerifyMismatch},
		{"other key's content", otherKey, gen1, errVerifyMismatch},
		{"older than acknowledged", body1, gen2, errVerifyStale},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := v.check(1, tc.oldest, bytes.NewReader(tc.body))
			if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Fatalf("check = %d, %v; want %v", n, err, tc.want)
			}
		})
	}
}

// TestBenchOpenLoopShowsStall stalls one GET of the fake node for 200ms.
// Closed loop, only that request is slow: the client waited and sent
// nothing meanwhile (coordinated omission). Open loop at 200/s with one
// client, the requests due during the stall went out late and their
// latency, measured from their intended start, includes the wait: the
// ten due in its first 50ms are at least 150ms however loaded the machine,
// since load only adds latency.
func TestBenchOpenLoopShowsStall(t *testing.T) {
	const stall, slow = 200 * time.Millisecond, 150 * time.Millisecond
	slowReads := func(t *testing.T, rate float64) (int64, *benchResult) {
		fake, addr := newFakeNode(t)
		fake.stallAt, fake.stall = 5, stall
		cfg := benchConfig{
			Addr: addr, Sizes: "1KiB", ReadRatio: 1, Keys: 4, KeyPrefix: "bench/", Duration: time.Minute,
			MaxOps: 60, Concurrency: 1, Prefill: true, Seed: 3, ContentType: "application/octet-stream", Rate: rate,
		}
		if err := cfg.validate(); err != nil {
			t.Fatal(err)
		}
		res, err := runBenchmark(context.Background(), cfg, stdio{out: io.Discard, err: io.Discard})
		if err != nil {
			t.Fatal(err)
		}
		if res.Read.Ops != 60 || res.Total.Errors != 0 {
			t.Fatalf("result %+v", res)
		}
		var n int64
		for _, bar := range res.readHist.Distribution() {
			if bar.From >= slow.Microseconds() {
				n += bar.Count
			}
		}
		return n, res
	}
	closed, _ := slowReads(t, 0)
	open, res := slowReads(t, 200)
	if open < 11 {
		t.Errorf("open loop: %d reads >= %v, want >= 11 (the stalled one and those due in its first 50ms)", open, slow)
	}
	if closed < 1 || closed >= open {
		t.Errorf("closed loop: %d reads >= %v, want the stalled one and fewer than open loop's %d", closed, slow, open)
	}
	if res.LateStarts < 10 || res.AchievedRate <= 0 {
		t.Errorf("open loop: late_starts=%d achieved_rate=%g, want >= 10 late and a rate", res.LateStarts, res.AchievedRate)
	}
}

func TestOpenLoopScheduleIntendedStarts(t *testing.T) {
	start := time.Unix(1700000000, 0)
	for _, tc := range []struct {
		rate float64
		want []time.Duration
	}{
		{rate: 1000, want: []time.Duration{0, time.Millisecond, 2 * time.Millisecond}},
		{rate: 0.5, want: []time.Duration{0, 2 * time.Second, 4 * time.Second}},
	} {
		o := newOpenLoopSchedule(start, tc.rate)
		for i, want := range tc.want {
			if got := o.claim().Sub(start); got != want {
				t.Errorf("rate %g: request %d due at +%v, want +%v", tc.rate, i, got, want)
			}
		}
	}
}

// TestBenchVerifierOverlappingWrites: two overlapping PUTs of a key may
// commit in either order, so neither may be called stale; a PUT sent after
// both returned supersedes them.
func TestBenchVerifierOverlappingWrites(t *testing.T) {
	v := newBenchVerifier(1, 1)
	a, b := v.nextGeneration(0), v.nextGeneration(0)
	v.finish(0, b, true)
	v.finish(0, a, true)
	bodyA, _ := io.ReadAll(v.body(0, a.gen, 100))
	if _, err := v.check(0, v.oldestAllowed(0), bytes.NewReader(bodyA)); err != nil {
		t.Fatalf("generation %d after overlapping %d: %v, want accepted", a.gen, b.gen, err)
	}
	c := v.nextGeneration(0)
	v.finish(0, c, true)
	for _, p := range []putGeneration{a, b} {
		body, _ := io.ReadAll(v.body(0, p.gen, 100))
		if _, err := v.check(0, v.oldestAllowed(0), bytes.NewReader(body)); !errors.Is(err, errVerifyStale) {
			t.Errorf("generation %d after clean %d: %v, want %v", p.gen, c.gen, err, errVerifyStale)
		}
	}
}
