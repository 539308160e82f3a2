package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"strata/node"
	"strata/node/cluster"
	"strata/node/membership"
	"strata/node/peer"
	"strata/tiering"
)

// File names of the cluster's state, next to the index (on the SSD).
const (
	membersStateFile = "members.json" // known members, so a restart knows who is home for what
	hintsFile        = "hints.db"     // durable hints for replicas that were down
)

// clusterRuntime is the cluster side of a serving node: membership, the
// coordinator over the local store, and the internal and admin routes.
type clusterRuntime struct {
	log     *slog.Logger
	members *membership.Membership
	cluster *cluster.Cluster
	admin   *clusterAdmin
}

// startCluster wires cluster mode over the opened local store: membership
// (gossip), the peer client, the coordinator, the internal routes on the
// blob listener and the cluster admin routes on the admin listener, and
// starts them. stop ends serving (after a completed decommission). The
// returned store is what the HTTP API attaches.
func startCluster(ctx context.Context, cfg node.Config, srv *node.Server, store *tiering.Store, nodeID string, stop func(), log *slog.Logger) (*clusterRuntime, node.Store, error) {
	secret, warning, err := cfg.Cluster.LoadClusterSecret()
	if err != nil {
		return nil, nil, err
	}
	if warning != "" {
		log.Warn(warning)
	}
	n, w, r := cfg.Cluster.Quorums()
	if r+w <= n {
		log.Warn("read_quorum + write_quorum <= replicas: a read may miss an acknowledged write", "replicas", n, "write_quorum", w, "read_quorum", r)
	}
	mem, err := membership.New(membership.Options{
		NodeID:        nodeID,
		BindAddr:      cfg.GossipAddress(),
		AdvertiseAddr: cfg.Cluster.GossipAdvertise,
		HTTPAddr:      cfg.HTTPAdvertiseAddress(),
		Zone:          cfg.Cluster.Zone,
		Weight:        cfg.Cluster.Weight,
		Seeds:         cfg.Cluster.Join,
		Secret:        secret,
		StatePath:     filepath.Join(cfg.IndexDir, membersStateFile),
		Timing:        gossipTiming(cfg.Cluster.GossipTiming),
		Logger:        log.With("component", "membership"),
	})
	if err != nil {
		return nil, nil, fmt.Errorf("membership: %w", err)
	}
	client := peer.NewClient(peer.ClientOptions{
		Secret:     secret,
		NodeID:     nodeID,
		HTTPClient: &http.Client{Transport: peerTransport(cfg.Listen)},
	})
	opts := cluster.Options{
		Local:               cluster.LocalTiered(store),
		Peer:                client,
		Members:             mem,
		SetDraining:         mem.SetDraining,
		Replicas:            n,
		WriteQuorum:         w,
		ReadQuorum:          r,
		ReplicaTimeout:      cfg.Cluster.ReplicaTimeout,
		HintsPath:           filepath.Join(cfg.IndexDir, hintsFile),
		HintsMaxBytes:       int64(cfg.Cluster.HintsMaxBytes),
		AntiEntropyInterval: cfg.Cluster.AntiEntropyInterval,
		TombstoneGrace:      cfg.Cluster.TombstoneGrace,
		Logger:              log.With("component", "cluster"),
	}
	applyBackgroundRates(cfg.Cluster, &opts)
	cl, err := cluster.New(opts)
	if err != nil {
		return nil, nil, errors.Join(fmt.Errorf("cluster: %w", err), mem.Close())
	}
	srv.SetInternal(peer.NewHandler(peer.HandlerOptions{
		Secret:  secret,
		Backend: cl,
		Logger:  log.With("component", "peer"),
	}))
	// Gossip and the background work run until close, after the blob
	// listener drained: in-flight writes still need their replicas.
	runCtx := context.WithoutCancel(ctx)
	if err := mem.Start(runCtx); err != nil {
		return nil, nil, errors.Join(fmt.Errorf("membership start: %w", err), cl.Close(), mem.Close())
	}
	cl.Start(runCtx)
	rt := &clusterRuntime{log: log, members: mem, cluster: cl}
	rt.admin = newClusterAdmin(ctx, func() any { return cl.Status() }, cl.Drain, mem.Leave, stop, log.With("component", "decommission"))
	srv.SetAdmin(rt.admin)
	srv.SetClusterMetrics(func() node.ClusterMetrics { return clusterMetrics(cl.Status()) })
	log.Info("cluster mode", "node_id", nodeID, "gossip", cfg.GossipAddress(), "http_advertise", cfg.HTTPAdvertiseAddress(),
		"join", cfg.Cluster.Join, "replicas", n, "write_quorum", w, "read_quorum", r, "zone", cfg.Cluster.Zone, "weight", cfg.Cluster.Weight)
	if cfg.Cluster.Decommission {
		_, _ = rt.admin.startLeave()
	}
	return rt, cl, nil
}

// applyBackgroundRates sets the bounds of the background copies (hint
// replay rate and concurrency, anti-entropy bytes per second and
// concurrency) from the [cluster] table.
func applyBackgroundRates(c node.ClusterConfig, o *cluster.Options) {
	o.HintReplayRate = c.HintReplayRate
	o.HintReplayConcurrency = c.HintReplayConcurrency
	o.AntiEntropyBytesPerSec = int64(c.AntiEntropyRate)
	o.AntiEntropyConcurrency = c.AntiEntropyConcurrency
}

// close stops the cluster side after the blob listener has drained. It
// never leaves the cluster: a restart is not a leave (the others keep this
// node's keys homed on it and hint its writes); only a completed
// decommission left, before stop was called.
func (rt *clusterRuntime) close() error {
	rt.admin.wait()
	err := rt.cluster.Close()
	if cerr := rt.members.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("membership close: %w", cerr))
	}
	if rt.admin.left() {
		rt.log.Info("stopped after leaving the cluster")
	} else {
		rt.log.Info("stopped without leaving the cluster (a restart is not a leave)")
	}
	return err
}

// gossipTiming maps cluster.gossip_timing to membership's timings.
func gossipTiming(name string) membership.Timing {
	if name == node.GossipTimingLoopback {
		return membership.LoopbackTiming()
	}
	return membership.Timing{} // memberlist's LAN defaults
}

// peerTransport is the HTTP transport of replica traffic: many idle
// connections per peer (every write fans out), bounded dials, no proxy, no
// compression (blobs are opaque). Connections leave from the listen
// address's IP when it names one, so a peer (or a firewall, or the e2e
// tests' fault proxy) sees which node is calling.
func peerTransport(listen string) *http.Transport {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second, LocalAddr: peerSourceAddr(listen)}
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		DisableCompression:    true,
		ExpectContinueTimeout: time.Second,
	}
}

// clusterMetrics picks the cluster's background counters for /metrics.
func clusterMetrics(st cluster.Status) node.ClusterMetrics {
	bg, ok := st.Background.(cluster.BackgroundStatus)
	if !ok {
		return node.ClusterMetrics{}
	}
	return node.ClusterMetrics{
		HintsPending: bg.HintsPending, HintBytes: bg.HintBytes,
		HintsStored: bg.HintsStored, HintsDropped: bg.HintsDropped, HintsReplayed: bg.HintsReplayed,
		RepairsQueued: bg.RepairsQueued, RepairsDone: bg.RepairsDone, RepairsDropped: bg.RepairsDropped,
		AntiEntropyKeysPulled: bg.AntiEntropyKeysPulled, AntiEntropyBytesPulled: bg.AntiEntropyBytesPulled,
	}
}
