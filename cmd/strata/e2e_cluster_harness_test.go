package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"strata/internal/testport"
)

// The cluster end-to-end tests run N real `strata serve` processes on
// loopback that form a cluster by gossip, as an operator would start them:
// flags for the cluster, a config file for the small test sizes. Each node
// keeps its data directory, ports and node id across stop, kill and
// restart; wipe empties its data directory.

// clusterOptions configure a test cluster.
type clusterOptions struct {
	nodes                              int
	replicas, writeQuorum, readQuorum  int    // 0: the binary's defaults (3, 2, 2)
	antiEntropy                        string // cluster.anti_entropy_interval; default "1s"
	replicaTimeout                     string // default "2s"
	perNodeIP                          bool   // node i listens on 127.0.0.(10+i) (partition tests)
	extraConfig                        string
	httpAdvertise                      func(i int, listen string) string // default listen
	nodeArgs                           func(i int) []string              // more `strata serve` flags of node i
	netns                              *netnsLayout                      // run each node in its own network namespace (root only)
	maxBlobSize, chunkSize, volumeSize string
}

// clusterNode is one member of a test cluster.
type clusterNode struct {
	*nodeProc
	index  int
	id     string
	ip     string // its listen IP
	gossip string // gossip host:port
	admin  string // admin base URL
	opts   nodeOptions
}

// testCluster is a running set of nodes.
type testCluster struct {
	t      *testing.T
	opts   clusterOptions
	secret string
	nodes  []*clusterNode
	client *http.Client
	token  string // bearer token for the blob and admin routes, when the nodes have tokens
}

