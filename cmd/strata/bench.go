package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"strata/cmd/strata/internal/workload"
)

// benchConfig is one workload, as given on the command line.
type benchConfig struct {
	// Mode is "http" (a node at Addr) or "embedded" (the store opened
	// in-process on EmbeddedDir, with the layout of ConfigFile if given).
	Mode        string        `json:"mode"`
	Addr        string        `json:"addr,omitempty"`
	EmbeddedDir string        `json:"embedded_dir,omitempty"`
	ConfigFile  string        `json:"config_file,omitempty"`
	Sizes       string        `json:"sizes"`
	ReadRatio   float64       `json:"read_ratio"`
	Zipf        float64       `json:"zipf"`
	Keys        int           `json:"keys"`
	KeyPrefix   string        `json:"key_prefix"`
	Duration    time.Duration `json:"duration_ns"`
	Warmup      time.Duration `json:"warmup_ns"`
	MaxOps      int64         `json:"max_ops"`
	Concurrency int           `json:"concurrency"`
	Churn       float64       `json:"churn"`
	Prefill     bool          `json:"prefill"`
	Seed        uint64        `json:"seed"`
	ContentType string        `json:"content_type"`
	Verify      bool          `json:"verify"`
	Rate        float64       `json:"rate,omitempty"` // requests/s; 0 = closed loop

	token string
	sizes *workload.SizeMix
}

// benchLimits bound a run so a typo cannot turn into an unbounded load test.
const (
	maxBenchDuration    = 24 * time.Hour
	maxBenchConcurrency = 4096
	maxBenchKeys        = 1 << 30
	maxBenchRate        = 10_000_000
)

