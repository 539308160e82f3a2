package node

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"strata/blockstore"
	"strata/tiering"
)

// DefaultDataDir is where `strata serve` keeps every tier when nothing else is said.
const DefaultDataDir = "./strata-data"

// Token scopes.
const (
	ScopeRead      = "read"       // GET, HEAD, list
	ScopeReadWrite = "read-write" // the blob API: also PUT and DELETE
	// ScopeAdmin is read-write and the admin listener's routes that change
	// the node (POST /admin/..., such as a decommission).
	ScopeAdmin = "admin"
)

// minTokenLen keeps guessable tokens out of configs.
const minTokenLen = 16

// Config is the node's configuration, read from TOML (see docs/config.md).
// DefaultConfig gives every key its default; LoadConfig decodes a file over it.
type Config struct {
	// Listen is the HTTP address. Default "127.0.0.1:7070". It serves
	// every blob route, and the internal replica routes in cluster mode,
	// whether or not the split listeners below are on.
	Listen string `toml:"listen"`
	// ListenRead, when set, is a listener that answers only reads (GET and
	// HEAD of blobs, listings, the probes and metrics), with its own
	// connection limit and timeouts ([http.read]). Default "" (none).
	ListenRead string `toml:"listen_read"`
	// ListenWrite, when set, is a listener that answers only writes (PUT
	// and DELETE, and HEAD of a blob), with its own connection limit and
	// timeouts ([http.write]). Default "" (none).
	ListenWrite string `toml:"listen_write"`
	// ReadOnly serves reads and refuses client writes with 503
	// "read_only"; replica traffic from other nodes (the internal routes)
	// is still taken. Default false.
	ReadOnly bool `toml:"read_only"`
	// AdminListen is the admin address: /healthz, /readyz, /metrics and
	// /debug/pprof/, so probes and scrapes never queue behind blob
	// clients. "" or "off" turns it off. Default "127.0.0.1:7071".
	AdminListen string `toml:"admin_listen"`
	// DataDir is the root of the embedded layout: HDDDirs, SSDDir and
	// IndexDir default to its hdd/, ssd/ and index/ subdirectories.
	DataDir string `toml:"data_dir"`
	// HDDDirs are the blockstore data directories, one per disk.
	HDDDirs []string `toml:"hdd_dirs"`
	// SSDDir holds the SSD cache file.
	SSDDir string `toml:"ssd_dir"`
	// IndexDir holds the bbolt index; put it on the SSD.
	IndexDir string `toml:"index_dir"`
	// RAMCacheSize bounds the RAM cache; 0 turns it off. Default 256MiB.
	RAMCacheSize ByteSize `toml:"ram_cache_size"`
	// SSDCacheSize bounds the SSD cache; 0 turns it off. Default 1GiB.
	SSDCacheSize ByteSize `toml:"ssd_cache_size"`
	// SSDRebuildTime bounds the rebuild of the SSD cache's index from its
	// regions at a start after a crash (no saved index): the newest
	// regions are scanned first, and what is not reached in time starts
	// cold. "0s" turns the rebuild off (a crash always starts the SSD
	// cache cold). Default 30s.
	SSDRebuildTime time.Duration `toml:"ssd_rebuild_time"`
	// MaxBlobSize is the largest blob accepted. Default 5GiB.
	MaxBlobSize ByteSize `toml:"max_blob_size"`
	// ChunkSize: blobs above it are stored as chunks plus a manifest. Default 8MiB.
	ChunkSize ByteSize `toml:"chunk_size"`
	// VolumeSize is the preallocated size of one volume file. Default 4GiB.
	VolumeSize ByteSize `toml:"volume_size"`
	// LogLevel is debug, info, warn or error. Default "info".
	LogLevel string `toml:"log_level"`
	// LogFormat is text or json. Default "text".
	LogFormat string `toml:"log_format"`
	// ShutdownTimeout bounds how long in-flight requests may run after
	// SIGTERM before connections are closed. Default 30s.
	ShutdownTimeout time.Duration `toml:"shutdown_timeout"`
	// NodeID names this node: it is written into the identity file of
	// every data directory and kept in the index, and a start with another
	// node id is refused (the disks belong to another node). "" (the
	// default) keeps the id the disks already carry, or makes a random one
	// on the first start.
	NodeID string `toml:"node_id"`
	// FileMode is the permission of the files the node creates (volumes,
	// index, identity files, SSD cache), as an octal string. Default
	// "0600"; "0640" lets a group read them (for backups or inspection).
	FileMode string `toml:"file_mode"`
	// MemoryLimit is the Go memory limit `strata serve` sets; 0 (the
	// default) computes it from the other settings (MemoryBudget). The
	// GOMEMLIMIT environment variable overrides both.
	MemoryLimit ByteSize `toml:"memory_limit"`
	// ScrubInterval is how long after a disk's last complete scrub pass
	// (every record read and verified) the next begins; "0s" turns the
	// background scrub off. Default 168h.
	ScrubInterval time.Duration `toml:"scrub_interval"`
	// ScrubRate bounds each disk's scrub reads, per second. Default 8MiB.
	ScrubRate ByteSize `toml:"scrub_rate"`
	// DiskErrorThreshold is how many I/O errors take a data disk out of
	// service until restart; -1: never. Default 10.
	DiskErrorThreshold int `toml:"disk_error_threshold"`
	// SpaceReserve is free space on each data disk that new blobs may not
	// use, so deletes and compaction still work on a disk that blobs
	// filled (compaction needs room for the volume its copies go to).
	// 0 (the default): one volume_size.
	SpaceReserve ByteSize `toml:"space_reserve"`
	// CompactInterval is how often a background compaction pass looks
	// for sealed volumes whose garbage ratio reached CompactThreshold and
	// copies their live records away; "0s" turns it off (strata compact
	// and the admin route still run a pass). Default 1h.
	CompactInterval time.Duration `toml:"compact_interval"`
	// CompactThreshold is the garbage ratio, in (0, 1], at which a sealed
	// volume is compacted. Default 0.5.
	CompactThreshold float64 `toml:"compact_threshold"`
	// CompactRate bounds the bytes a compaction pass reads and writes
	// together, per second. Default 8MiB.
	CompactRate ByteSize `toml:"compact_rate"`

	HTTP    HTTPConfig    `toml:"http"`
	Limits  LimitsConfig  `toml:"limits"`
	Auth    AuthConfig    `toml:"auth"`
	Cluster ClusterConfig `toml:"cluster"`
	S3      S3Config      `toml:"s3"`
	Pacing  PacingConfig  `toml:"pacing"`

	// adminListenGiven: admin_listen was set by the file or a flag, so
	// cluster mode does not move it (AdminAddress).
	adminListenGiven bool

	// BuildVersion is the binary's link-time version, set by the binary
	// (never by a config file) for strata_build_info; "" lets the node
	// read the build info itself.
	BuildVersion string `toml:"-"`
}

