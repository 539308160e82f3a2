package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// netnsToken is the client token of the netns cluster's nodes, which
// listen on non-loopback addresses and so need one.
const netnsToken = "e2e-netns-client-token-0123456789"

// netnsLayout is a network made of namespaces, as root: each node in its
// own namespace, joined to the others by a veth pair into a bridge that
// lives in a switch namespace (the cluster network, 10.201.X.0/24), and to
// the test process by a second veth pair (its own /30 in 10.202.X.0/24),
// so cutting a node's bridge link partitions it from the other nodes while
// the test still reaches it. Nothing is bridged to a real interface.
type netnsLayout struct {
	t     *testing.T
	tag   string // prefix of every namespace and link name
	x     int    // third octet of both subnets
	nodes int
}

// newNetnsLayout builds the namespaces and links, or skips the test with
// the reason; t.Cleanup deletes them (after the node processes, which are
// killed by cleanups registered later).
func newNetnsLayout(t *testing.T, nodes int) *netnsLayout {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces; TestE2EClusterPartitionProxy covers the partition without root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2's ip for network namespaces")
	}
	pid := os.Getpid()
	l := &netnsLayout{t: t, tag: fmt.Sprintf("st%d", pid%100000), x: 20 + pid%200, nodes: nodes}
	t.Cleanup(l.remove)
	if err := l.ip("netns", "add", l.sw()); err != nil {
		t.Skipf("cannot create a network namespace here (%v); TestE2EClusterPartitionProxy covers the partition", err)
	}
	l.must("-n", l.sw(), "link", "set", "lo", "up")
	l.must("-n", l.sw(), "link", "add", "br0", "type", "bridge")
	l.must("-n", l.sw(), "link", "set", "br0", "up")
	for i := range nodes {
		ns, b, c := l.node(i), l.tag+fmt.Sprintf("b%d", i), l.tag+fmt.Sprintf("c%d", i)
		l.must("netns", "add", ns)
		l.must("-n", ns, "link", "set", "lo", "up")
		// Cluster link: node <-> bridge.
		l.must("link", "add", b, "netns", ns, "type", "veth", "peer", "name", b+"p", "netns", l.sw())
		l.must("-n", l.sw(), "link", "set", b+"p", "master", "br0")
		l.must("-n", l.sw(), "link", "set", b+"p", "up")
		l.must("-n", ns, "addr", "add", l.clusterIP(i)+"/24", "dev", b)
		l.must("-n", ns, "link", "set", b, "up")
		// Client link: test process <-> node.
		l.must("link", "add", c, "type", "veth", "peer", "name", c+"p", "netns", ns)
		l.must("addr", "add", fmt.Sprintf("10.202.%d.%d/30", l.x, 4*i+1), "dev", c)
		l.must("link", "set", c, "up")
		l.must("-n", ns, "addr", "add", l.clientIP(i)+"/30", "dev", c+"p")
		l.must("-n", ns, "link", "set", c+"p", "up")
	}
	return l
}

func (l *netnsLayout) sw() string             { return l.tag + "-sw" }
func (l *netnsLayout) node(i int) string      { return fmt.Sprintf("%s-n%d", l.tag, i) }
func (l *netnsLayout) clusterIP(i int) string { return fmt.Sprintf("10.201.%d.%d", l.x, i+1) }
func (l *netnsLayout) clientIP(i int) string  { return fmt.Sprintf("10.202.%d.%d", l.x, 4*i+2) }

func (l *netnsLayout) ip(args ...string) error {
	cmd := exec.Command("ip", args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return nil
}

func (l *netnsLayout) must(args ...string) {
	l.t.Helper()
	if err := l.ip(args...); err != nil {
		l.t.Fatal(err)
	}
}

// isolate cuts node i's bridge link: no traffic to or from the other
// nodes, gossip included; the test still reaches it.
func (l *netnsLayout) isolate(i int) {
	l.must("-n", l.sw(), "link", "set", l.tag+fmt.Sprintf("b%dp", i), "down")
}

func (l *netnsLayout) heal() {
	for i := range l.nodes {
		l.must("-n", l.sw(), "link", "set", l.tag+fmt.Sprintf("b%dp", i), "up")
	}
}

// remove deletes the namespaces, and with them every link made here.
func (l *netnsLayout) remove() {
	for i := range l.nodes {
		_ = l.ip("netns", "del", l.node(i))
	}
	_ = l.ip("netns", "del", l.sw())
}

// TestE2EClusterPartitionNetns: as root, three nodes in their own network
// namespaces; cutting one node's link to the others (gossip and replica
// traffic) makes it a minority that refuses writes with 503 while the
// majority accepts them; after healing every node converges.
func TestE2EClusterPartitionNetns(t *testing.T) {
	strataBinary(t) // skips with -short
	l := newNetnsLayout(t, 3)
	c := newTestCluster(t, clusterOptions{nodes: 3, netns: l, replicaTimeout: "1s",
		extraConfig: fmt.Sprintf("[[auth.tokens]]\nname = \"e2e\"\ntoken = %q\nscope = \"read-write\"\n", netnsToken)})
	checkPartition(t, c, l)
}