func runBench(ctx context.Context, s stdio, args []string) int {
	fs := newFlagSet("bench", "",
		"Drive a running node over HTTP with a closed-loop workload and print fio-style\n"+
			"figures: ops/s, MB/s, latency percentiles (HDR histogram) and the share of reads\n"+
			"served by each tier (X-Strata-Tier). The run stops at --duration or after --ops\n"+
			"operations, whichever comes first.\n\n"+
			"--embedded DIR opens the store in-process on DIR instead (hdd/, ssd/, index/\n"+
			"under it, the embedded layout's sizes, or the layout of --config FILE) and\n"+
			"drives it without HTTP, to isolate disk behaviour; every other flag works the\n"+
			"same. Not with --addr; no node may be serving DIR at the same time.\n\n"+
			"--rate R makes it an open loop: R requests/s across the clients, each latency\n"+
			"measured from the request's intended start, so a stall shows as latency.\n"+
			"--verify checks every GET's bytes against the key's last write; a content\n"+
			"mismatch or a stale read is its own error kind and makes the run exit 1.\n\n"+
			"Examples:\n"+
			"  strata bench --size 4KiB --read-ratio 1 --zipf 0.99 --keys 100000 --duration 30s\n"+
			"  strata bench --size 1MiB --read-ratio 0 --concurrency 16 --no-prefill\n"+
			"  strata bench --size 4KiB:90,1MiB:10 --read-ratio 0.9 --zipf 0.9 --churn 0.001\n"+
			"  strata bench --size 4KiB:90,1MiB:10 --read-ratio 0.5 --keys 1000 --verify\n"+
			"  strata bench --size 4KiB --read-ratio 1 --rate 2000 --concurrency 64\n"+
			"  strata bench --embedded /tmp/strata-bench --size 4KiB:90,1MiB:10 --verify")
	addr := fs.String("addr", envOr("STRATA_ADDR", defaultAddr), "node address, `URL` or host:port (env STRATA_ADDR)")
	token := fs.String("token", envOr("STRATA_TOKEN", ""), "bearer `TOKEN` for the node (env STRATA_TOKEN)")
	sizes := fs.String("size", "4KiB", "blob size, or a weighted `MIX` such as 4KiB:80,1MiB:20")
	readRatio := fs.Float64("read-ratio", 0.9, "fraction of operations that are GETs (the rest are PUTs), 0..1")
	zipf := fs.Float64("zipf", 0.99, "Zipf skew `ALPHA` of key popularity; 0 = uniform")
	keys := fs.Int("keys", 10000, "number of distinct keys")
	keyPrefix := fs.String("key-prefix", "bench/", "prefix of every key the benchmark touches")
	duration := fs.Duration("duration", 10*time.Second, "measured run time")
	warmup := fs.Duration("warmup", 0, "unmeasured run time before --duration starts")
	ops := fs.Int64("ops", 0, "stop after `N` measured operations (0: only --duration bounds the run)")
	concurrency := fs.Int("concurrency", 16, "parallel clients, one request each (with --rate: the most requests in flight)")
	rate := fs.Float64("rate", 0, "open loop: send `R` requests/s across the clients, latency measured from each request's intended start (0: closed loop)")
	churn := fs.Float64("churn", 0, "fraction of the key space the hot set moves per second, 0..1")
	noPrefill := fs.Bool("no-prefill", false, "do not write every key once before measuring (reads of unwritten keys then count as not found)")
	seed := fs.Uint64("seed", 0, "random seed (0: from the clock); printed so a run can be repeated")
	jsonFile := fs.String("json", "", "also write the result as JSON to `FILE`")
	hgrm := fs.String("hgrm", "", "also write latency distributions for plotting to `PREFIX`.read.hgrm and PREFIX.write.hgrm (HdrHistogram format, ms)")
	verify := fs.Bool("verify", false, "write content derived from (key, generation) and check every GET's bytes; content mismatches and stale reads are counted as their own errors and make the run exit 1 (sizes must be >= 24B)")
	contentType := fs.String("content-type", "application/octet-stream", "Content-Type of written blobs")
	embedded := fs.String("embedded", "", "open the store in-process on `DIR` (hdd/, ssd/, index/ under it) and drive it without HTTP; not with --addr")
	configFile := fs.String("config", "", "with --embedded: the TOML config `file` whose layout and sizes the store takes (docs/config.md), DIR replacing its data_dir")
	pos, code, ok := fs.parse(args, s)
	if !ok {
		return code
	}
	if len(pos) != 0 {
		return fs.usageError(s.err, "unexpected argument %q", pos[0])
	}
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	switch {
	case set["embedded"] && set["addr"]:
		return fs.usageError(s.err, "--embedded and --addr exclude each other: --embedded opens the store in-process, --addr drives a node over HTTP")
	case set["embedded"] && *embedded == "":
		return fs.usageError(s.err, "--embedded needs a DIR")
	case set["config"] && !set["embedded"]:
		return fs.usageError(s.err, "--config needs --embedded (over HTTP the node has its own config)")
	}
	mode := "http"
	if *embedded != "" {
		mode, *addr, *token = "embedded", "", ""
	}
	cfg := benchConfig{
		Mode: mode, EmbeddedDir: *embedded, ConfigFile: *configFile,
		Addr: *addr, token: *token, Sizes: *sizes, ReadRatio: *readRatio, Zipf: *zipf, Keys: *keys,
		KeyPrefix: *keyPrefix, Duration: *duration, Warmup: *warmup, MaxOps: *ops,
		Concurrency: *concurrency, Churn: *churn, Prefill: !*noPrefill, Seed: *seed, ContentType: *contentType,
		Verify: *verify, Rate: *rate,
	}
	if err := cfg.validate(); err != nil {
		return fs.usageError(s.err, "%v", err)
	}
	if cfg.Seed == 0 {
		cfg.Seed = uint64(time.Now().UnixNano())
	}
	res, err := runBenchmark(ctx, cfg, s)
	if err != nil {
		return fail(s, "bench", err)
	}
	res.print(s.out)
	if *jsonFile != "" {
		b, err := json.MarshalIndent(res, "", "  ")
		if err == nil {
			err = os.WriteFile(*jsonFile, append(b, '\n'), 0o644)
		}
		if err != nil {
			return fail(s, "bench", fmt.Errorf("writing --json: %w", err))
		}
	}
	if *hgrm != "" {
		if err := res.writeHgrm(*hgrm); err != nil {
			return fail(s, "bench", fmt.Errorf("writing --hgrm: %w", err))
		}
	}
	if res.Total.Errors > 0 {
		fmt.Fprintf(s.err, "strata bench: %d operations failed\n", res.Total.Errors)
		return exitError
	}
	if bad := res.Total.VerifyMismatch + res.Total.VerifyStale; bad > 0 {
		fmt.Fprintf(s.err, "strata bench: --verify: %d content mismatches, %d stale reads\n", res.Total.VerifyMismatch, res.Total.VerifyStale)
		return exitError
	}
	return exitOK
}

