package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"strata/cmd/strata/internal/workload"
	"strata/internal/trace"
	"strata/tiering"
)

// simSize is one cache size asked for: a fraction of the working set, or
// bytes.
type simSize struct {
	label    string
	fraction float64 // > 0 when given as a percentage
	bytes    int64
}

type simConfig struct {
	tracePath string
	format    trace.Format
	sizes     []simSize
	split     [2]int64 // RAM:SSD, for --sizes
	ram, ssd  int64    // for --ram/--ssd
	policies  []string
	seed      uint64
	jsonPath  string
}

const simDefaultPolicies = "strata,lru,fifo,s3fifo,sieve,wtinylfu,belady"

func runSim(ctx context.Context, s stdio, args []string) int {
	fs := newFlagSet("sim", "--trace FILE [flags]",
		"Replay a trace of whole-object reads through Strata's cache policy (the admission and\n"+
			"SSD code `strata serve` runs, with a deterministic model of its RAM cache) and through\n"+
			"baselines at the same bytes, with no I/O, and print object and byte miss ratios, the\n"+
			"ratio to LRU and to the best online baseline (LRU, FIFO, S3-FIFO, SIEVE, W-TinyLFU), the SSD bytes\n"+
			"Strata writes against admitting every RAM eviction, and the RAM its SSD index costs per\n"+
			"SSD item. The baselines are single caches of RAM+SSD bytes; Belady (which knows the\n"+
			"future) is the bound, not a baseline. LRU always runs: the ratios need it.\n\n"+
			"Size the cache either with --ram and --ssd, or with --sizes (percentages of the trace's\n"+
			"working set, the bytes of its distinct objects, or byte sizes) divided by --split.\n"+
			"Equal --seed, equal numbers.\n\n"+
			"Formats: oracle is libCacheSim's oracleGeneral binary (24-byte little-endian records:\n"+
			"u32 time, u64 id, u32 size, i64 next access); csv is time,key,size[,op] per line, an\n"+
			"optional header, ops delete/del/remove skipped. Records of size 0 are skipped.\n\n"+
			"Examples:\n"+
			"  strata sim --trace t.oracleGeneral.bin --sizes 0.1%,1%,10%,30% --split 1:10\n"+
			"  strata sim --trace t.csv --format csv --ram 4GiB --ssd 400GiB --policies strata,lru\n"+
			"  strata sim --trace t.bin --sizes 10% --json result.json")
	tracePath := fs.String("trace", "", "trace `FILE` to replay (read twice: once for its working set)")
	format := fs.String("format", "oracle", "trace format: oracle or csv")
	ram := fs.String("ram", "", "RAM cache `SIZE` (with --ssd), e.g. 1GiB")
	ssd := fs.String("ssd", "", "SSD cache `SIZE` (with --ram), e.g. 100GiB")
	sizes := fs.String("sizes", "", "total cache sizes, comma-separated: `LIST` of percentages of the working set or sizes, e.g. 0.1%,1%,10%,30%")
	split := fs.String("split", "1:10", "RAM:SSD `RATIO` of each --sizes total")
	policies := fs.String("policies", simDefaultPolicies, "comma-separated `LIST` of policies: strata, lru, fifo, s3fifo, sieve, wtinylfu, belady")
	seed := fs.Uint64("seed", 1, "seed of the simulated RAM cache's hash: equal seeds give equal results")
	jsonPath := fs.String("json", "", "also write the results as JSON to `FILE`")
	pos, code, ok := fs.parse(args, s)
	if !ok {
		return code
	}
	if len(pos) != 0 {
		return fs.usageError(s.err, "unexpected argument %q", pos[0])
	}
	cfg, err := parseSimFlags(*tracePath, *format, *ram, *ssd, *sizes, *split, *policies)
	if err != nil {
		return fs.usageError(s.err, "%v", err)
	}
	cfg.seed, cfg.jsonPath = *seed, *jsonPath
	rep, err := simulate(ctx, cfg, progressWriter(s.err))
	if err != nil {
		return fail(s, "sim", err)
	}
	rep.print(s.out)
	if cfg.jsonPath != "" {
		if err := rep.writeJSON(cfg.jsonPath); err != nil {
			return fail(s, "sim", fmt.Errorf("writing --json: %w", err))
		}
	}
	return exitOK
}