// HTTPConfig bounds what one connection may cost.
type HTTPConfig struct {
	// ReadHeaderTimeout bounds reading request headers. Default 10s.
	ReadHeaderTimeout time.Duration `toml:"read_header_timeout"`
	// IdleTimeout closes idle keep-alive connections. Default 120s.
	IdleTimeout time.Duration `toml:"idle_timeout"`
	// ProgressTimeout: an upload must deliver, and a download must accept,
	// some bytes at least this often or the request is cut off. There is no
	// limit on the total time of a request that keeps moving. Default 30s.
	ProgressTimeout time.Duration `toml:"progress_timeout"`
	// MaxHeaderBytes bounds request headers. Default 64KiB.
	MaxHeaderBytes ByteSize `toml:"max_header_bytes"`
	// MaxConnections bounds open connections; further ones wait in the
	// kernel's accept queue. Default 4096.
	MaxConnections int `toml:"max_connections"`
	// MaxConnectionsPerClient bounds the open connections of one client
	// IP; past it a new connection is answered 429 and closed at once.
	// 0 turns the bound off. Default 256.
	MaxConnectionsPerClient int `toml:"max_connections_per_client"`
	// LimitLoopbackClients applies MaxConnectionsPerClient to loopback
	// clients too (a local proxy in front of the node wants false).
	// Default true.
	LimitLoopbackClients bool `toml:"limit_loopback_clients"`
	// LeanGet answers plain GET and HEAD requests of blobs on the blob
	// listeners with the lean HTTP/1.1 path (lean*.go), which gives the
	// same answer as net/http with less work; every other request goes to
	// net/http. Default true.
	LeanGet bool `toml:"lean_get"`
	// LeanPut answers PUTs of blobs with a Content-Length body on the lean
	// path too (leanput.go; only where LeanGet serves the listener);
	// anything unusual goes to net/http. Default true.
	LeanPut bool `toml:"lean_put"`

	// Read and Write are the [http.read] and [http.write] tables: the
	// bounds of listen_read and listen_write (ListenerHTTPConfig); a key
	// left out takes this table's value.
	Read  ListenerHTTPConfig `toml:"read"`
	Write ListenerHTTPConfig `toml:"write"`
}

