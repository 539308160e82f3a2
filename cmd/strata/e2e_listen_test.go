package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// errorCode is the "code" of a JSON error answer ("" when there is none).
func errorCode(body []byte) string {
	var e struct{ Code string }
	_ = json.Unmarshal(body, &e)
	return e.Code
}

// splitAddrs are the bound addresses of n's listen_read and listen_write
// (configured on port 0), from its /readyz.
func splitAddrs(t testing.TB, n *nodeProc) (read, write string) {
	t.Helper()
	rz := getReadyz(t, n.base)
	return rz.Listeners["listen_read"], rz.Listeners["listen_write"]
}

// splitConfig is the config of a node with both split listeners on
// fresh loopback ports, then more.
const splitConfig = "listen_read = \"127.0.0.1:0\"\nlisten_write = \"127.0.0.1:0\"\n"

// readyzOf is the /readyz body of the node at base.
type readyzOf struct {
	Status      string            `json:"status"`
	Writable    bool              `json:"writable"`
	WriteReason string            `json:"write_reason"`
	ReadOnly    bool              `json:"read_only"`
	Listeners   map[string]string `json:"listeners"`
}

func getReadyz(t testing.TB, base string) readyzOf {
	t.Helper()
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body readyzOf
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("readyz: %s %v", resp.Status, err)
	}
	return body
}

// TestE2ESplitListeners: the real binary with listen_read and
// listen_write from its config (and [http.write] bounds): writes go in on
// one, reads come out of the other, each refuses the other half with 405
// and Allow; restarted with --read-only, it serves what it holds and
// refuses writes with 503 read_only on every listener.
func TestE2ESplitListeners(t *testing.T) {
	opts := nodeOptions{extraConfig: splitConfig + "[http.write]\nmax_connections = 16\nprogress_timeout = \"10s\"\n"}
	n := startNode(t, opts)
	readAddr, writeAddr := splitAddrs(t, n)
	if readAddr == "" || writeAddr == "" || readAddr == writeAddr {
		t.Fatalf("split listeners at %q and %q", readAddr, writeAddr)
	}
	read, write := "http://"+readAddr, "http://"+writeAddr
	body := randomBytes(t, 100<<10)

	expectStatus(t, send(t, http.MethodPut, write+"/blobs/photos/cat.jpg", body), http.StatusCreated)
	expectStatus(t, send(t, http.MethodHead, write+"/blobs/photos/cat.jpg", nil), http.StatusOK)
	got := send(t, http.MethodGet, read+"/blobs/photos/cat.jpg", nil)
	expectStatus(t, got, http.StatusOK)
	if string(got.body) != string(body) {
		t.Fatalf("read listener returned %d bytes differing from the %d written", len(got.body), len(body))
	}
	list := send(t, http.MethodGet, read+"/blobs?prefix=photos/", nil)
	expectStatus(t, list, http.StatusOK)
	if !strings.Contains(string(list.body), "photos/cat.jpg") {
		t.Fatalf("listing on the read listener: %s", list.body)
	}
	for _, tc := range []struct {
		method, target, allow string
	}{
		{http.MethodPut, read + "/blobs/photos/dog.jpg", "GET, HEAD"},
		{http.MethodDelete, read + "/blobs/photos/cat.jpg", "GET, HEAD"},
		{http.MethodGet, write + "/blobs/photos/cat.jpg", "PUT, DELETE, HEAD"},
	} {
		var b []byte
		if tc.method == http.MethodPut {
			b = []byte("refused")
		}
		r := send(t, tc.method, tc.target, b)
		expectStatus(t, r, http.StatusMethodNotAllowed)
		if r.Header.Get("Allow") != tc.allow || errorCode(r.body) != "method_not_allowed" {
			t.Fatalf("%s %s: Allow %q code %q, want %q method_not_allowed", tc.method, tc.target, r.Header.Get("Allow"), errorCode(r.body), tc.allow)
		}
	}
	expectStatus(t, send(t, http.MethodGet, read+"/blobs/photos/dog.jpg", nil), http.StatusNotFound)
	expectStatus(t, send(t, http.MethodGet, n.base+"/blobs/photos/cat.jpg", nil), http.StatusOK) // listen serves everything
	rz := getReadyz(t, read)                                                                     // the read listener answers the probe too
	if rz.Listeners["listen"] != strings.TrimPrefix(n.base, "http://") || rz.Listeners["listen_read"] != readAddr || rz.ReadOnly || !rz.Writable {
		t.Fatalf("readyz %+v", rz)
	}
	metrics := string(send(t, http.MethodGet, n.base+"/metrics", nil).body)
	if !strings.Contains(metrics, `strata_http_max_connections{listener="listen_write"} 16`) {
		t.Fatalf("metrics lack the write listener's limit of 16")
	}

	// Read-only: the same data, restarted with --read-only.
	opts.dataDir = n.opts.dataDir
	opts.args = []string{"--read-only"}
	n.kill()
	n = startNode(t, opts)
	readAddr, writeAddr = splitAddrs(t, n)
	read, write = "http://"+readAddr, "http://"+writeAddr
	for _, base := range []string{write, n.base} {
		for _, method := range []string{http.MethodPut, http.MethodDelete} {
			r := send(t, method, base+"/blobs/photos/cat.jpg", []byte("overwrite"))
			expectStatus(t, r, http.StatusServiceUnavailable)
			if errorCode(r.body) != "read_only" || r.Header.Get("Retry-After") == "" {
				t.Fatalf("%s on %s in read-only mode: code %q Retry-After %q", method, base, errorCode(r.body), r.Header.Get("Retry-After"))
			}
		}
	}
	got = send(t, http.MethodGet, read+"/blobs/photos/cat.jpg", nil)
	expectStatus(t, got, http.StatusOK)
	if string(got.body) != string(body) {
		t.Fatal("read-only node changed the blob")
	}
	if rz := getReadyz(t, n.base); !rz.ReadOnly || rz.Writable || rz.WriteReason != "read_only" || rz.Status != "ready" {
		t.Fatalf("read-only readyz %+v", rz)
	}
	code, out, errOut := n.cli(t, nil, "stat", "--node")
	if code != exitOK || !strings.Contains(out, "read-only:     yes") || !strings.Contains(out, "listen_read:   "+readAddr) {
		t.Fatalf("strata stat --node: exit %d\n%s%s", code, out, errOut)
	}
	if err := n.stop(10 * time.Second); err != nil {
		t.Fatalf("clean stop: %v\n%s", err, n.logTail())
	}
}

