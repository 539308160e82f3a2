package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"

	"strata/blockstore"
	"strata/ioengine"
	"strata/node"
	"strata/tiering"
)

// ssdCacheFile is the SSD cache's file name inside the SSD directory.
const ssdCacheFile = "cache"

const serveDescription = `Run a storage node: the HTTP blob API over the tiered store (RAM, SSD
cache, HDD volumes). With no flags it serves 127.0.0.1:7070 with every tier
under ./strata-data. A config file (docs/config.md) names real devices;
flags override it.

SIGTERM or SIGINT: stop accepting, let in-flight requests finish (up to
shutdown_timeout), close the store, exit 0. Under systemd (Type=notify) it
extends the start timeout while recovery advances, sends READY=1 once
serving, WATCHDOG=1 while the store answers a liveness check (when the unit
sets WatchdogSec=) and STOPPING=1 when shutdown begins.`

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// serveFlags are the overrides `strata serve` takes on top of the config.
type serveFlags struct {
	fs                *flagSet
	config            string
	listen            string
	listenRead        string
	listenWrite       string
	readOnly          bool
	adminListen       string
	maxConnsPerClient int
	data              string
	hdd               stringList
	ssd, index        string
	ramCacheSize      node.ByteSize
	ssdCacheSize      node.ByteSize
	maxBlobSize       node.ByteSize
	logLevel          string
	nodeID            string
	s3Listen          string

	// Cluster mode (docs/cluster.md).
	gossip, gossipAdvertise, httpAdvertise string
	join                                   stringList
	replicas, writeQuorum, readQuorum      int
	secretFile, zone                       string
	weight                                 float64
	decommission                           bool
}

func newServeFlags() *serveFlags {
	f := &serveFlags{fs: newFlagSet("serve", "", serveDescription)}
	fs := f.fs
	fs.StringVar(&f.config, "config", "", "TOML config `file` (see docs/config.md); flags override it")
	fs.StringVar(&f.listen, "listen", "", "HTTP listen `address` (default 127.0.0.1:7070)")
	fs.StringVar(&f.listenRead, "listen-read", "", "read-only listener `address`: GET, HEAD and listings only, bounded by [http.read] (default none)")
	fs.StringVar(&f.listenWrite, "listen-write", "", "write listener `address`: PUT, DELETE and HEAD only, bounded by [http.write] (default none)")
	fs.BoolVar(&f.readOnly, "read-only", false, "serve reads and refuse client writes with 503 read_only; replica traffic is still taken in a cluster")
	fs.StringVar(&f.adminListen, "admin-listen", "", "admin `address` for /healthz, /readyz, /metrics and pprof; off = none (default 127.0.0.1:7071)")
	fs.IntVar(&f.maxConnsPerClient, "max-connections-per-client", 0, "open connections one client IP may hold; 0 = no bound (default 256)")
	fs.StringVar(&f.data, "data", "", "root `dir` of the embedded layout: hdd/, ssd/, index/ (default ./strata-data)")
	fs.Var(&f.hdd, "hdd", "HDD data `dir`; repeat for several disks (default DATA/hdd)")
	fs.StringVar(&f.ssd, "ssd", "", "SSD cache `dir` (default DATA/ssd)")
	fs.StringVar(&f.index, "index", "", "index `dir`, on the SSD (default DATA/index)")
	fs.Var(&f.ramCacheSize, "ram-cache-size", "RAM cache `size`, e.g. 256MiB; 0 = off (default 256MiB, 64MiB in the embedded layout)")
	fs.Var(&f.ssdCacheSize, "ssd-cache-size", "SSD cache `size`, e.g. 1GiB; 0 = off (default 1GiB, 128MiB in the embedded layout)")
	fs.Var(&f.maxBlobSize, "max-blob-size", "largest blob `size` accepted (default 5GiB)")
	fs.StringVar(&f.s3Listen, "s3-listen", "", "S3 API listen `address` (needs [[s3.keys]] in the config; docs/s3.md); default off")
	fs.StringVar(&f.nodeID, "node-id", "", "`id` of this node, kept in every data directory's identity file (default: the disks' id, or a new random one)")
	fs.StringVar(&f.logLevel, "log-level", "", "`level`: debug, info, warn or error (default info)")
	fs.StringVar(&f.gossip, "gossip", "", "gossip `host:port` (TCP and UDP) to bind; turns cluster mode on (docs/cluster.md)")
	fs.StringVar(&f.gossipAdvertise, "gossip-advertise", "", "gossip `host:port` the other nodes reach (default --gossip)")
	fs.StringVar(&f.httpAdvertise, "http-advertise", "", "blob listener `host:port` the other nodes reach (default --listen)")
	fs.Var(&f.join, "join", "seed gossip `addresses`, comma-separated or repeated; turns cluster mode on")
	fs.IntVar(&f.replicas, "replicas", 0, "copies of each blob, N (default 3 in a cluster, 1 alone)")
	fs.IntVar(&f.writeQuorum, "write-quorum", 0, "replicas that must make a write durable before it is acknowledged, W (default 2 in a cluster)")
	fs.IntVar(&f.readQuorum, "read-quorum", 0, "replicas asked for the newest version on a read, R (default 2 in a cluster)")
	fs.StringVar(&f.secretFile, "cluster-secret-file", "", "`file` holding the cluster secret (at least 16 bytes, same on every node); required in cluster mode")
	fs.StringVar(&f.zone, "zone", "", "this node's failure `domain`: replicas of a key go to distinct zones while there are enough")
	fs.Float64Var(&f.weight, "weight", 0, "this node's capacity `weight` in placement (default 1)")
	fs.BoolVar(&f.decommission, "decommission", false, "drain this node once started (its keys move to their new homes), then leave the cluster and exit")
	return f
}

