package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestE2ECrashRecovery runs concurrent PUTs (up to several chunks), DELETEs
// and checked GETs (read-your-writes through the caches) against the real
// binary, kill -9s it at a random moment, restarts
// it on the same directories and checks that every acknowledged write reads
// back byte-exact, every acknowledged delete stays gone, and a key whose
// operation was in flight at the kill holds its old or its new content,
// never anything torn. The listing must agree with the reads.
//
// Environment: STRATA_CRASH_CYCLES (default 5), STRATA_CRASH_SEED (default
// from the clock; printed), STRATA_CRASH_BUDGET (a duration: stop starting
// new cycles once it is spent; default none).
func TestE2ECrashRecovery(t *testing.T) {
	cycles := envInt(t, "STRATA_CRASH_CYCLES", 5)
	seed := uint64(envInt(t, "STRATA_CRASH_SEED", int(time.Now().UnixNano()&(1<<62-1))))
	var budget time.Duration
	if s := os.Getenv("STRATA_CRASH_BUDGET"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("STRATA_CRASH_BUDGET: %v", err)
		}
		budget = d
	}
	t.Logf("crash test: seed=%d cycles=%d (repeat with STRATA_CRASH_SEED=%d)", seed, cycles, seed)
	fmt.Fprintf(os.Stderr, "TestE2ECrashRecovery: seed=%d\n", seed)

	const workers, keysPerWorker = 4, 12
	opts := nodeOptions{chunkSize: "1MiB", maxBlobSize: "64MiB", volumeSize: "32MiB"}
	n := startNode(t, opts)
	opts = n.opts // keep the data directory across restarts
	model := newCrashModel(workers * keysPerWorker)
	rng := rand.New(rand.NewPCG(seed, 0))
	start := time.Now()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	defer client.CloseIdleConnections()

	for cycle := range cycles {
		if budget > 0 && time.Since(start) > budget {
			t.Logf("budget %v spent after %d cycles", budget, cycle)
			break
		}
		var stopping atomic.Bool
		var wg sync.WaitGroup
		for w := range workers {
			wseed := rng.Uint64()
			wg.Go(func() {
				r := rand.New(rand.NewPCG(wseed, uint64(w)))
				for !stopping.Load() {
					k := w + workers*r.IntN(keysPerWorker) // each key belongs to one worker
					model.step(t, client, n.base, k, r)
				}
			})
		}
		delay := time.Duration(200+rng.IntN(1300)) * time.Millisecond
		time.Sleep(delay)
		stopping.Store(true)
		n.kill()
		wg.Wait()
		client.CloseIdleConnections()
		acked, uncertain := model.counts()
		restartAt := time.Now()
		n = startNode(t, opts)
		verifyAt := time.Now()
		model.verify(t, client, n.base)
		t.Logf("cycle %d: killed after %v; %d acknowledged ops so far, %d in flight at kills; restart took %v, verify %v",
			cycle, delay, acked, uncertain, verifyAt.Sub(restartAt).Round(time.Millisecond), time.Since(verifyAt).Round(time.Millisecond))
		if t.Failed() {
			t.Fatalf("seed=%d cycle=%d: verification failed\nnode log:\n%s", seed, cycle, n.logTail())
		}
	}
}

func envInt(t *testing.T, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("%s=%q: %v", name, s, err)
	}
	return v
}

// blobState is what a key holds: absent, or content of a size and hash.
type blobState struct {
	present bool
	size    int64
	sum     [sha256.Size]byte
}

func (s blobState) String() string {
	if !s.present {
		return "absent"
	}
	return fmt.Sprintf("%d bytes sha256 %x", s.size, s.sum[:6])
}

// keyModel is what the node may hold for one key: the last acknowledged
// state, or the state of any operation issued after it that was not
// acknowledged (it failed or was cut off by the kill).
type keyModel struct {
	mu        sync.Mutex
	acked     blobState
	uncertain []blobState
}

type crashModel struct {
	keys           []*keyModel
	ackedOps       atomic.Int64
	uncertainTotal atomic.Int64
}

func newCrashModel(n int) *crashModel {
	m := &crashModel{keys: make([]*keyModel, n)}
	for i := range m.keys {
		m.keys[i] = &keyModel{}
	}
	return m
}

func crashKey(i int) string { return fmt.Sprintf("crash/%03d", i) }

func (m *crashModel) counts() (acked, uncertain int64) {
	return m.ackedOps.Load(), m.uncertainTotal.Load()
}

// crashSizes mixes small blobs, blobs of a few chunks (1 MiB chunks) and
// an occasional large one.
func crashSize(r *rand.Rand) int64 {
	switch p := r.IntN(100); {
	case p < 50:
		return int64(r.IntN(16 << 10))
	case p < 85:
		return int64(r.IntN(1 << 20))
	default:
		return int64(1<<20 + r.IntN(6<<20))
	}
}

