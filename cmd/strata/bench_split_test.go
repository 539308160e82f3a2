package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Shape of BenchmarkSplitListenerReadP99.
const (
	splitWriteConns   = 64                  // listen_write's (and, for the contrast, listen's) max_connections
	splitUploaders    = 2 * splitWriteConns // slow uploads at once: the limit, and as many queued behind it
	splitRounds       = 3
	splitReads        = 1000    // reads per phase
	splitReaders      = 4       // concurrent readers
	splitTrickle      = 1 << 10 // bytes a slow upload sends per tick
	splitTick         = 100 * time.Millisecond
	splitUploadSize   = 256 << 10 // a slow upload's body: 25 s at the trickle rate
	splitContrastWait = 2 * time.Second
)

// BenchmarkSplitListenerReadP99 measures the proof on the real
// binary: read p99 on listen_read while idle, then while slow uploads
// (trickling bodies) hold every connection of listen_write and as many
// more wait behind them, then idle again. Each read is a new connection
// (a new client), so the accept path is in what is measured. It reports
// both p99s and flood/idle (the goal: at most 1.5), idle being the mean of
// the idle phases (median of rounds). Then, for contrast, the same flood on the single
// listen with the same limit: the share of reads on listen not answered
// within 2s. Run it alone:
//
//	go test -run '^$' -bench SplitListenerReadP99 -benchtime=1x ./cmd/strata/
func BenchmarkSplitListenerReadP99(b *testing.B) {
	strataBinary(b)
	n := startNode(b, nodeOptions{
		cacheConfig: "ram_cache_size = \"16MiB\"\nssd_cache_size = \"0\"\nshutdown_timeout = \"2s\"\nlog_level = \"warn\"\n",
		extraConfig: splitConfig + fmt.Sprintf(`[limits]
max_uploads = %d
[http]
max_connections = %d
progress_timeout = "60s"
[http.read]
max_connections = 4096
[http.write]
max_connections = %d
`, 2*splitUploaders, splitWriteConns, splitWriteConns),
	})
	readAddr, writeAddr := splitAddrs(b, n)
	mainAddr := n.base[len("http://"):]
	body := make([]byte, 4<<10)
	req, _ := http.NewRequest(http.MethodPut, "http://"+writeAddr+"/blobs/hot", bytes.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusCreated {
		b.Fatalf("PUT hot: %v %v", resp, err)
	}
	resp.Body.Close()

	readP99(b, readAddr) // warm up: connections, caches, the runtime
	b.ResetTimer()
	// Rounds of idle then flood, so load elsewhere on the machine falls on
	// both; the medians are compared.
	var idles, floods []time.Duration
	for range splitRounds {
		idles = append(idles, readP99(b, readAddr))
		stop := slowUploads(b, writeAddr, splitUploaders)
		waitOpen(b, mainAddr, "listen_write", splitWriteConns)
		floods = append(floods, readP99(b, readAddr))
		stop()
	}
	idle, flood := median(idles), median(floods)
	b.ReportMetric(idle.Seconds()*1e3, "idle-p99-ms")
	b.ReportMetric(flood.Seconds()*1e3, "flood-p99-ms")
	b.ReportMetric(flood.Seconds()/idle.Seconds(), "flood/idle")

	// Contrast: the flood on listen, reads on listen.
	stop := slowUploads(b, mainAddr, splitUploaders)
	waitOpen(b, readAddr, "listen", splitWriteConns)
	var wg sync.WaitGroup
	var mu sync.Mutex
	late := 0
	const contrast = 20
	for range contrast {
		wg.Go(func() {
			c := &http.Client{Timeout: splitContrastWait, Transport: &http.Transport{DisableKeepAlives: true}}
			resp, err := c.Get(n.base + "/blobs/hot")
			if err == nil {
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			if err != nil {
				mu.Lock()
				late++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	stop()
	b.StopTimer()
	b.ReportMetric(float64(late)/contrast, "single-listen-late-share")
	b.Logf("read p99 on listen_read: idle %v, during %d slow uploads on listen_write (limit %d) %v: median flood/idle %.2f; on the single listen with the same flood, %d of %d reads got no answer within %v",
		idles, splitUploaders, splitWriteConns, floods, flood.Seconds()/idle.Seconds(), late, contrast, splitContrastWait)
}

// readP99 does splitReads GETs of "hot" on addr from splitReaders
// goroutines, each a new connection, and returns their p99.
func readP99(b *testing.B, addr string) time.Duration {
	b.Helper()
	h := hdrhistogram.New(1, int64(30*time.Second/time.Microsecond), 3)
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, splitReaders)
	for range splitReaders {
		wg.Go(func() {
			c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
			for range splitReads / splitReaders {
				start := time.Now()
				resp, err := c.Get("http://" + addr + "/blobs/hot")
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("GET hot: %s", resp.Status)
					}
				}
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				_ = h.RecordValue(time.Since(start).Microseconds())
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	return time.Duration(h.ValueAtQuantile(99)) * time.Microsecond
}

// slowUploads keeps count slow uploads going to addr: each dials, sends
// its headers and then splitTrickle bytes per splitTick, and starts over
// when its upload ends or is refused. stop ends them all and waits.
func slowUploads(b *testing.B, addr string, count int) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	chunk := make([]byte, splitTrickle)
	for i := range count {
		wg.Go(func() {
			for seq := 0; ctx.Err() == nil; seq++ {
				c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
				if err != nil {
					return
				}
				stopConn := context.AfterFunc(ctx, func() { c.Close() })
				fmt.Fprintf(c, "PUT /blobs/slow-%d-%d HTTP/1.1\r\nHost: localhost\r\nContent-Length: %d\r\nConnection: close\r\n\r\n", i, seq, splitUploadSize)
				t := time.NewTicker(splitTick)
				for sent := 0; sent < splitUploadSize && ctx.Err() == nil; sent += len(chunk) {
					if _, err := c.Write(chunk); err != nil {
						break
					}
					select {
					case <-t.C:
					case <-ctx.Done():
					}
				}
				t.Stop()
				stopConn()
				c.Close()
			}
		})
	}
	return func() {
		cancel()
		wg.Wait()
	}
}

// waitOpen waits until the node's metrics (scraped on addr) show want open
// connections on listener.
func waitOpen(b *testing.B, addr, listener string, want int) {
	b.Helper()
	line := fmt.Sprintf("strata_http_open_connections{listener=%q} %d", listener, want)
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for range 600 {
		resp, err := c.Get("http://" + addr + "/metrics")
		if err == nil {
			text, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.Contains(string(text), line+"\n") {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.Fatalf("metric %q never appeared", line)
}

// median of ds (the upper one of an even count).
func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