// LimitsConfig is admission control: uploads and reads have separate
// budgets, so a flood of slow uploads cannot starve reads.
type LimitsConfig struct {
	// MaxUploads bounds concurrent PUT and DELETE requests. Default 32.
	MaxUploads int `toml:"max_uploads"`
	// MaxReads bounds concurrent GET, HEAD and list requests. Default 128.
	MaxReads int `toml:"max_reads"`
	// AdmissionWait is how long a request may wait for a slot before it is
	// answered 503 with Retry-After. Default 0 (answer at once).
	AdmissionWait time.Duration `toml:"admission_wait"`
	// RetryAfter is the Retry-After sent with 503 answers. Default 1s.
	RetryAfter time.Duration `toml:"retry_after"`
}

// AuthConfig holds bearer tokens. With none, the node only listens on loopback.
type AuthConfig struct {
	Tokens []Token `toml:"tokens"`
	// PublicMetrics serves /metrics without a token. Default true.
	// /healthz and /readyz never need one.
	PublicMetrics bool `toml:"public_metrics"`
}

// Token is one bearer token and what it may do.
type Token struct {
	// Name labels the token in logs; never the secret itself.
	Name string `toml:"name"`
	// Token is the secret, at least 16 bytes.
	Token string `toml:"token"`
	// Scope is "read", "read-write" or "admin"; each allows what the one
	// before it does.
	Scope string `toml:"scope"`
}

// DefaultConfig returns the defaults with every tier under dataRoot
// (DefaultDataDir when empty): dataRoot/hdd, dataRoot/ssd, dataRoot/index.
func DefaultConfig(dataRoot string) Config {
	if dataRoot == "" {
		dataRoot = DefaultDataDir
	}
	c := Config{
		Listen:          "127.0.0.1:7070",
		AdminListen:     DefaultAdminListen,
		RAMCacheSize:    256 << 20,
		SSDCacheSize:    1 << 30,
		SSDRebuildTime:  tiering.DefaultSSDRebuildTime,
		MaxBlobSize:     5 << 30,
		ChunkSize:       8 << 20,
		VolumeSize:      4 << 30,
		LogLevel:        "info",
		LogFormat:       "text",
		ShutdownTimeout: 30 * time.Second,
		HTTP: HTTPConfig{
			ReadHeaderTimeout:       10 * time.Second,
			IdleTimeout:             120 * time.Second,
			ProgressTimeout:         30 * time.Second,
			MaxHeaderBytes:          64 << 10,
			MaxConnections:          4096,
			MaxConnectionsPerClient: 256,
			LimitLoopbackClients:    true,
			LeanGet:                 true,
			LeanPut:                 true,
		},
		Limits: LimitsConfig{
			MaxUploads: 32,
			MaxReads:   128,
			RetryAfter: time.Second,
		},
		Auth:    AuthConfig{PublicMetrics: true},
		Cluster: defaultClusterConfig(),
		S3:      defaultS3Config(),
		Pacing:  defaultPacingConfig(),
	}
	c.ScrubInterval, c.ScrubRate, c.DiskErrorThreshold = DefaultScrubInterval, blockstore.DefaultScrubBytesPerSec, blockstore.DefaultDiskErrorThreshold
	c.CompactInterval, c.CompactThreshold, c.CompactRate = DefaultCompactInterval, blockstore.DefaultCompactThreshold, blockstore.DefaultCompactBytesPerSec
	c.SetDataDir(dataRoot)
	return c
}

// DefaultScrubInterval is scrub_interval's default: a pass a week after
// the last one ended (a pass over a 10 TB disk at 8 MiB/s takes two weeks).
const DefaultScrubInterval = 7 * 24 * time.Hour

// DefaultCompactInterval is compact_interval's default: a node reclaims
// the space of overwrites and deletes without an operator asking, and a
// pass that finds no volume over the threshold only reads the index's
// per-volume counts.
const DefaultCompactInterval = time.Hour