// config loads the config file (or the defaults) and applies the flags
// that were given.
//
// With no config file and no --hdd or --ssd, the layout is the embedded one
// under --data and takes its laptop sizes (node.EmbeddedConfig); embedded
// reports that, for the startup log.
func (f *serveFlags) load() (cfg node.Config, embedded bool, err error) {
	set := map[string]bool{}
	f.fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	embedded = f.config == "" && !set["hdd"] && !set["ssd"]
	switch {
	case f.config != "":
		if cfg, err = node.LoadConfig(f.config); err != nil {
			return cfg, false, err
		}
	case embedded:
		cfg = node.EmbeddedConfig("")
	default:
		cfg = node.DefaultConfig("")
	}
	if set["data"] {
		cfg.SetDataDir(f.data)
	}
	if set["listen"] {
		cfg.Listen = f.listen
	}
	if set["listen-read"] {
		cfg.ListenRead = f.listenRead
	}
	if set["listen-write"] {
		cfg.ListenWrite = f.listenWrite
	}
	if set["read-only"] {
		cfg.ReadOnly = f.readOnly
	}
	if set["admin-listen"] {
		cfg.SetAdminListen(f.adminListen)
	}
	if set["max-connections-per-client"] {
		cfg.HTTP.MaxConnectionsPerClient = f.maxConnsPerClient
	}
	if set["hdd"] {
		cfg.HDDDirs = append([]string(nil), f.hdd...)
	}
	if set["ssd"] {
		cfg.SSDDir = f.ssd
	}
	if set["index"] {
		cfg.IndexDir = f.index
	}
	if set["ram-cache-size"] {
		cfg.RAMCacheSize = f.ramCacheSize
	}
	if set["ssd-cache-size"] {
		cfg.SSDCacheSize = f.ssdCacheSize
	}
	if set["max-blob-size"] {
		cfg.MaxBlobSize = f.maxBlobSize
	}
	if set["log-level"] {
		cfg.LogLevel = f.logLevel
	}
	if set["s3-listen"] {
		cfg.S3.Listen = f.s3Listen
	}
	if set["node-id"] {
		cfg.NodeID = f.nodeID
	}
	f.applyCluster(&cfg.Cluster, set)
	return cfg, embedded, cfg.Validate()
}

