package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"strata/internal/trace"
)

// writeSimTrace writes a small trace in both formats: a skewed mix of 1500
// objects of 1-64 KiB over 20000 requests (enough for Strata's SSD tier to
// have regions at 5% and 30%), the next accesses filled in.
const simTestRequests = 20000

func writeSimTrace(t *testing.T) (csvPath, oraclePath string, workingSet int64) {
	t.Helper()
	dir := t.TempDir()
	var csv strings.Builder
	csv.WriteString("time,key,size,op\n")
	var reqs []trace.Request
	seen := map[uint64]bool{}
	for i := range simTestRequests {
		id := uint64((i*i + 7*i) % 1500)
		if i%3 == 0 {
			id %= 100 // a hot set
		}
		q := trace.Request{Time: uint32(i), ID: id, Size: uint32(1024 * (1 + id%64)), NextAccess: trace.NoNextAccess}
		reqs = append(reqs, q)
		fmt.Fprintf(&csv, "%d,%d,%d,get\n", q.Time, q.ID, q.Size)
		if !seen[id] {
			seen[id] = true
			workingSet += int64(q.Size)
		}
	}
	last := map[uint64]int{}
	for i := len(reqs) - 1; i >= 0; i-- {
		if n, ok := last[reqs[i].ID]; ok {
			reqs[i].NextAccess = int64(n) + 1
		}
		last[reqs[i].ID] = i
	}
	var bin []byte
	for _, q := range reqs {
		bin = trace.AppendOracle(bin, q)
	}
	csvPath, oraclePath = filepath.Join(dir, "t.csv"), filepath.Join(dir, "t.bin")
	if err := os.WriteFile(csvPath, []byte(csv.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(oraclePath, bin, 0o600); err != nil {
		t.Fatal(err)
	}
	return csvPath, oraclePath, workingSet
}

func readSimJSON(t *testing.T, path string) (simReport, map[string]any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rep simReport
	var raw map[string]any
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	return rep, raw
}

// TestSimCLI replays a small generated trace in both formats through every
// policy and checks the JSON: its shape, one result per policy and size,
// the same numbers from the CSV and the oracleGeneral copy of the trace and
// from a second run with the same seed, and nothing on stderr off a
// terminal.
func TestSimCLI(t *testing.T) {
	csvPath, oraclePath, workingSet := writeSimTrace(t)
	dir := t.TempDir()
	run := func(name, path, format string) simReport {
		t.Helper()
		out := filepath.Join(dir, name+".json")
		code, stdout, stderr := cliRun(t, "", "sim", "--trace", path, "--format", format, "--sizes", "5%,30%", "--split", "1:3", "--seed", "7", "--json", out)
		if code != exitOK || stderr != "" {
			t.Fatalf("exit %d, stderr %q", code, stderr)
		}
		for _, want := range []string{"working set", "s3fifo", "belady", "vs admit-all"} {
			if !strings.Contains(stdout, want) {
				t.Errorf("output lacks %q:\n%s", want, stdout)
			}
		}
		rep, raw := readSimJSON(t, out)
		for _, k := range []string{"trace", "requests", "working_set_bytes", "results"} {
			if _, ok := raw[k]; !ok {
				t.Errorf("JSON lacks %q", k)
			}
		}
		first := raw["results"].([]any)[0].(map[string]any)
		for _, k := range []string{"policy", "cache_bytes", "ram_bytes", "ssd_bytes", "object_miss_ratio", "byte_miss_ratio", "ssd_bytes_written"} {
			if _, ok := first[k]; !ok {
				t.Errorf("JSON result lacks %q", k)
			}
		}
		return rep
	}
	fromCSV := run("csv", csvPath, "csv")
	fromOracle := run("oracle", oraclePath, "oracle")
	again := run("again", oraclePath, "oracle")
	if fromCSV.Requests != simTestRequests || fromCSV.WorkingSetBytes != workingSet {
		t.Errorf("requests %d, working set %d; want %d, %d", fromCSV.Requests, fromCSV.WorkingSetBytes, simTestRequests, workingSet)
	}
	for _, r := range fromCSV.Results {
		if r.Policy == "strata" && (r.SSDBytesWritten == 0 || r.SSDWrittenVsAdmitAll == 0) {
			t.Errorf("strata at %s wrote nothing to its SSD: the trace does not exercise it", r.Size)
		}
	}
	// 2 sizes x (strata, strata-admit-all, lru, fifo, s3fifo, sieve, wtinylfu, belady)
	if len(fromCSV.Results) != 16 {
		t.Fatalf("%d results, want 16", len(fromCSV.Results))
	}
	for i := range fromCSV.Results {
		c, o, a := fromCSV.Results[i], fromOracle.Results[i], again.Results[i]
		if c != o || o != a {
			t.Errorf("result %d differs:\ncsv    %+v\noracle %+v\nagain  %+v", i, c, o, a)
		}
		if c.Policy == "belady" {
			for _, r := range fromCSV.Results {
				if r.Size == c.Size && r.ObjectMissRatio < c.ObjectMissRatio {
					t.Errorf("%s at %s: object miss %.4f below Belady's %.4f", r.Policy, r.Size, r.ObjectMissRatio, c.ObjectMissRatio)
				}
			}
		}
	}
}

// TestSimCLIExactBaselines checks LRU and FIFO on a trace worked by hand:
// A B A C B A, 100 bytes each, in a 200-byte cache.
func TestSimCLIExactBaselines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.csv")
	if err := os.WriteFile(path, []byte("1,a,100\n2,b,100\n3,a,100\n4,c,100\n5,b,100\n6,a,100\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "r.json")
	code, _, stderr := cliRun(t, "", "sim", "--trace", path, "--format", "csv", "--ram", "100", "--ssd", "100", "--policies", "lru,fifo,belady", "--json", out)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	rep, _ := readSimJSON(t, out)
	want := map[string]int64{"lru": 5, "fifo": 4, "belady": 3} // Belady never caches C, requested once
	for _, r := range rep.Results {
		if r.Misses != want[r.Policy] || r.CacheBytes != 200 {
			t.Errorf("%s: %d misses at %d bytes, want %d at 200", r.Policy, r.Misses, r.CacheBytes, want[r.Policy])
		}
	}
}

func TestSimCLIErrors(t *testing.T) {
	_, oraclePath, _ := writeSimTrace(t)
	bad := filepath.Join(t.TempDir(), "bad.bin")
	if err := os.WriteFile(bad, make([]byte, 30), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"no trace", []string{"--sizes", "1%"}, exitUsage, "--trace is required"},
		{"no size", []string{"--trace", oraclePath}, exitUsage, "give --sizes"},
		{"both", []string{"--trace", oraclePath, "--sizes", "1%", "--ram", "1MiB", "--ssd", "1MiB"}, exitUsage, "not both"},
		{"zero", []string{"--trace", oraclePath, "--ram", "0", "--ssd", "0"}, exitUsage, "both 0"},
		{"ram only", []string{"--trace", oraclePath, "--ram", "1MiB"}, exitUsage, "--ssd is required"},
		{"bad format", []string{"--trace", oraclePath, "--format", "xml", "--sizes", "1%"}, exitUsage, "--format"},
		{"bad percent", []string{"--trace", oraclePath, "--sizes", "0%"}, exitUsage, "percentage"},
		{"bad split", []string{"--trace", oraclePath, "--sizes", "1%", "--split", "1-10"}, exitUsage, "--split"},
		{"bad policy", []string{"--trace", oraclePath, "--sizes", "1%", "--policies", "lru,arc"}, exitUsage, "unknown policy \"arc\""},
		{"missing file", []string{"--trace", oraclePath + ".nope", "--sizes", "1%"}, exitError, "no such file"},
		{"truncated record", []string{"--trace", bad, "--sizes", "1%"}, exitError, "truncated"},
		{"tiny size", []string{"--trace", oraclePath, "--sizes", "0.00001%"}, exitError, "0 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := cliRun(t, "", append([]string{"sim"}, tc.args...)...)
			if code != tc.wantCode || !strings.Contains(stderr, tc.wantErr) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr, tc.wantCode, tc.wantErr)
			}
		})
	}
}
