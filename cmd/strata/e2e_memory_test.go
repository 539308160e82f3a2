package main

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"strata/node"
)

// memoryGoal is the most peak RSS may be, as a multiple of the memory
// budget the node computes from its configuration (docs/config.md).
const memoryGoal = 1.15

// memoryRun is one measurement: a node whose RAM cache is filled through
// its HTTP API, then read back, and its peak RSS against its budget.
type memoryRun struct {
	cacheMiB  int64
	fillRatio float64  // bytes PUT, as a multiple of the cache
	env       []string // extra environment for the node
}

type memoryResult struct {
	hwm, rssAnon, rssFile int64 // bytes, from /proc/PID/status
	budget, limit         int64 // what the node logged
	ratio                 float64
	puts, gets            int
}

// run starts a node (RAM cache only, small admission limits so the cache
// dominates the budget), PUTs blobs of 4 KiB to 128 KiB worth fillRatio
// times the cache (written through into the RAM cache while it has room), GETs every
// key once in random order (misses read from the HDD tier and refill the
// cache), then reads VmHWM.
func (m memoryRun) run(t testing.TB) memoryResult {
	n := startNode(t, nodeOptions{
		chunkSize: "1MiB", volumeSize: "1GiB", maxBlobSize: "64MiB",
		cacheConfig: fmt.Sprintf("ram_cache_size = \"%dMiB\"\nssd_cache_size = \"0\"\nlog_level = \"info\"\nshutdown_timeout = \"5s\"\n", m.cacheMiB),
		extraConfig: "[limits]\nmax_uploads = 8\nmax_reads = 8\n[http]\nmax_connections = 64\n",
		env:         append([]string{"GOMEMLIMIT="}, m.env...),
	})
	log, err := os.ReadFile(n.logPath)
	if err != nil {
		t.Fatal(err)
	}
	lm := regexp.MustCompile(`msg="memory limit" limit=(\S+) source=\S+ computed=(\S+)`).FindSubmatch(log)
	if lm == nil {
		t.Fatalf("no memory limit logged:\n%s", n.logTail())
	}
	var res memoryResult
	for i, dst := range []*int64{&res.limit, &res.budget} {
		v, err := node.ParseSize(string(lm[i+1]))
		if err != nil {
			t.Fatalf("logged size %q: %v", lm[i+1], err)
		}
		*dst = v
	}

	sizes := []int{4 << 10, 16 << 10, 64 << 10, 128 << 10}
	var keys []int
	for total, i := int64(0), 0; total < int64(float64(m.cacheMiB<<20)*m.fillRatio); i++ {
		keys = append(keys, sizes[i%len(sizes)])
		total += int64(sizes[i%len(sizes)])
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	defer client.CloseIdleConnections()
	do := func(method string, i int, body []byte) error {
		req, err := http.NewRequest(method, fmt.Sprintf("%s/blobs/mem/%07d", n.base, i), bytes.NewReader(body))
		if err != nil {
			return err
		}
		if body == nil {
			req.Body, req.ContentLength = nil, 0
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if want := map[string]int{http.MethodPut: 201, http.MethodGet: 200}[method]; resp.StatusCode != want {
			return fmt.Errorf("%s %d: %s", method, i, resp.Status)
		}
		return err
	}
	parallel := func(count int, op func(i int) error) {
		var next atomic.Int64
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for range 8 {
			wg.Go(func() {
				for i := int(next.Add(1) - 1); i < count; i = int(next.Add(1) - 1) {
					if err := op(i); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	}
	payload := make([]byte, 128<<10)
	for i := range payload {
		payload[i] = byte(i*7 + i/251)
	}
	parallel(len(keys), func(i int) error { return do(http.MethodPut, i, payload[:keys[i]]) })
	order := rand.New(rand.NewPCG(1, 2)).Perm(len(keys))
	parallel(len(order), func(i int) error { return do(http.MethodGet, order[i], nil) })
	res.puts, res.gets = len(keys), len(order)

	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", n.cmd.Process.Pid))
	if err != nil {
		t.Skipf("no /proc status for the node: %v", err)
	}
	for name, dst := range map[string]*int64{"VmHWM": &res.hwm, "RssAnon": &res.rssAnon, "RssFile": &res.rssFile} {
		sm := regexp.MustCompile(`(?m)^` + name + `:\s+(\d+) kB$`).FindSubmatch(status)
		if sm == nil {
			t.Fatalf("no %s in /proc status", name)
		}
		kb, _ := strconv.ParseInt(string(sm[1]), 10, 64)
		*dst = kb << 10
	}
	res.ratio = float64(res.hwm) / float64(res.budget)
	t.Logf("ram_cache_size %d MiB: %d PUTs, %d GETs; peak RSS %.0f MiB (anon %.0f, file %.0f now) over budget %.0f MiB (limit %.0f MiB) = %.3f",
		m.cacheMiB, res.puts, res.gets, float64(res.hwm)/(1<<20), float64(res.rssAnon)/(1<<20), float64(res.rssFile)/(1<<20),
		float64(res.budget)/(1<<20), float64(res.limit)/(1<<20), res.ratio)
	return res
}

// TestServeMemoryBound fills a 256 MiB RAM cache through the real binary
// and checks its peak RSS stays within memoryGoal of the budget it logs.
// Without the Go memory limit (GOMEMLIMIT=off) the collector lets the heap
// grow to twice the cache and the ratio is about 1.35.
func TestServeMemoryBound(t *testing.T) {
	if v := os.Getenv("STRATA_MEMTEST_ENV"); v != "" && !strings.Contains(v, "=") {
		t.Fatalf("STRATA_MEMTEST_ENV %q: want KEY=VALUE", v)
	}
	run := memoryRun{cacheMiB: 256, fillRatio: 1.25}
	if v := os.Getenv("STRATA_MEMTEST_ENV"); v != "" {
		run.env = []string{v} // e.g. GOMEMLIMIT=off, to see the test fail without the limit
	}
	if res := run.run(t); res.ratio > memoryGoal {
		t.Errorf("peak RSS %.0f MiB is %.3f times the %d MiB budget; the goal is at most %.2f",
			float64(res.hwm)/(1<<20), res.ratio, res.budget>>20, memoryGoal)
	}
}

// BenchmarkServeMemory reports peak RSS over the memory budget for larger
// caches: go test -run '^$' -bench ServeMemory -benchtime 1x ./cmd/strata/
// (STRATA_MEMBENCH_MIB sets the cache size, default 1024).
func BenchmarkServeMemory(b *testing.B) {
	mib := int64(1024)
	if v, err := strconv.ParseInt(os.Getenv("STRATA_MEMBENCH_MIB"), 10, 64); err == nil && v > 0 {
		mib = v
	}
	var res memoryResult
	for b.Loop() {
		res = memoryRun{cacheMiB: mib, fillRatio: 1.25}.run(b)
	}
	b.ReportMetric(res.ratio, "rss/budget")
	b.ReportMetric(float64(res.hwm)/(1<<20), "peak-rss-MiB")
}