// applyCluster applies the cluster flags that were given over the file's
// [cluster] table.
func (f *serveFlags) applyCluster(c *node.ClusterConfig, set map[string]bool) {
	for name, apply := range map[string]func(){
		"gossip":              func() { c.Gossip = f.gossip },
		"gossip-advertise":    func() { c.GossipAdvertise = f.gossipAdvertise },
		"http-advertise":      func() { c.HTTPAdvertise = f.httpAdvertise },
		"join":                func() { c.Join = splitList(f.join) },
		"replicas":            func() { c.Replicas = f.replicas },
		"write-quorum":        func() { c.WriteQuorum = f.writeQuorum },
		"read-quorum":         func() { c.ReadQuorum = f.readQuorum },
		"cluster-secret-file": func() { c.SecretFile = f.secretFile },
		"zone":                func() { c.Zone = f.zone },
		"weight":              func() { c.Weight = f.weight },
		"decommission":        func() { c.Decommission = f.decommission },
	} {
		if set[name] {
			apply()
		}
	}
}

// splitList splits comma-separated (and repeated) flag values, dropping
// empty items.
func splitList(values []string) []string {
	var out []string
	for _, v := range values {
		for item := range strings.SplitSeq(v, ",") {
			if item = strings.TrimSpace(item); item != "" {
				out = append(out, item)
			}
		}
	}
	return out
}

// runServe is `strata serve`: it returns after a signal (or ctx) has shut
// the node down, with exit code 0 when the store closed cleanly.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f := newServeFlags()
	positional, code, ok := f.fs.parse(args, stdio{out: stdout, err: stderr})
	if !ok {
		return code
	}
	if len(positional) > 0 {
		return f.fs.usageError(stderr, "unexpected argument %q", positional[0])
	}
	cfg, embedded, err := f.load()
	if err != nil {
		fmt.Fprintf(stderr, "strata serve: %v\n", err)
		return exitUsage
	}
	logger, err := newLogger(cfg, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "strata serve: %v\n", err)
		return exitUsage
	}
	if cfg.Cluster.Enabled() {
		// Checked before anything is bound or opened: a cluster node
		// without its secret must not start (startCluster reads it again).
		if _, _, err := cfg.Cluster.LoadClusterSecret(); err != nil {
			fmt.Fprintf(stderr, "strata serve: %v\n", err)
			return exitUsage
		}
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, cfg, embedded, logger); err != nil {
		logger.Error("strata serve failed", "err", err)
		if isConfigError(err) {
			return exitUsage
		}
		return exitError
	}
	return exitOK
}

// isConfigError reports whether the store refused an option the config
// passed through: the configuration must change, so the exit code is the
// usage one, which the systemd unit does not restart on.
func isConfigError(err error) bool {
	return errors.Is(err, blockstore.ErrInvalidArgument) || errors.Is(err, tiering.ErrBadOptions) || errors.Is(err, node.ErrClusterSecret)
}

func newLogger(cfg node.Config, w io.Writer) (*slog.Logger, error) {
	level, err := node.ParseLogLevel(cfg.LogLevel)
	if err != nil {
		return nil, err
	}
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return slog.New(slog.NewTextHandler(w, opts)), nil
}