// TestE2EClusterReadOnlyReplica: a read-only member of an N=3, W=2
// cluster refuses client writes, yet every write coordinated elsewhere
// reaches it: directly while it is up, by hint replay and anti-entropy
// after it was down. Its read listener serves them from its own disks.
func TestE2EClusterReadOnlyReplica(t *testing.T) {
	c := newTestCluster(t, clusterOptions{nodes: 3})
	n1, n2, n3 := c.nodes[0], c.nodes[1], c.nodes[2]
	n3.opts.args = append(n3.opts.args, "--read-only", "--listen-read", "127.0.0.1:0")
	c.restart(n3)
	readAddr, _ := splitAddrs(t, n3.nodeProc)

	r := c.do(context.Background(), http.MethodPut, n3.blobURL("refused", false), []byte("no"))
	if r.err != nil || r.status != http.StatusServiceUnavailable || errorCode(r.body) != "read_only" {
		t.Fatalf("PUT via the read-only node: %d %v %q, want 503 read_only", r.status, r.err, truncate(r.body, 200))
	}
	up := clusterKeys(t, c, "up", 10, 4<<10, n1, n2)
	waitHolds(c, n3, up, 30*time.Second)

	if err := n3.stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	down := clusterKeys(t, c, "down", 10, 4<<10, n1, n2)
	c.del(n1, "up/000")
	down["up/000"] = nil
	c.restart(n3)
	waitHolds(c, n3, down, 30*time.Second)
	readAddr, _ = splitAddrs(t, n3.nodeProc)

	// The read listener serves what replication brought.
	for key, body := range up {
		if key == "up/000" {
			continue
		}
		got := c.do(context.Background(), http.MethodGet, "http://"+readAddr+"/blobs/"+key+"?consistency=one", nil)
		if got.err != nil || got.status != http.StatusOK || string(got.body) != string(body) {
			t.Fatalf("GET %s on the read listener: %d %v", key, got.status, got.err)
		}
		break
	}
	if r := c.do(context.Background(), http.MethodGet, "http://"+readAddr+"/blobs/refused?consistency=one", nil); r.status != http.StatusNotFound {
		t.Fatalf("the refused write exists: %d", r.status)
	}
}