func (c *benchConfig) validate() error {
	var errs []string
	mix, err := workload.ParseSizeMix(c.Sizes)
	if err != nil {
		errs = append(errs, err.Error())
	}
	c.sizes = mix
	if c.ReadRatio < 0 || c.ReadRatio > 1 || math.IsNaN(c.ReadRatio) {
		errs = append(errs, "--read-ratio must be in 0..1")
	}
	if c.Zipf < 0 || math.IsNaN(c.Zipf) || math.IsInf(c.Zipf, 0) {
		errs = append(errs, "--zipf must be >= 0")
	}
	if c.Keys < 1 || c.Keys > maxBenchKeys {
		errs = append(errs, fmt.Sprintf("--keys must be in 1..%d", maxBenchKeys))
	}
	if c.Duration <= 0 || c.Duration > maxBenchDuration || c.Warmup < 0 || c.Warmup > maxBenchDuration {
		errs = append(errs, fmt.Sprintf("--duration must be in (0, %v] and --warmup in [0, %v]", maxBenchDuration, maxBenchDuration))
	}
	if c.MaxOps < 0 {
		errs = append(errs, "--ops must be >= 0")
	}
	if c.Concurrency < 1 || c.Concurrency > maxBenchConcurrency {
		errs = append(errs, fmt.Sprintf("--concurrency must be in 1..%d", maxBenchConcurrency))
	}
	if c.Verify && c.sizes != nil && c.sizes.Min() < verifyHeaderSize {
		errs = append(errs, fmt.Sprintf("--verify needs every --size >= %dB (the content header)", verifyHeaderSize))
	}
	if c.Rate < 0 || c.Rate > maxBenchRate || math.IsNaN(c.Rate) {
		errs = append(errs, fmt.Sprintf("--rate must be in 0..%d", maxBenchRate))
	}
	if c.Verify && c.Keys > maxVerifyKeys {
		errs = append(errs, fmt.Sprintf("--verify supports at most %d --keys", maxVerifyKeys))
	}
	if c.Churn < 0 || c.Churn > 1 || math.IsNaN(c.Churn) {
		errs = append(errs, "--churn must be in 0..1")
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// keyName is the key of index i: fixed width, so key order is index order.
func (c *benchConfig) keyName(i uint64) string {
	return fmt.Sprintf("%s%010d", c.KeyPrefix, i)
}

// payloadPoolSize bounds the random bytes held in memory for request bodies.
const payloadPoolSize = 16 << 20

// payloadReader yields n bytes of pool starting at off, wrapping around. The
// pool is random, so bodies do not compress; bodies larger than the pool
// repeat it only at pool distance, beyond one chunk.
type payloadReader struct {
	pool []byte
	off  int
	n    int64
}

func (p *payloadReader) Read(b []byte) (int, error) {
	if p.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(b)) > p.n {
		b = b[:p.n]
	}
	k := copy(b, p.pool[p.off:])
	p.off = (p.off + k) % len(p.pool)
	p.n -= int64(k)
	return k, nil
}

// newPayloadPool returns size random bytes from seed.
func newPayloadPool(size int64, seed uint64) []byte {
	size = max(min(size, payloadPoolSize), 4096)
	pool := make([]byte, size)
	var k [32]byte
	for i := range 4 {
		v := seed + uint64(i)*0x9e3779b97f4a7c15
		for j := range 8 {
			k[i*8+j] = byte(v >> (8 * j))
		}
	}
	r := rand.NewChaCha8(k)
	_, _ = r.Read(pool)
	return pool
}