// serve listens at once (so /healthz answers and /readyz says "starting"
// while the store recovers), opens the store, attaches it, then serves
// until ctx is cancelled, drains and closes the store. It returns nil after
// a clean shutdown, even when in-flight requests had to be cut off at the
// deadline (they were never acknowledged).
//
// embedded says the layout is the embedded one with its laptop sizes, which
// the startup log line then says.
func serve(ctx context.Context, cfg node.Config, embedded bool, log *slog.Logger) error {
	defer debug.SetMemoryLimit(setMemoryLimit(cfg, log)) // restored for in-process callers (tests)
	if err := createDataDirs(cfg); err != nil {
		return err
	}
	cfg.BuildVersion = version
	srv, err := node.New(cfg, nil, log.With("component", "node"))
	if err != nil {
		return err
	}
	lns, err := listenBlobs(cfg)
	if err != nil {
		return err
	}
	var adminLn net.Listener
	if cfg.AdminEnabled() {
		if adminLn, err = net.Listen("tcp", cfg.AdminAddress()); err != nil {
			closeListeners(lns)
			return fmt.Errorf("admin listen: %w", err)
		}
	}
	// The S3 listener is bound now, so a busy port fails the start at
	// once; it serves once the store is attached.
	var s3Ln net.Listener
	if cfg.S3.Enabled() {
		if s3Ln, err = net.Listen("tcp", cfg.S3.Listen); err != nil {
			closeListeners(lns)
			if adminLn != nil {
				adminLn.Close()
			}
			return fmt.Errorf("s3 listen: %w", err)
		}
		defer s3Ln.Close() // ServeExtra closes it too; this covers a failed start
	}
	serveCtx, stopServing := context.WithCancel(ctx)
	defer stopServing()
	served := make(chan error, 1)
	go func() { served <- srv.ServeListeners(serveCtx, lns) }()
	// The admin listener outlives the blob one (probes see the drain): it
	// stops when serve returns.
	adminCtx, stopAdmin := context.WithCancel(context.Background())
	adminServed := make(chan error, 1)
	if adminLn != nil {
		go func() {
			err := srv.ServeAdmin(adminCtx, adminLn)
			if err != nil {
				log.Warn("admin listener failed; blobs are still served", "err", err)
			}
			adminServed <- err
		}()
	} else {
		if cfg.Cluster.Enabled() {
			log.Warn("admin listener off: no /admin/cluster or /admin/leave (strata stat --members, strata leave); set admin_listen")
		}
		adminServed <- nil
	}
	defer func() {
		stopAdmin()
		<-adminServed
	}()
	// failStart stops serving and reports why the node could not start.
	failStart := func(err error) error {
		stopServing()
		<-served
		return err
	}

	layout := "configured"
	if embedded {
		layout = "embedded, sized for a laptop (use a config file naming devices for production sizes)"
	}
	log.Info("opening store", "layout", layout, "hdd", absAll(cfg.HDDDirs), "index", abs(cfg.IndexDir),
		"volume_size", cfg.VolumeSize, "ssd_cache", abs(filepath.Join(cfg.SSDDir, ssdCacheFile)), "ssd_cache_size", cfg.SSDCacheSize,
		"ram_cache_size", cfg.RAMCacheSize, "max_blob_size", cfg.MaxBlobSize)
	tombstones := &tombstoneHook{} // bound to the cluster once it exists
	// The store's options are fixed before the cluster exists: the scrub's
	// corrupt-record hook goes through a relay the cluster's repair is set
	// on later (alone there is no other copy to repair from).
	relay := &corruptRelay{log: log}
	notify := startServiceNotify(ctx, log)
	defer notify.stop()
	store, backend, err := openStoreProgress(ctx, cfg, log, nil, relay.onCorrupt, tombstones, notify.recoveryProgress, srv.UploadsBackedOff)
	if err != nil {
		return failStart(err)
	}
	// From here on, store.Close closes the backend too.
	closeStore := func() error {
		if err := store.Close(); err != nil {
			return fmt.Errorf("close store: %w", err)
		}
		log.Info("store closed")
		return nil
	}
	// The admin pass routes run the local store's passes, in cluster
	// mode too (the coordinator is what the blob API attaches).
	srv.SetPasses(store)
	var blobs node.Store = node.Tiered(store)
	var clusterRT *clusterRuntime // nil alone
	if cfg.Cluster.Enabled() {
		rt, st, err := startCluster(serveCtx, cfg, srv, store, backend.NodeID(), stopServing, log)
		if err != nil {
			return failStart(errors.Join(fmt.Errorf("cluster: %w", err), closeStore()))
		}
		clusterRT, blobs = rt, st
		tombstones.bind(rt.cluster.TombstoneDroppable)
		// From here a scrub's corrupt find queues a copy from a replica.
		relay.set(clusterRT.cluster.RepairCorrupt)
		// The cluster stops after the blob listener drained, before the store closes.
		innerClose := closeStore
		closeStore = func() error {
			relay.stop()
			return errors.Join(clusterRT.close(), innerClose())
		}
	} else {
		relay.stop()
	}
	if err := srv.Attach(blobs); err != nil {
		return failStart(errors.Join(err, closeStore()))
	}
	if s3Ln != nil {
		stopS3, err := startS3(serveCtx, cfg, srv, blobs, s3Ln, log)
		if err != nil {
			return failStart(errors.Join(err, closeStore()))
		}
		// The S3 listener drains before the store closes, like the blob one.
		innerClose := closeStore
		closeStore = func() error {
			stopServing()
			stopS3()
			return innerClose()
		}
	}
	log.Info("store ready", "addr", lns.Main.Addr().String(), "node_id", backend.NodeID(), "read_only", cfg.ReadOnly)
	// The watchdog checks the local store: a cluster peer's trouble must
	// not get this node restarted.
	notify.ready(ctx, "serving on "+lns.Main.Addr().String(), node.Tiered(store))

	serveErr := <-served
	if serveErr != nil && ctx.Err() == nil {
		return errors.Join(serveErr, closeStore()) // serving failed on its own
	}
	if serveErr != nil {
		log.Warn("shutdown cut off in-flight requests", "err", serveErr)
	}
	return closeStore()
}