func parseSimFlags(tracePath, format, ram, ssd, sizes, split, policies string) (simConfig, error) {
	cfg := simConfig{tracePath: tracePath, format: trace.Format(format)}
	var errs []string
	if tracePath == "" {
		errs = append(errs, "--trace is required")
	}
	if cfg.format != trace.FormatOracle && cfg.format != trace.FormatCSV {
		errs = append(errs, fmt.Sprintf("--format %q: want oracle or csv", format))
	}
	switch {
	case sizes != "" && (ram != "" || ssd != ""):
		errs = append(errs, "give either --sizes or --ram and --ssd, not both")
	case sizes != "":
		for _, f := range strings.Split(sizes, ",") {
			sz, err := parseSimSize(strings.TrimSpace(f))
			if err != nil {
				errs = append(errs, err.Error())
				continue
			}
			cfg.sizes = append(cfg.sizes, sz)
		}
		r, sd, ok := strings.Cut(split, ":")
		a, errA := strconv.ParseInt(r, 10, 64)
		b, errB := strconv.ParseInt(sd, 10, 64)
		if !ok || errA != nil || errB != nil || a < 0 || b < 0 || a+b == 0 || a > 1<<20 || b > 1<<20 {
			errs = append(errs, fmt.Sprintf("--split %q: want RAM:SSD, e.g. 1:10", split))
		}
		cfg.split = [2]int64{a, b}
	case ram != "" || ssd != "":
		var errRAM, errSSD error
		if cfg.ram, errRAM = parseSimBytes("--ram", ram); errRAM != nil {
			errs = append(errs, errRAM.Error())
		}
		if cfg.ssd, errSSD = parseSimBytes("--ssd", ssd); errSSD != nil {
			errs = append(errs, errSSD.Error())
		}
		if errRAM == nil && errSSD == nil && cfg.ram+cfg.ssd == 0 {
			errs = append(errs, "--ram and --ssd are both 0")
		}
		cfg.sizes = []simSize{{label: workload.FormatSize(cfg.ram + cfg.ssd), bytes: cfg.ram + cfg.ssd}}
	default:
		errs = append(errs, "give --sizes (e.g. 1%,10%) or --ram and --ssd")
	}
	for _, p := range strings.Split(policies, ",") {
		p = strings.TrimSpace(p)
		if !slices.Contains([]string{tiering.PolicyStrata, tiering.PolicyLRU, tiering.PolicyFIFO, tiering.PolicyS3FIFO, tiering.PolicySIEVE, tiering.PolicyWTinyLFU, tiering.PolicyBelady}, p) {
			errs = append(errs, fmt.Sprintf("--policies: unknown policy %q (want strata, lru, fifo, s3fifo, sieve, wtinylfu, belady)", p))
			continue
		}
		if !slices.Contains(cfg.policies, p) {
			cfg.policies = append(cfg.policies, p)
		}
	}
	if !slices.Contains(cfg.policies, tiering.PolicyLRU) {
		cfg.policies = append(cfg.policies, tiering.PolicyLRU)
	}
	if len(errs) > 0 {
		return simConfig{}, errors.New(strings.Join(errs, "; "))
	}
	return cfg, nil
}

// parseSimSize parses "10%" (of the working set) or a byte size.
func parseSimSize(s string) (simSize, error) {
	if p, ok := strings.CutSuffix(s, "%"); ok {
		f, err := strconv.ParseFloat(p, 64)
		if err != nil || !(f > 0 && f <= 100) {
			return simSize{}, fmt.Errorf("--sizes: %q: want a percentage in (0, 100]", s)
		}
		return simSize{label: s, fraction: f / 100}, nil
	}
	n, err := parseSimBytes("--sizes", s)
	if err != nil {
		return simSize{}, err
	}
	if n == 0 {
		return simSize{}, fmt.Errorf("--sizes: %q: a cache of 0 bytes", s)
	}
	return simSize{label: workload.FormatSize(n), bytes: n}, nil
}

func parseSimBytes(flag, s string) (int64, error) {
	if s == "" {
		return 0, fmt.Errorf("%s is required with the other of --ram/--ssd", flag)
	}
	n, err := workload.ParseSize(s)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", flag, err)
	}
	if n < 0 {
		return 0, fmt.Errorf("%s: %q is negative", flag, s)
	}
	return n, nil
}

// traceStats is what the first pass learns about a trace.
type traceStats struct {
	requests, bytes, workingSet int64
}

