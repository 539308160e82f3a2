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

	"github.com/aws/aws-sdk-go-v2/aws"

	"strata/cmd/strata/internal/workload"
	"strata/ioengine/devmodel"
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
	Rate        float64       `json:"rate,omitempty"` // requests/s (with a scenario: of the readers); 0 = closed loop
	// Scenario is "" (the mixed workload above) or "read-under-write",
	// whose readers use Sizes, Keys and ReadConcurrency and whose writers
	// use WriteSizes and WriteConcurrency; Concurrency is then their sum.
	Scenario         string `json:"scenario,omitempty"`
	ReadConcurrency  int    `json:"read_concurrency,omitempty"`
	WriteSizes       string `json:"write_sizes,omitempty"`
	WriteConcurrency int    `json:"write_concurrency,omitempty"`
	PlotDir          string `json:"plot_dir,omitempty"`
	// DeviceModel is the --device-model spec in canonical form (bench_device.go).
	DeviceModel string `json:"device_model,omitempty"`
	// S3Bucket, S3Region and S3Payload: mode "s3", the node's S3 endpoint
	// at Addr (bench_s3.go). The keys stay out of the JSON.
	S3Bucket  string `json:"s3_bucket,omitempty"`
	S3Region  string `json:"s3_region,omitempty"`
	S3Payload string `json:"s3_payload,omitempty"`

	token      string
	sizes      *workload.SizeMix
	writeSizes *workload.SizeMix
	progress   io.Writer // the progress line's terminal; nil: none

	deviceModel *devmodel.Model
	s3Creds     aws.Credentials
}

// benchLimits bound a run so a typo cannot turn into an unbounded load test.
const (
	maxBenchDuration    = 24 * time.Hour
	maxBenchConcurrency = 4096
	maxBenchKeys        = 1 << 30
	maxBenchRate        = 10_000_000
)

func runBench(ctx context.Context, s stdio, args []string) int {
	return runBenchWith(ctx, s, args, isTerminal)
}