// newTestCluster starts opts.nodes nodes and waits until every node sees
// every other one alive.
func newTestCluster(t *testing.T, opts clusterOptions) *testCluster {
	t.Helper()
	strataBinary(t) // skips with -short
	if opts.antiEntropy == "" {
		opts.antiEntropy = "1s"
	}
	if opts.replicaTimeout == "" {
		opts.replicaTimeout = "2s"
	}
	// Small volumes: every node preallocates one, and tests scan them.
	if opts.volumeSize == "" {
		opts.volumeSize, opts.chunkSize, opts.maxBlobSize = "32MiB", "1MiB", "64MiB"
	}
	dir := t.TempDir()
	c := &testCluster{t: t, opts: opts, secret: filepath.Join(dir, "cluster.secret"),
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}}
	t.Cleanup(c.client.CloseIdleConnections)
	if err := os.WriteFile(c.secret, []byte("e2e-cluster-secret-"+fmt.Sprint(time.Now().UnixNano())+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if opts.netns != nil {
		c.token = netnsToken
	}
	for i := range opts.nodes {
		c.nodes = append(c.nodes, c.newNode(i))
	}
	var wg sync.WaitGroup
	errs := make([]error, len(c.nodes))
	for i, n := range c.nodes {
		wg.Go(func() { errs[i] = c.startProc(n) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	c.waitMembers(c.nodes...)
	return c
}

// newNode allocates ports and a data directory for node i.
func (c *testCluster) newNode(i int) *clusterNode {
	c.t.Helper()
	ip := "127.0.0.1"
	if c.opts.perNodeIP {
		ip = fmt.Sprintf("127.0.0.%d", 11+i)
	}
	var port, gport, aport int
	adminIP, listenIP := "127.0.0.1", ip
	if ns := c.opts.netns; ns != nil {
		// Own namespaces: fixed ports never collide. Peers use the bridge,
		// the tests the node's direct link.
		port, gport, aport = 7070, 7946, 8070
		ip, listenIP, adminIP = ns.clusterIP(i), "0.0.0.0", ns.clientIP(i)
	} else {
		port, gport, aport = freePortOn(c.t, ip), freePortOn(c.t, ip), freePortOn(c.t, "127.0.0.1")
	}
	n := &clusterNode{index: i, id: fmt.Sprintf("n%d", i+1), ip: ip,
		gossip: net.JoinHostPort(ip, fmt.Sprint(gport)), admin: "http://" + net.JoinHostPort(adminIP, fmt.Sprint(aport))}
	listen := net.JoinHostPort(listenIP, fmt.Sprint(port))
	var cfg strings.Builder
	cfg.WriteString(c.opts.extraConfig)
	fmt.Fprintf(&cfg, "\n[cluster]\nanti_entropy_interval = %q\nreplica_timeout = %q\ngossip_timing = \"loopback\"\n", c.opts.antiEntropy, c.opts.replicaTimeout)
	args := []string{"--node-id", n.id, "--gossip", n.gossip, "--cluster-secret-file", c.secret}
	if c.opts.replicas > 0 {
		args = append(args, "--replicas", fmt.Sprint(c.opts.replicas))
	}
	if c.opts.writeQuorum > 0 {
		args = append(args, "--write-quorum", fmt.Sprint(c.opts.writeQuorum))
	}
	if c.opts.readQuorum > 0 {
		args = append(args, "--read-quorum", fmt.Sprint(c.opts.readQuorum))
	}
	if c.opts.httpAdvertise != nil {
		args = append(args, "--http-advertise", c.opts.httpAdvertise(i, listen))
	}
	if c.opts.nodeArgs != nil {
		args = append(args, c.opts.nodeArgs(i)...)
	}
	var wrap []string
	baseHost := ""
	if ns := c.opts.netns; ns != nil {
		args = append(args, "--http-advertise", net.JoinHostPort(ip, fmt.Sprint(port)))
		wrap = []string{"ip", "netns", "exec", ns.node(i)}
		baseHost = ns.clientIP(i)
	}
	n.opts = nodeOptions{
		dataDir:     filepath.Join(c.t.TempDir(), n.id),
		listenHost:  listenIP,
		baseHost:    baseHost,
		wrap:        wrap,
		port:        port,
		adminAddr:   strings.TrimPrefix(n.admin, "http://"),
		maxBlobSize: c.opts.maxBlobSize, chunkSize: c.opts.chunkSize, volumeSize: c.opts.volumeSize,
		extraConfig: cfg.String(),
		cacheConfig: "ram_cache_size = \"8MiB\"\nssd_cache_size = \"0\"\nshutdown_timeout = \"5s\"\nlog_level = \"debug\"\n",
		args:        args,
	}
	return n
}

// seeds are the gossip addresses of every node but n.
func (c *testCluster) seeds(n *clusterNode) string {
	var s []string
	for _, o := range c.nodes {
		if o != n {
			s = append(s, o.gossip)
		}
	}
	return strings.Join(s, ",")
}

// startProc starts n's process with every other node as a seed.
func (c *testCluster) startProc(n *clusterNode) error {
	opts := n.opts
	if seeds := c.seeds(n); seeds != "" {
		opts.args = append(append([]string(nil), opts.args...), "--join", seeds)
	}
	p, err := tryStartNode(c.t, strataBinary(c.t), opts)
	if err != nil {
		return fmt.Errorf("%s: %w", n.id, err)
	}
	n.nodeProc = p
	return nil
}

// addNode starts one more node joining the running ones.
func (c *testCluster) addNode() *clusterNode {
	c.t.Helper()
	n := c.newNode(len(c.nodes))
	c.nodes = append(c.nodes, n)
	if err := c.startProc(n); err != nil {
		c.t.Fatal(err)
	}
	return n
}

// restart starts a stopped or killed node again on its data.
func (c *testCluster) restart(n *clusterNode) {
	c.t.Helper()
	if n.nodeProc != nil {
		n.kill()
	}
	if err := c.startProc(n); err != nil {
		c.t.Fatal(err)
	}
	// Until gossip has caught up the restarted node holds the others dead
	// (from its state file) and would hint everything.
	c.waitMembers(c.running()...)
}

// wipe empties a stopped node's data directory (a replaced disk).
func (c *testCluster) wipe(n *clusterNode) {
	c.t.Helper()
	if err := os.RemoveAll(n.opts.dataDir); err != nil {
		c.t.Fatal(err)
	}
}

// running lists the nodes whose process is up.
func (c *testCluster) running() []*clusterNode {
	var out []*clusterNode
	for _, n := range c.nodes {
		if n.nodeProc != nil && !n.exited() {
			out = append(out, n)
		}
	}
	return out
}

func (n *nodeProc) exited() bool {
	select {
	case <-n.done:
		return true
	default:
		return false
	}
}

// clusterStatus is the part of GET /admin/cluster the tests read.
type clusterStatus struct {
	Members []struct {
		ID       string `json:"id"`
		State    string `json:"state"`
		Draining bool   `json:"draining"`
	} `json:"members"`
	Leave leaveStatus `json:"leave"`
}

func (c *testCluster) status(n *clusterNode) (clusterStatus, error) {
	var st clusterStatus
	req, err := http.NewRequest(http.MethodGet, n.admin+"/admin/cluster", nil)
	if err != nil {
		return st, err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("/admin/cluster: %s", resp.Status)
	}
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// waitMembers waits until each of nodes sees exactly nodes alive (and
// any others not alive).
func (c *testCluster) waitMembers(nodes ...*clusterNode) {
	c.t.Helper()
	want := map[string]bool{}
	for _, n := range nodes {
		want[n.id] = true
	}
	c.eventually(30*time.Second, fmt.Sprintf("%d nodes to see each other alive", len(nodes)), func() error {
		for _, n := range nodes {
			st, err := c.status(n)
			if err != nil {
				return fmt.Errorf("%s: %w", n.id, err)
			}
			alive := 0
			for _, m := range st.Members {
				if m.State == "alive" {
					if !want[m.ID] {
						return fmt.Errorf("%s sees %s alive", n.id, m.ID)
					}
					alive++
				}
			}
			if alive != len(nodes) {
				return fmt.Errorf("%s sees %d alive of %d: %+v", n.id, alive, len(nodes), st.Members)
			}
		}
		return nil
	})
}

// eventually retries check until it returns nil or the deadline passes.
func (c *testCluster) eventually(timeout time.Duration, what string, check func() error) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("waited %v for %s: %v\n%s", timeout, what, err, c.logs())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// logs is the tail of every node's log, for failure messages.
func (c *testCluster) logs() string {
	var b strings.Builder
	for _, n := range c.nodes {
		if n.nodeProc != nil {
			tail := n.logTail()
			if len(tail) > 3000 {
				tail = tail[len(tail)-3000:]
			}
			fmt.Fprintf(&b, "---- %s log tail:\n%s\n", n.id, tail)
		}
	}
	return b.String()
}

// blobURL is key's URL on node n; one adds ?consistency=one.
func (n *clusterNode) blobURL(key string, one bool) string {
	u := n.base + "/blobs/" + url.PathEscape(key)
	if one {
		u += "?consistency=one"
	}
	return u
}

// result is a finished request: status, body and headers; err when no answer came.
type result struct {
	status int
	body   []byte
	header http.Header
	err    error
}

func (c *testCluster) do(ctx context.Context, method, target string, body []byte) result {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, r)
	if err != nil {
		return result{err: err}
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return result{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return result{status: resp.StatusCode, header: resp.Header, err: err}
	}
	return result{status: resp.StatusCode, body: b, header: resp.Header}
}

// put writes key through n and fails the test unless it is acknowledged.
func (c *testCluster) put(n *clusterNode, key string, body []byte) {
	c.t.Helper()
	r := c.do(context.Background(), http.MethodPut, n.blobURL(key, false), body)
	if r.err != nil || r.status != http.StatusCreated {
		c.t.Fatalf("PUT %s via %s: %d %v %q\n%s", key, n.id, r.status, r.err, truncate(r.body, 200), c.logs())
	}
}

// del deletes key through n and fails the test unless it is acknowledged.
func (c *testCluster) del(n *clusterNode, key string) {
	c.t.Helper()
	r := c.do(context.Background(), http.MethodDelete, n.blobURL(key, false), nil)
	if r.err != nil || (r.status != http.StatusNoContent && r.status != http.StatusNotFound) {
		c.t.Fatalf("DELETE %s via %s: %d %v %q", key, n.id, r.status, r.err, truncate(r.body, 200))
	}
}

// holdsLocally checks that n serves want for key from its own disks
// (consistency=one on a home replica, not proxied), or 404 for want nil.
func (c *testCluster) holdsLocally(n *clusterNode, key string, want []byte) error {
	r := c.do(context.Background(), http.MethodGet, n.blobURL(key, true), nil)
	switch {
	case r.err != nil:
		return fmt.Errorf("%s GET %s: %w", n.id, key, r.err)
	case want == nil && r.status == http.StatusNotFound:
		return nil
	case want == nil:
		return fmt.Errorf("%s GET %s: %d, want 404 (deleted)", n.id, key, r.status)
	case r.status != http.StatusOK:
		return fmt.Errorf("%s GET %s: %d, want 200", n.id, key, r.status)
	case r.header.Get("X-Strata-Tier") == "peer":
		return fmt.Errorf("%s GET %s: served from a peer, not its own disks", n.id, key)
	case !bytes.Equal(r.body, want):
		return fmt.Errorf("%s GET %s: %d bytes differ from the %d written", n.id, key, len(r.body), len(want))
	}
	return nil
}

// freePortOn returns a port free on ip for TCP and UDP (gossip binds
// both), below the ephemeral range so no connection made before the node
// starts can take it.
func freePortOn(t *testing.T, ip string) int {
	t.Helper()
	port, err := testport.Free(ip)
	if err != nil {
		t.Fatal(err)
	}
	return port
}