// ApplyCompactOptions sets the compaction settings in o (the tombstone
// grace and hook are the cluster's business: cmd/strata sets them in
// cluster mode).
func (c Config) ApplyCompactOptions(o *blockstore.Options) {
	o.CompactInterval = c.CompactInterval
	o.CompactThreshold = c.CompactThreshold
	o.CompactBytesPerSec = int64(c.CompactRate)
}

// ApplyCacheOptions sets the cache settings in o: the RAM and SSD cache
// sizes and the SSD rebuild bound (ssd_rebuild_time "0s" is
// tiering's negative SSDRebuildTime, no rebuild).
func (c Config) ApplyCacheOptions(o *tiering.Options) {
	o.RAMCacheBytes = int64(c.RAMCacheSize)
	o.SSDCacheBytes = int64(c.SSDCacheSize)
	o.SSDRebuildTime = c.SSDRebuildTime
	if c.SSDRebuildTime == 0 {
		o.SSDRebuildTime = -1
	}
}

// ApplyDiskOptions sets the scrub and failed-disk settings in o.
func (c Config) ApplyDiskOptions(o *blockstore.Options) {
	o.ScrubInterval = c.ScrubInterval
	o.ScrubBytesPerSec = int64(c.ScrubRate)
	o.DiskErrorThreshold = c.DiskErrorThreshold
	o.SpaceReserve = int64(c.SpaceReserve)
}

// Sizes of the embedded layout (EmbeddedConfig): small enough for a
// laptop, where the first PUT would otherwise preallocate a 4 GiB volume
// and a 1 GiB SSD cache file.
const (
	EmbeddedVolumeSize   = 256 << 20
	EmbeddedSSDCacheSize = 128 << 20
	EmbeddedRAMCacheSize = 64 << 20
)

// EmbeddedConfig is DefaultConfig sized for a laptop: what `strata serve`
// uses when no config file and no device directory is given, so a newcomer
// can try it without giving up gigabytes. A config file gets the
// production defaults of DefaultConfig.
func EmbeddedConfig(dataRoot string) Config {
	c := DefaultConfig(dataRoot)
	c.VolumeSize = EmbeddedVolumeSize
	c.SSDCacheSize = EmbeddedSSDCacheSize
	c.RAMCacheSize = EmbeddedRAMCacheSize
	return c
}

// layout returns the directories of the embedded layout under root.
func layout(root string) (hdd, ssd, index string) {
	return filepath.Join(root, "hdd"), filepath.Join(root, "ssd"), filepath.Join(root, "index")
}

// SetDataDir moves the embedded layout to root: directories that are unset
// or still at the old root's default move with it; directories set
// elsewhere stay where they are.
func (c *Config) SetDataDir(root string) {
	oldHDD, oldSSD, oldIndex := layout(c.DataDir)
	hdd, ssd, index := layout(root)
	if len(c.HDDDirs) == 0 || (c.DataDir != "" && len(c.HDDDirs) == 1 && c.HDDDirs[0] == oldHDD) {
		c.HDDDirs = []string{hdd}
	}
	if c.SSDDir == "" || (c.DataDir != "" && c.SSDDir == oldSSD) {
		c.SSDDir = ssd
	}
	if c.IndexDir == "" || (c.DataDir != "" && c.IndexDir == oldIndex) {
		c.IndexDir = index
	}
	c.DataDir = root
}

// LoadConfig reads a TOML file over DefaultConfig. Unknown keys are an
// error (a typo must not silently fall back to a default). Directories the
// file leaves out follow its data_dir. The result is not yet validated.
func LoadConfig(path string) (Config, error) {
	c := DefaultConfig("")
	c.DataDir, c.HDDDirs, c.SSDDir, c.IndexDir = "", nil, "", ""
	md, err := toml.DecodeFile(path, &c)
	if err != nil {
		return Config{}, fmt.Errorf("node: config %s: %w", path, err)
	}
	if undecoded := md.Undecoded(); len(undecoded) > 0 {
		keys := make([]string, len(undecoded))
		for i, k := range undecoded {
			keys[i] = k.String()
		}
		return Config{}, fmt.Errorf("node: config %s: unknown keys: %s", path, strings.Join(keys, ", "))
	}
	c.adminListenGiven = md.IsDefined("admin_listen")
	root := c.DataDir
	if root == "" {
		root = DefaultDataDir
	}
	c.SetDataDir(root)
	return c, nil
}