// listenBlobs binds the blob listeners cfg names: listen, and listen_read
// and listen_write when set. On an error none is left open.
func listenBlobs(cfg node.Config) (node.Listeners, error) {
	var lns node.Listeners
	for _, l := range []struct {
		key, addr string
		ln        *net.Listener
	}{
		{"listen", cfg.Listen, &lns.Main},
		{"listen_read", cfg.ListenRead, &lns.Read},
		{"listen_write", cfg.ListenWrite, &lns.Write},
	} {
		if l.addr == "" {
			continue
		}
		ln, err := net.Listen("tcp", l.addr)
		if err != nil {
			closeListeners(lns)
			return node.Listeners{}, fmt.Errorf("%s: %w", l.key, err)
		}
		*l.ln = ln
	}
	return lns, nil
}

// closeListeners closes the listeners of lns that are open.
func closeListeners(lns node.Listeners) {
	for _, ln := range []net.Listener{lns.Main, lns.Read, lns.Write} {
		if ln != nil {
			ln.Close()
		}
	}
}

// corruptRelay passes the block store's OnCorrupt calls (the scrub found a
// key's current version corrupt) to the cluster's repair once set. Calls
// before that (a scrub pass may run while the cluster starts) wait, up to
// maxEarlyCorrupt of them, and are handed over when it is set; after stop
// (alone, or the cluster closing) they are only logged.
type corruptRelay struct {
	log *slog.Logger

	mu      sync.Mutex
	repair  func(key string, version uint64)
	early   []corruptKey
	stopped bool
}

type corruptKey struct {
	key     string
	version uint64
}

// maxEarlyCorrupt bounds the corrupt keys held until the cluster runs;
// past it they are logged only (the next scrub pass reports them again).
const maxEarlyCorrupt = 1024

func (r *corruptRelay) onCorrupt(key string, version uint64) {
	r.mu.Lock()
	repair := r.repair
	if repair == nil && !r.stopped && len(r.early) < maxEarlyCorrupt {
		r.early = append(r.early, corruptKey{key, version})
		r.mu.Unlock()
		return
	}
	r.mu.Unlock()
	if repair != nil {
		repair(key, version)
		return
	}
	r.log.Warn("scrub found a corrupt blob and no replica repair is running: it is rewritten by a later write, or restore it", "key", key, "version", version)
}

// set starts passing calls to repair, first those that waited.
func (r *corruptRelay) set(repair func(key string, version uint64)) {
	r.mu.Lock()
	r.repair = repair
	early := r.early
	r.early = nil
	r.mu.Unlock()
	for _, k := range early {
		repair(k.key, k.version)
	}
}

// stop ends the passing (and the waiting) of calls: they are logged.
func (r *corruptRelay) stop() {
	r.mu.Lock()
	r.repair, r.early, r.stopped = nil, nil, true
	r.mu.Unlock()
}

// createDataDirs creates the directories of cfg's layout that the store
// needs (the SSD one only when the SSD cache is on).
func createDataDirs(cfg node.Config) error {
	dirs := append([]string{cfg.IndexDir}, cfg.HDDDirs...)
	if cfg.SSDCacheSize > 0 {
		dirs = append(dirs, cfg.SSDDir)
	}
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return fmt.Errorf("create %s: %w", d, err)
		}
	}
	return nil
}

// openStore opens the HDD block store of cfg, then the tiered store (RAM
// and SSD caches) over it. Closing the returned store closes the backend
// too; the backend is returned for its identity. dataFS is the file system
// of the HDD directories (nil: the real one). onCorrupt, when set, is the
// store's Options.OnCorrupt (the scrub found a key's current version
// corrupt); in serve it forwards to the cluster once there is one.
// tombstones is the cluster's late-bound tombstone hook, used in cluster
// mode (nil: compaction keeps every tombstone there; see applyCompaction).
func openStore(ctx context.Context, cfg node.Config, log *slog.Logger, dataFS ioengine.FS, onCorrupt func(key string, version uint64), tombstones *tombstoneHook) (*tiering.Store, *blockstore.Store, error) {
	return openStoreProgress(ctx, cfg, log, dataFS, onCorrupt, tombstones, nil, nil)
}