// runBenchWith is runBench with the terminal check injected: the progress
// line goes to s.out only when terminal(s.out) says it is one.
func runBenchWith(ctx context.Context, s stdio, args []string, terminal func(io.Writer) bool) int {
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
			"--scenario read-under-write: readers (--read-size, --read-concurrency,\n"+
			"--read-keys, --zipf, --rate) GET a prefilled, warmed working set while writers\n"+
			"(--write-size, --write-concurrency) stream large uploads, in three phases of\n"+
			"--duration each: reads alone, reads with uploads, uploads alone. It reports read\n"+
			"p50/p99/p99.9 with uploads over alone and upload MB/s with reads over alone.\n"+
			"Not with --size, --read-ratio, --keys, --concurrency, --churn, --ops, --no-prefill.\n\n"+
			"--json FILE adds a per-second series and errors by kind (docs/bench-json.md);\n"+
			"--plot-dir DIR writes PNG plots: latency CDFs, throughput and p99 over time,\n"+
			"tier shares over time. On a terminal a progress line is rewritten each second.\n\n"+
			"--s3-bucket NAME drives the node's S3 endpoint at --addr instead (path-style,\n"+
			"SigV4 with --s3-access-key and --s3-secret-key, UNSIGNED-PAYLOAD or with\n"+
			"--s3-payload signed the body's SHA-256), to compare it with the native API.\n\n"+
			"Examples:\n"+
			"  strata bench --size 4KiB --read-ratio 1 --zipf 0.99 --keys 100000 --duration 30s\n"+
			"  strata bench --size 1MiB --read-ratio 0 --concurrency 16 --no-prefill\n"+
			"  strata bench --size 4KiB:90,1MiB:10 --read-ratio 0.9 --zipf 0.9 --churn 0.001\n"+
			"  strata bench --size 4KiB:90,1MiB:10 --read-ratio 0.5 --keys 1000 --verify\n"+
			"  strata bench --size 4KiB --read-ratio 1 --rate 2000 --concurrency 64\n"+
			"  strata bench --embedded /tmp/strata-bench --size 4KiB:90,1MiB:10 --verify\n"+
			"  strata bench --scenario read-under-write --duration 30s --verify --plot-dir plots/\n"+
			"  strata bench --addr 127.0.0.1:9000 --s3-bucket bench --size 1MiB --read-ratio 0 --no-prefill")
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
	deviceModel := addDeviceModelFlag(fs)
	configFile := fs.String("config", "", "with --embedded: the TOML config `file` whose layout and sizes the store takes (docs/config.md), DIR replacing its data_dir")
	scenario := fs.String("scenario", "", "run a `NAME`d scenario instead of the mixed workload: read-under-write")
	readSize := fs.String("read-size", "4KiB", "read-under-write: size `MIX` of the readers' working set")
	readConcurrency := fs.Int("read-concurrency", 8, "read-under-write: parallel readers (with --rate: the most reads in flight)")
	readKeys := fs.Int("read-keys", 10000, "read-under-write: keys in the readers' working set")
	writeSize := fs.String("write-size", "8MiB", "read-under-write: size `MIX` of each upload")
	writeConcurrency := fs.Int("write-concurrency", 8, "read-under-write: parallel uploads (closed loop)")
	s3Flags := addS3BenchFlags(fs)
	plotDir := fs.String("plot-dir", "", "also write PNG plots to `DIR`: latency CDF, throughput and p99 per second, tier shares over time")
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
	scenarioFlags := []string{"read-size", "read-concurrency", "read-keys", "write-size", "write-concurrency"}
	mixedFlags := []string{"size", "read-ratio", "keys", "concurrency", "churn", "ops", "no-prefill"}
	for _, name := range scenarioFlags {
		if set[name] && *scenario == "" {
			return fs.usageError(s.err, "--%s needs --scenario read-under-write", name)
		}
	}
	for _, name := range mixedFlags {
		if set[name] && *scenario != "" {
			return fs.usageError(s.err, "--%s does not apply to --scenario %s (its flags: --%s)", name, *scenario, strings.Join(scenarioFlags, ", --"))
		}
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
		Verify: *verify, Rate: *rate, PlotDir: *plotDir,
	}
	if *scenario != "" {
		cfg.Scenario, cfg.Sizes, cfg.Keys, cfg.ReadRatio, cfg.Churn, cfg.Prefill = *scenario, *readSize, *readKeys, 0, 0, true
		cfg.ReadConcurrency, cfg.WriteSizes, cfg.WriteConcurrency = *readConcurrency, *writeSize, *writeConcurrency
		cfg.Concurrency = *readConcurrency + *writeConcurrency
	}
	if err := s3Flags.apply(&cfg, set); err != nil {
		return fs.usageError(s.err, "%v", err)
	}
	if terminal(s.out) {
		cfg.progress = s.out
	}
	if err := cfg.validate(); err != nil {
		return fs.usageError(s.err, "%v", err)
	}
	if err := cfg.setDeviceModel(*deviceModel); err != nil {
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
	if cfg.PlotDir != "" {
		files, err := res.writePlots(cfg.PlotDir)
		if err != nil {
			return fail(s, "bench", fmt.Errorf("writing --plot-dir: %w", err))
		}
		fmt.Fprintf(s.out, "plots: %s\n", strings.Join(files, " "))
	}
	if failures := res.failures(); len(failures) > 0 {
		for _, f := range failures {
			fmt.Fprintf(s.err, "strata bench: %s\n", f)
		}
		return exitError
	}
	return exitOK
}

// failures says why a run that produced figures still failed: operations
// that failed, and --verify's mismatches and stale reads.
func (r *benchResult) failures() []string {
	var f []string
	if r.Total.Errors > 0 {
		f = append(f, fmt.Sprintf("%d operations failed", r.Total.Errors))
	}
	if bad := r.Total.VerifyMismatch + r.Total.VerifyStale; bad > 0 {
		f = append(f, fmt.Sprintf("--verify: %d content mismatches, %d stale reads", r.Total.VerifyMismatch, r.Total.VerifyStale))
	}
	if sc := r.Scenario; sc != nil && sc.UploadCheck != nil {
		if c := sc.UploadCheck; c.VerifyMismatch+c.VerifyStale+c.Errors > 0 {
			f = append(f, fmt.Sprintf("--verify: reading the uploads back: %d content mismatches, %d stale, %d failed", c.VerifyMismatch, c.VerifyStale, c.Errors))
		}
	}
	return f
}