// ErrInsecureListen: no tokens are configured and the listen address is not loopback.
var ErrInsecureListen = errors.New("node: refusing to listen on a non-loopback address without auth tokens")

// FileModeBits parses FileMode: permission bits only, the owner must be
// able to read and write, and nobody may execute or (other than owner and
// group) read. "" means 0600.
func (c Config) FileModeBits() (fs.FileMode, error) {
	if c.FileMode == "" {
		return blockstore.DefaultFileMode, nil
	}
	v, err := strconv.ParseUint(c.FileMode, 8, 32)
	m := fs.FileMode(v)
	switch {
	case err != nil:
		return 0, fmt.Errorf("file_mode %q is not an octal mode such as \"0640\"", c.FileMode)
	case m&^0o660 != 0 || m&0o600 != 0o600:
		return 0, fmt.Errorf("file_mode %q: want owner read-write, at most group read-write, nothing for others and no execute (0600, 0640 or 0660)", c.FileMode)
	}
	return m, nil
}

// Validate reports every problem in the configuration at once.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("node: config: "+format, args...)) }

	host, _, err := net.SplitHostPort(c.Listen)
	if err != nil {
		bad("listen %q: %v", c.Listen, err)
	} else if len(c.Auth.Tokens) == 0 && !isLoopbackHost(host) {
		errs = append(errs, fmt.Errorf("%w: listen %q; add [[auth.tokens]] or listen on 127.0.0.1", ErrInsecureListen, c.Listen))
	}
	if admin := c.AdminAddress(); c.AdminEnabled() {
		host, _, err := net.SplitHostPort(admin)
		if err != nil {
			bad("admin_listen %q: %v (\"off\" turns it off)", admin, err)
		} else if len(c.Auth.Tokens) == 0 && !isLoopbackHost(host) {
			errs = append(errs, fmt.Errorf("%w: admin_listen %q; add [[auth.tokens]] or listen on 127.0.0.1", ErrInsecureListen, admin))
		}
	}
	c.validateListeners(bad)
	c.validateCluster(bad)
	c.validateS3(bad)
	c.validatePacing(bad)
	if _, err := c.FileModeBits(); err != nil {
		bad("%v", err)
	}
	if c.HTTP.MaxConnectionsPerClient < 0 {
		bad("http.max_connections_per_client is negative (0 turns it off)")
	}
	if len(c.HDDDirs) == 0 {
		bad("hdd_dirs is empty")
	}
	seen := map[string]bool{}
	for _, d := range c.HDDDirs {
		clean := filepath.Clean(d)
		switch {
		case d == "":
			bad("hdd_dirs holds an empty path")
		case seen[clean]:
			bad("hdd_dirs names %q twice", d)
		}
		seen[clean] = true
	}
	if c.IndexDir == "" {
		bad("index_dir is empty")
	}
	if c.SSDCacheSize > 0 && c.SSDDir == "" {
		bad("ssd_dir is empty but ssd_cache_size is %v", c.SSDCacheSize)
	}
	for name, v := range map[string]ByteSize{"ram_cache_size": c.RAMCacheSize, "ssd_cache_size": c.SSDCacheSize, "memory_limit": c.MemoryLimit, "space_reserve": c.SpaceReserve} {
		if v < 0 {
			bad("%s is negative", name)
		}
	}
	if c.SSDRebuildTime < 0 {
		bad("ssd_rebuild_time %v is negative (\"0s\" turns the rebuild off)", c.SSDRebuildTime)
	}
	switch {
	case c.ScrubInterval < 0:
		bad("scrub_interval %v is negative", c.ScrubInterval)
	case c.ScrubRate <= 0:
		bad("scrub_rate must be positive")
	case c.DiskErrorThreshold == 0 || c.DiskErrorThreshold < -1:
		bad("disk_error_threshold %d: want a positive count, or -1 for never", c.DiskErrorThreshold)
	}
	switch {
	case c.CompactInterval < 0:
		bad("compact_interval %v is negative", c.CompactInterval)
	case !(c.CompactThreshold > 0 && c.CompactThreshold <= 1):
		bad("compact_threshold %v outside (0, 1]", c.CompactThreshold)
	case c.CompactRate <= 0:
		bad("compact_rate must be positive")
	}
	for name, v := range map[string]ByteSize{"max_blob_size": c.MaxBlobSize, "chunk_size": c.ChunkSize, "volume_size": c.VolumeSize, "http.max_header_bytes": c.HTTP.MaxHeaderBytes} {
		if v <= 0 {
			bad("%s must be positive", name)
		}
	}
	if c.VolumeSize > 0 && c.ChunkSize > c.VolumeSize {
		bad("chunk_size %v exceeds volume_size %v", c.ChunkSize, c.VolumeSize)
	} else if c.VolumeSize > 0 && c.ChunkSize > 0 && c.MaxBlobSize > 0 {
		// The blockstore's own rule, checked here so a bad value fails
		// before anything is bound or created.
		min, err := blockstore.MinVolumeSize(blockstore.Options{ChunkSize: int64(c.ChunkSize), MaxBlobSize: int64(c.MaxBlobSize)})
		switch {
		case err != nil:
			bad("chunk_size %v with max_blob_size %v: %v", c.ChunkSize, c.MaxBlobSize, err)
		case int64(c.VolumeSize) < min:
			bad("volume_size %v below its minimum %v for chunk_size %v and max_blob_size %v (two largest records, two %v group-commit batches and the tombstone reserve)",
				c.VolumeSize, ByteSize(min), c.ChunkSize, c.MaxBlobSize, ByteSize(blockstore.DefaultMaxBatchBytes))
		}
		if c.VolumeSize%blockstore.VolumeAlign != 0 {
			bad("volume_size %v is not a multiple of %v", c.VolumeSize, ByteSize(blockstore.VolumeAlign))
		}
	}
	if _, err := ParseLogLevel(c.LogLevel); err != nil {
		bad("log_level: %v", err)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		bad("log_format %q: want text or json", c.LogFormat)
	}
	for name, v := range map[string]time.Duration{
		"http.read_header_timeout": c.HTTP.ReadHeaderTimeout,
		"http.idle_timeout":        c.HTTP.IdleTimeout,
		"http.progress_timeout":    c.HTTP.ProgressTimeout,
		"limits.retry_after":       c.Limits.RetryAfter,
	} {
		if v <= 0 {
			bad("%s must be positive", name)
		}
	}
	for name, v := range map[string]time.Duration{"shutdown_timeout": c.ShutdownTimeout, "limits.admission_wait": c.Limits.AdmissionWait} {
		if v < 0 {
			bad("%s is negative", name)
		}
	}
	for name, v := range map[string]int{"http.max_connections": c.HTTP.MaxConnections, "limits.max_uploads": c.Limits.MaxUploads, "limits.max_reads": c.Limits.MaxReads} {
		if v <= 0 {
			bad("%s must be positive", name)
		}
	}
	secrets := map[string]bool{}
	for i, t := range c.Auth.Tokens {
		label := fmt.Sprintf("auth.tokens[%d]", i)
		if t.Name != "" {
			label += fmt.Sprintf(" (%s)", t.Name)
		}
		switch {
		case len(t.Token) < minTokenLen:
			bad("%s: token shorter than %d bytes", label, minTokenLen)
		case strings.TrimSpace(t.Token) != t.Token || strings.ContainsAny(t.Token, " \t\r\n"):
			bad("%s: token holds whitespace", label)
		case secrets[t.Token]:
			bad("%s: token repeats an earlier one", label)
		}
		secrets[t.Token] = true
		if t.Scope != ScopeRead && t.Scope != ScopeReadWrite && t.Scope != ScopeAdmin {
			bad("%s: scope %q: want %q, %q or %q", label, t.Scope, ScopeRead, ScopeReadWrite, ScopeAdmin)
		}
	}
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errors.Join(errs...)
}

// AdminEnabled reports whether the admin listener is on (AdminAddress).
func (c Config) AdminEnabled() bool {
	a := c.AdminAddress()
	return a != "" && a != "off"
}

// isLoopbackHost reports whether host only reaches this machine.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ParseLogLevel reads debug, info, warn or error.
func ParseLogLevel(s string) (slog.Level, error) {
	var l slog.Level
	switch strings.ToLower(s) {
	case "debug", "info", "warn", "error":
		err := l.UnmarshalText([]byte(s))
		return l, err
	}
	return 0, fmt.Errorf("log level %q: want debug, info, warn or error", s)
}