// openStoreProgress is openStore telling progress, when set, of the
// recovery scan's reads (serve extends systemd's start timeout with it),
// and with uploadsBackedOff, when set, as the tiered store's
// Options.UploadsBackedOff (serve: the node's pacing).
func openStoreProgress(ctx context.Context, cfg node.Config, log *slog.Logger, dataFS ioengine.FS, onCorrupt func(key string, version uint64), tombstones *tombstoneHook, progress func(bytes int64), uploadsBackedOff func() bool) (*tiering.Store, *blockstore.Store, error) {
	fileMode, _ := cfg.FileModeBits() // checked by Validate
	opts := blockstoreOptions(cfg, log, dataFS, onCorrupt, tombstones)
	opts.RecoveryProgress = progress
	backend, err := blockstore.Open(ctx, opts)
	if err != nil {
		return nil, nil, fmt.Errorf("open blockstore: %w", err)
	}
	topts := tiering.Options{
		Backend:  backend,
		SSDPath:  filepath.Join(cfg.SSDDir, ssdCacheFile),
		FileMode: fileMode,
		Logger:   log.With("component", "tiering"),

		UploadsBackedOff: uploadsBackedOff,
	}
	cfg.ApplyCacheOptions(&topts)
	store, err := tiering.Open(ctx, topts)
	if err != nil {
		return nil, nil, errors.Join(fmt.Errorf("open tiered store: %w", err), backend.Close())
	}
	return store, backend, nil
}

// blockstoreOptions are the block store's options for cfg: its layout,
// sizes, and the scrub and failed-disk settings (scrub_interval,
// scrub_rate, disk_error_threshold) and compaction (applyCompaction).
func blockstoreOptions(cfg node.Config, log *slog.Logger, dataFS ioengine.FS, onCorrupt func(key string, version uint64), tombstones *tombstoneHook) blockstore.Options {
	fileMode, _ := cfg.FileModeBits() // checked by Validate
	opts := blockstore.Options{
		FS:          dataFS, // nil: the real one; bench --device-model: a modelled head
		NodeID:      cfg.NodeID,
		FileMode:    fileMode,
		DataDirs:    cfg.HDDDirs,
		IndexDir:    cfg.IndexDir,
		VolumeSize:  int64(cfg.VolumeSize),
		ChunkSize:   int64(cfg.ChunkSize),
		MaxBlobSize: int64(cfg.MaxBlobSize),
		OnCorrupt:   onCorrupt,
		Logger:      log.With("component", "blockstore"),
	}
	cfg.ApplyDiskOptions(&opts)
	applyCompaction(cfg, &opts, tombstones)
	return opts
}

// setMemoryLimit sets the Go memory limit the configuration asks for (see
// node.Config.GoMemoryLimit), logs it with the budget it came from, and
// returns the previous limit.
func setMemoryLimit(cfg node.Config, log *slog.Logger) (previous int64) {
	b := cfg.MemoryBudget()
	limit, source := cfg.GoMemoryLimit(os.Getenv("GOMEMLIMIT"))
	previous = debug.SetMemoryLimit(-1)
	if limit > 0 {
		debug.SetMemoryLimit(limit)
	} else {
		limit = previous
	}
	log.Info("memory limit", "limit", node.ByteSize(limit), "source", source,
		"computed", node.ByteSize(b.Total), "caches", node.ByteSize(b.Caches), "requests", node.ByteSize(b.Requests),
		"connections", node.ByteSize(b.Connections), "disks", node.ByteSize(b.Disks), "base", node.ByteSize(b.Base))
	if limit < b.Total {
		log.Warn("memory limit below what the configuration may use: the garbage collector will run often under load, and the process may still exceed the limit",
			"limit", node.ByteSize(limit), "computed", node.ByteSize(b.Total))
	}
	return previous
}

func abs(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

func absAll(ps []string) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = abs(p)
	}
	return out
}
