package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// clusterKeys writes count keys through the given nodes in turn and
// returns what each holds.
func clusterKeys(t *testing.T, c *testCluster, prefix string, count, size int, via ...*clusterNode) map[string][]byte {
	t.Helper()
	want := map[string][]byte{}
	for i := range count {
		key := fmt.Sprintf("%s/%03d", prefix, i)
		body := randomBytes(t, size)
		c.put(via[i%len(via)], key, body)
		want[key] = body
	}
	return want
}

// waitHolds waits until n holds every key of want from its own disks (a
// nil value: deleted there).
func waitHolds(c *testCluster, n *clusterNode, want map[string][]byte, timeout time.Duration) {
	c.t.Helper()
	c.eventually(timeout, fmt.Sprintf("%s to hold all %d keys from its own disks", n.id, len(want)), func() error {
		missing := 0
		var first error
		for key, body := range want {
			if err := c.holdsLocally(n, key, body); err != nil {
				missing++
				if first == nil {
					first = err
				}
			}
		}
		if missing > 0 {
			return fmt.Errorf("%d keys not there yet, e.g. %w", missing, first)
		}
		return nil
	})
}

// TestE2EClusterNodeDownThenBack: N=3, W=2 with one node stopped, every
// write and delete is acknowledged; after it returns, hints and
// anti-entropy make it a full copy, readable from that node alone
// (consistency=one, its own disks), and deleted keys stay deleted there.
func TestE2EClusterNodeDownThenBack(t *testing.T) {
	c := newTestCluster(t, clusterOptions{nodes: 3})
	n1, n2, n3 := c.nodes[0], c.nodes[1], c.nodes[2]
	before := clusterKeys(t, c, "before", 10, 4<<10, n1, n2, n3)
	if err := n3.stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	want := clusterKeys(t, c, "down", 40, 4<<10, n1, n2)
	for key, body := range before {
		want[key] = body
	}
	// Deletes while n3 is down must not come back when it returns.
	for i := range 5 {
		key := fmt.Sprintf("before/%03d", i)
		c.del(n1, key)
		want[key] = nil
	}
	c.restart(n3)
	waitHolds(c, n3, want, 30*time.Second)
}

// TestE2EClusterTwoDownRefusesWrites: with two of three nodes stopped a
// PUT is refused with 503 and Retry-After, never acknowledged.
func TestE2EClusterTwoDownRefusesWrites(t *testing.T) {
	c := newTestCluster(t, clusterOptions{nodes: 3})
	n1 := c.nodes[0]
	for _, n := range c.nodes[1:] {
		if err := n.stop(10 * time.Second); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		r := c.do(context.Background(), http.MethodPut, n1.blobURL(fmt.Sprintf("refused/%d", i), false), []byte("never acknowledged"))
		if r.err != nil || r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
			t.Fatalf("PUT with two of three down: %d %v Retry-After %q, want 503 with Retry-After; body %q",
				r.status, r.err, r.header.Get("Retry-After"), truncate(r.body, 200))
		}
	}
	r := c.do(context.Background(), http.MethodDelete, n1.blobURL("refused/0", false), nil)
	if r.status != http.StatusServiceUnavailable {
		t.Fatalf("DELETE with two of three down: %d, want 503", r.status)
	}
}

// TestE2EClusterWipedNodeRefills: a node whose data directory is wiped
// (a replaced disk) is refilled by anti-entropy after its restart.
func TestE2EClusterWipedNodeRefills(t *testing.T) {
	c := newTestCluster(t, clusterOptions{nodes: 3})
	n1, n2, n3 := c.nodes[0], c.nodes[1], c.nodes[2]
	want := clusterKeys(t, c, "wiped", 40, 8<<10, n1, n2, n3)
	n2.kill()
	c.wipe(n2)
	c.restart(n2)
	waitHolds(c, n2, want, 45*time.Second)
}

// TestE2EClusterCorruptReplica: a record corrupted on one replica's disk
// is never served: GET answers the right bytes (from another replica) and
// the copy is repaired.
func TestE2EClusterCorruptReplica(t *testing.T) {
	c := newTestCluster(t, clusterOptions{nodes: 3})
	n1, n2 := c.nodes[0], c.nodes[1]
	body := randomBytes(t, 64<<10) // random: stored uncompressed, findable on disk
	c.put(n1, "corrupt/me", body)
	waitHolds(c, n2, map[string][]byte{"corrupt/me": body}, 20*time.Second)
	n2.kill() // no clean shutdown: nothing cached survives
	if flipped := flipByteOnDisk(t, n2.opts.dataDir, body[1000:1064]); !flipped {
		t.Fatal("the blob's bytes were not found in n2's volumes")
	}
	start := time.Now()
	c.restart(n2)
	t.Logf("n2 restarted and sees the others after %v", time.Since(start).Round(time.Millisecond))
	// Through n2 (a home holding a bad copy): the right bytes.
	r := c.do(context.Background(), http.MethodGet, n2.blobURL("corrupt/me", false), nil)
	if r.err != nil || r.status != http.StatusOK || !bytes.Equal(r.body, body) {
		t.Fatalf("GET through the corrupt replica: %d %v, %d bytes (equal %v)\n%s", r.status, r.err, len(r.body), bytes.Equal(r.body, body), c.logs())
	}
	// And the copy is repaired: n2 serves it from its own disks again.
	start = time.Now()
	waitHolds(c, n2, map[string][]byte{"corrupt/me": body}, 30*time.Second)
	t.Logf("n2's copy repaired %v after the read", time.Since(start).Round(time.Millisecond))
}