func (c *benchConfig) validate() error {
	var errs []string
	// A scenario's readers take --read-size and --read-keys for these.
	sizeFlag, keysFlag := "--size", "--keys"
	if c.Scenario != "" {
		sizeFlag, keysFlag = "--read-size", "--read-keys"
	}
	mix, err := workload.ParseSizeMix(c.Sizes)
	if err != nil {
		errs = append(errs, sizeFlag+": "+err.Error())
	}
	c.sizes = mix
	if c.ReadRatio < 0 || c.ReadRatio > 1 || math.IsNaN(c.ReadRatio) {
		errs = append(errs, "--read-ratio must be in 0..1")
	}
	if c.Zipf < 0 || math.IsNaN(c.Zipf) || math.IsInf(c.Zipf, 0) {
		errs = append(errs, "--zipf must be >= 0")
	}
	if c.Keys < 1 || c.Keys > maxBenchKeys {
		errs = append(errs, fmt.Sprintf("%s must be in 1..%d", keysFlag, maxBenchKeys))
	}
	if c.Duration <= 0 || c.Duration > maxBenchDuration || c.Warmup < 0 || c.Warmup > maxBenchDuration {
		errs = append(errs, fmt.Sprintf("--duration must be in (0, %v] and --warmup in [0, %v]", maxBenchDuration, maxBenchDuration))
	}
	if c.MaxOps < 0 {
		errs = append(errs, "--ops must be >= 0")
	}
	if c.Scenario == "" && (c.Concurrency < 1 || c.Concurrency > maxBenchConcurrency) {
		errs = append(errs, fmt.Sprintf("--concurrency must be in 1..%d", maxBenchConcurrency))
	}
	if c.Verify && c.sizes != nil && c.sizes.Min() < verifyHeaderSize {
		errs = append(errs, fmt.Sprintf("--verify needs every %s >= %dB (the content header)", sizeFlag, verifyHeaderSize))
	}
	if c.Rate < 0 || c.Rate > maxBenchRate || math.IsNaN(c.Rate) {
		errs = append(errs, fmt.Sprintf("--rate must be in 0..%d", maxBenchRate))
	}
	if c.Scenario == "" && c.Verify && c.Keys > maxVerifyKeys {
		errs = append(errs, fmt.Sprintf("--verify supports at most %d --keys", maxVerifyKeys))
	}
	switch c.Scenario {
	case "":
	case scenarioReadUnderWrite:
		mix, err := workload.ParseSizeMix(c.WriteSizes)
		if err != nil {
			errs = append(errs, "--write-size: "+err.Error())
		}
		c.writeSizes = mix
		if c.Verify && mix != nil && mix.Min() < verifyHeaderSize {
			errs = append(errs, fmt.Sprintf("--verify needs every --write-size >= %dB (the content header)", verifyHeaderSize))
		}
		if c.ReadConcurrency < 1 || c.WriteConcurrency < 1 || c.Concurrency > maxBenchConcurrency {
			errs = append(errs, fmt.Sprintf("--read-concurrency and --write-concurrency must be >= 1 and add up to at most %d", maxBenchConcurrency))
		}
		if c.Verify && c.Keys+c.WriteConcurrency*writerKeysPerClient > maxVerifyKeys {
			errs = append(errs, fmt.Sprintf("--verify supports at most %d --read-keys plus %d per writer", maxVerifyKeys, writerKeysPerClient))
		}
	default:
		errs = append(errs, fmt.Sprintf("--scenario %q is unknown (known: %s)", c.Scenario, scenarioReadUnderWrite))
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