// openTrace opens the trace for one pass.
func openTrace(cfg simConfig) (trace.Reader, io.Closer, error) {
	f, err := os.Open(cfg.tracePath)
	if err != nil {
		return nil, nil, err
	}
	r, err := trace.New(f, cfg.format)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return r, f, nil
}

// scanTrace counts requests and the working set: the bytes of the distinct
// objects, each at the size of its last request (as libCacheSim counts).
func scanTrace(ctx context.Context, cfg simConfig) (traceStats, error) {
	r, c, err := openTrace(cfg)
	if err != nil {
		return traceStats{}, err
	}
	defer c.Close()
	var st traceStats
	sizes := map[uint64]int64{}
	for {
		q, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return traceStats{}, err
		}
		if st.requests%(1<<16) == 0 && ctx.Err() != nil {
			return traceStats{}, ctx.Err()
		}
		st.requests++
		st.bytes += int64(q.Size)
		st.workingSet += int64(q.Size) - sizes[q.ID]
		sizes[q.ID] = int64(q.Size)
	}
	if st.requests == 0 {
		return traceStats{}, fmt.Errorf("%s: no requests", cfg.tracePath)
	}
	return st, nil
}

// simRun is one simulated cache.
type simRun struct {
	size simSize
	sim  *tiering.Simulator
}

func simulate(ctx context.Context, cfg simConfig, progress io.Writer) (*simReport, error) {
	st, err := scanTrace(ctx, cfg)
	if err != nil {
		return nil, err
	}
	var runs []simRun
	for _, sz := range cfg.sizes {
		total := sz.bytes
		ram, ssd := cfg.ram, cfg.ssd
		if sz.fraction > 0 {
			total = int64(math.Floor(float64(st.workingSet) * sz.fraction))
		}
		if cfg.ram == 0 && cfg.ssd == 0 {
			ram = total * cfg.split[0] / (cfg.split[0] + cfg.split[1])
			ssd = total - ram
		}
		if total <= 0 {
			return nil, fmt.Errorf("cache size %s of a %d-byte working set is 0 bytes", sz.label, st.workingSet)
		}
		for _, p := range cfg.policies {
			names := []string{p}
			if p == tiering.PolicyStrata {
				names = append(names, tiering.PolicyStrataAdmitAll)
			}
			for _, name := range names {
				sim, err := tiering.NewSimulator(tiering.SimConfig{Policy: name, RAMBytes: ram, SSDBytes: ssd, Seed: cfg.seed})
				if err != nil {
					return nil, err
				}
				runs = append(runs, simRun{size: sz, sim: sim})
			}
		}
	}
	r, c, err := replayReader(cfg)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	for n := int64(0); ; n++ {
		q, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if n%(1<<14) == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if progress != nil {
				fmt.Fprintf(progress, "\rstrata sim: %d of %d requests (%.0f%%)", n, st.requests, 100*float64(n)/float64(st.requests))
			}
		}
		for _, run := range runs {
			run.sim.Get(q.ID, int64(q.Size), q.NextAccess)
		}
	}
	if progress != nil {
		fmt.Fprintf(progress, "\rstrata sim: %d of %d requests (100%%)\n", st.requests, st.requests)
	}
	return newSimReport(cfg, st, runs), nil
}

// replayReader opens the trace for the replay. A CSV trace carries no next
// accesses; Belady needs them, so it is read whole and they are computed.
func replayReader(cfg simConfig) (trace.Reader, io.Closer, error) {
	r, c, err := openTrace(cfg)
	if err != nil || cfg.format != trace.FormatCSV || !slices.Contains(cfg.policies, tiering.PolicyBelady) {
		return r, c, err
	}
	defer c.Close()
	reqs, err := trace.NextAccesses(r)
	if err != nil {
		return nil, nil, err
	}
	return &sliceReader{reqs: reqs}, io.NopCloser(nil), nil
}

type sliceReader struct {
	reqs []trace.Request
	next int
}

func (s *sliceReader) Next() (trace.Request, error) {
	if s.next == len(s.reqs) {
		return trace.Request{}, io.EOF
	}
	s.next++
	return s.reqs[s.next-1], nil
}

// progressWriter is w when it is a terminal, else nil: progress lines would
// only clutter a log or a pipe.
func progressWriter(w io.Writer) io.Writer {
	f, ok := w.(*os.File)
	if !ok {
		return nil
	}
	if _, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS); err != nil {
		return nil
	}
	return w
}