// flipByteOnDisk finds needle in the files under dir and flips one byte of
// its first occurrence; it reports whether it found it.
func flipByteOnDisk(t *testing.T, dir string, needle []byte) bool {
	t.Helper()
	found := false
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || found || strings.Contains(path, "index") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		at := bytes.Index(b, needle)
		if at < 0 {
			return nil
		}
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		defer f.Close()
		if _, err := f.WriteAt([]byte{b[at+10] ^ 0xff}, int64(at+10)); err != nil {
			return err
		}
		found = true
		return f.Sync()
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// TestE2EClusterJoinAndLeaveUnderLoad: a fourth node joins and then the
// first is decommissioned (strata leave) while clients write; afterwards
// every acknowledged key has N=3 copies on the three remaining nodes, each
// from its own disks, and none was lost meanwhile.
func TestE2EClusterJoinAndLeaveUnderLoad(t *testing.T) {
	c := newTestCluster(t, clusterOptions{nodes: 3})
	var mu sync.Mutex
	acked := map[string][]byte{}
	var stop atomic.Bool
	var wg sync.WaitGroup
	var seq atomic.Int64
	for w := range 2 {
		wg.Go(func() {
			for !stop.Load() {
				i := seq.Add(1)
				key := fmt.Sprintf("load/%d/%05d", w, i)
				body := []byte(strings.Repeat(fmt.Sprintf("%s;", key), 50))
				via := c.nodes[1+int(i)%2] // n2 and n3 stay throughout
				r := c.do(context.Background(), http.MethodPut, via.blobURL(key, false), body)
				if r.err == nil && r.status == http.StatusCreated {
					mu.Lock()
					acked[key] = body
					mu.Unlock()
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
	defer func() { stop.Store(true); wg.Wait() }()
	time.Sleep(500 * time.Millisecond)
	n4 := c.addNode()
	c.waitMembers(c.nodes...)
	time.Sleep(500 * time.Millisecond)

	n1 := c.nodes[0]
	code, out, errOut := n1.cli(t, nil, "leave", "--addr", n1.admin, "--timeout", "60s")
	if code != exitOK {
		t.Fatalf("strata leave: %d\n%s\n%s\n%s", code, out, errOut, c.logs())
	}
	select {
	case <-n1.done:
	case <-time.After(20 * time.Second):
		t.Fatalf("n1 did not exit after leaving\n%s", c.logs())
	}
	stop.Store(true)
	wg.Wait()
	rest := []*clusterNode{c.nodes[1], c.nodes[2], n4}
	c.waitMembers(rest...)
	mu.Lock()
	defer mu.Unlock()
	if len(acked) < 20 {
		t.Fatalf("only %d writes acknowledged under load", len(acked))
	}
	for _, n := range rest {
		waitHolds(c, n, acked, 45*time.Second)
	}
	t.Logf("%d writes acknowledged during the join and the leave; every one has 3 local copies", len(acked))
}

// TestE2EClusterScrubRepairsCorruptReplica: the background scrub finds a
// flipped byte in n2's copy and n2 copies the blob back from a replica on
// its own: no read of the key meanwhile, and no periodic anti-entropy
// (interval 1h).
func TestE2EClusterScrubRepairsCorruptReplica(t *testing.T) {
	c := newTestCluster(t, clusterOptions{nodes: 3, antiEntropy: "1h",
		extraConfig: "scrub_interval = \"1s\"\nscrub_rate = \"256MiB\"\n"})
	n1, n2 := c.nodes[0], c.nodes[1]
	body := randomBytes(t, 64<<10) // random: stored uncompressed, findable on disk
	c.put(n1, "scrub/me", body)
	waitHolds(c, n2, map[string][]byte{"scrub/me": body}, 20*time.Second)
	if err := n2.stop(10 * time.Second); err != nil { // clean: the index holds the entry
		t.Fatal(err)
	}
	if !flipByteOnDisk(t, n2.opts.dataDir, body[1000:1064]) {
		t.Fatal("the blob's bytes were not found in n2's volumes")
	}
	c.restart(n2)
	c.eventually(60*time.Second, "n2's scrub to have its corrupt copy repaired", func() error {
		var st struct {
			Background struct {
				RepairsDone uint64 `json:"repairs_done"`
			} `json:"background"`
		}
		r := c.do(context.Background(), http.MethodGet, n2.admin+"/admin/cluster", nil)
		if r.err != nil || r.status != http.StatusOK {
			return fmt.Errorf("/admin/cluster: %d %v", r.status, r.err)
		}
		if err := json.Unmarshal(r.body, &st); err != nil {
			return err
		}
		if st.Background.RepairsDone == 0 {
			return errors.New("no repair done yet")
		}
		return nil
	})
	waitHolds(c, n2, map[string][]byte{"scrub/me": body}, 10*time.Second)
}