// step issues one PUT, DELETE or GET for key k and records its outcome.
func (m *crashModel) step(t *testing.T, c *http.Client, base string, k int, r *rand.Rand) {
	km := m.keys[k]
	target := base + "/blobs/" + url.PathEscape(crashKey(k))
	p := r.IntN(100)
	if p < 20 {
		m.checkLive(t, c, target, k)
		return
	}
	var next blobState
	var req *http.Request
	var h hash.Hash
	if p < 80 {
		size := crashSize(r)
		h = sha256.New()
		body := io.TeeReader(newPatternReader(r.Uint64(), size), h)
		req, _ = http.NewRequest(http.MethodPut, target, body)
		req.ContentLength = size
		if size == 0 {
			req.Body = http.NoBody
		}
		next = blobState{present: true, size: size}
	} else {
		req, _ = http.NewRequest(http.MethodDelete, target, nil)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	resp, err := c.Do(req.WithContext(ctx))
	status := 0
	if err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		status = resp.StatusCode
	}
	if h != nil {
		copy(next.sum[:], h.Sum(nil))
	}
	km.mu.Lock()
	defer km.mu.Unlock()
	switch {
	case err == nil && req.Method == http.MethodPut && status == http.StatusCreated,
		err == nil && req.Method == http.MethodDelete && status == http.StatusNoContent:
		km.acked, km.uncertain = next, nil
		m.ackedOps.Add(1)
	case err == nil && req.Method == http.MethodDelete && status == http.StatusNotFound:
		// The node says the key is absent; with one writer per key that
		// is the acknowledged state now.
		km.acked, km.uncertain = blobState{}, nil
		m.ackedOps.Add(1)
	default:
		if err == nil && status != http.StatusServiceUnavailable {
			t.Errorf("%s %s: unexpected status %d from a live node", req.Method, crashKey(k), status)
		}
		km.uncertain = append(km.uncertain, next)
		m.uncertainTotal.Add(1)
	}
}

// checkLive reads key k from the live node: it must hold one of the states
// the model allows (read-your-writes, and caches never serve stale or torn
// bytes). A read cut off by the kill proves nothing and is ignored.
func (m *crashModel) checkLive(t *testing.T, c *http.Client, target string, k int) {
	seen, err := readState(c, target)
	if err != nil {
		return
	}
	km := m.keys[k]
	km.mu.Lock()
	defer km.mu.Unlock()
	if allowed := append([]blobState{km.acked}, km.uncertain...); !slices.Contains(allowed, seen) {
		t.Errorf("live GET %s: holds %v; acknowledged %v, in flight %v", crashKey(k), seen, km.acked, km.uncertain)
	}
}

// readState GETs target and summarizes what it holds.
func readState(c *http.Client, target string) (blobState, error) {
	resp, err := c.Get(target)
	if err != nil {
		return blobState{}, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		h := sha256.New()
		n, err := io.Copy(h, resp.Body)
		if err != nil {
			return blobState{}, fmt.Errorf("body cut after %d bytes: %w", n, err)
		}
		s := blobState{present: true, size: n}
		copy(s.sum[:], h.Sum(nil))
		return s, nil
	case http.StatusNotFound:
		return blobState{}, nil
	default:
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return blobState{}, fmt.Errorf("%s %q", resp.Status, b)
	}
}

// verify reads every key from the restarted node and checks it against the
// model; what it saw becomes the acknowledged state.
func (m *crashModel) verify(t *testing.T, c *http.Client, base string) {
	t.Helper()
	present := map[string]int64{}
	for i, km := range m.keys {
		key := crashKey(i)
		seen, err := readState(c, base+"/blobs/"+url.PathEscape(key))
		if err != nil {
			t.Errorf("GET %s after restart: %v", key, err)
			continue
		}
		if seen.present {
			present[key] = seen.size
		}
		km.mu.Lock()
		allowed := append([]blobState{km.acked}, km.uncertain...)
		if !slices.Contains(allowed, seen) {
			t.Errorf("%s after restart holds %v; acknowledged %v, in flight %v", key, seen, km.acked, km.uncertain)
		}
		km.acked, km.uncertain = seen, nil
		km.mu.Unlock()
	}
	listed, err := listAllRaw(c, base, "crash/")
	if err != nil {
		t.Errorf("listing after restart: %v", err)
		return
	}
	if len(listed) != len(present) {
		t.Errorf("listing has %d keys, reads found %d: %v vs %v", len(listed), len(present), listed, present)
	}
	for k, size := range listed {
		if got, ok := present[k]; !ok || got != size {
			t.Errorf("listing says %s has %d bytes; GET found present=%v size %d", k, size, ok, got)
		}
	}
}

// listAllRaw follows the listing's continuation and returns key -> size.
func listAllRaw(c *http.Client, base, prefix string) (map[string]int64, error) {
	out := map[string]int64{}
	after := ""
	for range 1000 {
		resp, err := c.Get(base + "/blobs?" + url.Values{"prefix": {prefix}, "start-after": {after}}.Encode())
		if err != nil {
			return nil, err
		}
		var page listPage
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("list: %s %q", resp.Status, body)
		}
		if err := json.NewDecoder(bytes.NewReader(body)).Decode(&page); err != nil {
			return nil, err
		}
		for _, e := range page.Keys {
			out[e.Key] = e.Size
		}
		if !page.Truncated {
			return out, nil
		}
		after = page.NextStartAfter
	}
	return nil, errors.New("listing did not end")
}

// patternReader yields size pseudo-random bytes from seed, without holding
// them: the test's memory stays small however large the blobs.
type patternReader struct {
	src  *rand.ChaCha8
	left int64
}

func newPatternReader(seed uint64, size int64) *patternReader {
	var k [32]byte
	for i := range 8 {
		k[i] = byte(seed >> (8 * i))
	}
	return &patternReader{src: rand.NewChaCha8(k), left: size}
}

func (p *patternReader) Read(b []byte) (int, error) {
	if p.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(b)) > p.left {
		b = b[:p.left]
	}
	n, _ := p.src.Read(b)
	p.left -= int64(n)
	return n, nil
}
