package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"strata/internal/faultproxy"
)

// partitioner cuts and heals the links between test nodes.
type partitioner interface {
	// isolate cuts node i off from every other node, both ways.
	isolate(i int)
	heal()
}

// proxyPartition: every node listens on its own loopback IP and is reached
// by the others only through its fault proxy (its advertised HTTP
// address); replica connections leave from the caller's listen IP, so a
// proxy can refuse one caller. Gossip is not proxied (it is UDP too): the
// members stay alive in every view and the partition shows on the data
// plane, as replica requests that fail.
type proxyPartition struct {
	proxies []*faultproxy.Proxy
	ips     []string
}

func (p *proxyPartition) isolate(i int) {
	for j, px := range p.proxies {
		if j == i {
			for k, ip := range p.ips {
				if k != i {
					px.Block(ip)
				}
			}
		} else {
			px.Block(p.ips[i])
		}
	}
}

func (p *proxyPartition) heal() {
	for _, px := range p.proxies {
		px.Heal()
	}
}

// TestE2EClusterPartitionProxy: without root, a fault-injecting TCP proxy
// between the nodes partitions one node off. The minority side refuses
// writes with 503, the majority side accepts them, and after healing every
// node converges on the same contents.
func TestE2EClusterPartitionProxy(t *testing.T) {
	pp := &proxyPartition{}
	opts := clusterOptions{nodes: 3, perNodeIP: true, replicaTimeout: "1s",
		httpAdvertise: func(i int, listen string) string {
			ip := fmt.Sprintf("127.0.0.%d", 11+i)
			px, err := faultproxy.New(ip+":0", listen)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { px.Close() })
			pp.proxies = append(pp.proxies, px)
			pp.ips = append(pp.ips, ip)
			return px.Addr()
		}}
	strataBinary(t) // skips with -short
	c := newTestCluster(t, opts)
	checkPartition(t, c, pp)
}

// checkPartition isolates node 0 and checks refusal, acceptance and
// convergence.
func checkPartition(t *testing.T, c *testCluster, p partitioner) {
	minority, majority := c.nodes[0], c.nodes[1]
	before := clusterKeys(t, c, "pre", 5, 1<<10, c.nodes...)
	p.isolate(0)
	want := map[string][]byte{}
	for key, body := range before {
		want[key] = body
	}
	for i := range 10 {
		key := fmt.Sprintf("minority/%d", i)
		r := c.do(context.Background(), http.MethodPut, minority.blobURL(key, false), []byte("refused on the minority side"))
		if r.err != nil || r.status != http.StatusServiceUnavailable {
			t.Fatalf("PUT on the minority side: %d %v %q, want 503\n%s", r.status, r.err, truncate(r.body, 200), c.logs())
		}
	}
	for i := range 20 {
		key := fmt.Sprintf("majority/%d", i)
		body := randomBytes(t, 2<<10)
		c.put(majority, key, body) // fails the test unless 201
		want[key] = body
	}
	p.heal()
	// Every node holds every key the majority acknowledged, from its own
	// disks, and all three agree on the minority's refused writes too
	// (they may have reached the minority's own disk: harmless, and then
	// anti-entropy spreads them; either way every node answers the same).
	for _, n := range c.nodes {
		waitHolds(c, n, want, 45*time.Second)
	}
	c.eventually(30*time.Second, "every node to agree on the refused writes", func() error {
		for i := range 10 {
			key := fmt.Sprintf("minority/%d", i)
			var first result
			for j, n := range c.nodes {
				r := c.do(context.Background(), http.MethodGet, n.blobURL(key, true), nil)
				if r.err != nil {
					return r.err
				}
				if j == 0 {
					first = r
				} else if r.status != first.status || !bytes.Equal(r.body, first.body) {
					return fmt.Errorf("%s: %s answers %d, %s answers %d", key, c.nodes[0].id, first.status, n.id, r.status)
				}
			}
		}
		return nil
	})
}
