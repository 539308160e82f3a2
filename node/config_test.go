package node

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"strata/blockstore"
	"strata/tiering"
)

func TestDefaultConfig(t *testing.T) {
	c := DefaultConfig("")
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
	want := map[string]any{
		"listen": "127.0.0.1:7070", "data": DefaultDataDir,
		"hdd": []string{filepath.Join(DefaultDataDir, "hdd")}, "ssd": filepath.Join(DefaultDataDir, "ssd"),
		"index": filepath.Join(DefaultDataDir, "index"), "ram": ByteSize(256 << 20), "ssdcache": ByteSize(1 << 30),
		"max": ByteSize(5 << 30), "shutdown": 30 * time.Second,
		"admin": "127.0.0.1:7071", "perclient": 256, "loopback": true,
		"leanget": true, "leanput": true,
	}
	got := map[string]any{
		"listen": c.Listen, "data": c.DataDir, "hdd": c.HDDDirs, "ssd": c.SSDDir, "index": c.IndexDir,
		"ram": c.RAMCacheSize, "ssdcache": c.SSDCacheSize, "max": c.MaxBlobSize, "shutdown": c.ShutdownTimeout,
		"admin": c.AdminListen, "perclient": c.HTTP.MaxConnectionsPerClient, "loopback": c.HTTP.LimitLoopbackClients,
		"leanget": c.HTTP.LeanGet, "leanput": c.HTTP.LeanPut,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("defaults %v, want %v", got, want)
	}
}

// The cache settings reach the tiering options: ssd_rebuild_time from a
// config file, its default, and "0s" as no rebuild.
func TestApplyCacheOptions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "strata.toml")
	for _, tc := range []struct {
		text    string
		want    time.Duration // tiering.Options.SSDRebuildTime
		invalid bool
	}{
		{``, tiering.DefaultSSDRebuildTime, false},
		{`ssd_rebuild_time = "2m"`, 2 * time.Minute, false},
		{`ssd_rebuild_time = "0s"`, -1, false},
		{`ssd_rebuild_time = "-5s"`, 0, true},
	} {
		text := "ram_cache_size = \"8MiB\"\nssd_cache_size = \"64MiB\"\n" + tc.text + "\n"
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := LoadConfig(path)
		if err != nil {
			t.Fatalf("%s: %v", tc.text, err)
		}
		if err := c.Validate(); (err != nil) != tc.invalid {
			t.Errorf("%q: Validate %v, want invalid=%v", tc.text, err, tc.invalid)
			continue
		}
		if tc.invalid {
			continue
		}
		var o tiering.Options
		c.ApplyCacheOptions(&o)
		if o.SSDRebuildTime != tc.want || o.RAMCacheBytes != 8<<20 || o.SSDCacheBytes != 64<<20 {
			t.Errorf("%q: options rebuild %v, RAM %d, SSD %d; want rebuild %v, 8 MiB, 64 MiB", tc.text, o.SSDRebuildTime, o.RAMCacheBytes, o.SSDCacheBytes, tc.want)
		}
	}
}

// The scrub and failed-disk settings reach the blockstore's options.
func TestApplyDiskOptions(t *testing.T) {
	c := DefaultConfig("")
	var o blockstore.Options
	c.ApplyDiskOptions(&o)
	if o.ScrubInterval != 7*24*time.Hour || o.ScrubBytesPerSec != 8<<20 || o.DiskErrorThreshold != 10 {
		t.Fatalf("defaults give %v, %d bytes/s, threshold %d", o.ScrubInterval, o.ScrubBytesPerSec, o.DiskErrorThreshold)
	}
	c.ScrubInterval, c.ScrubRate, c.DiskErrorThreshold = time.Hour, 1<<20, -1
	c.ApplyDiskOptions(&o)
	if o.ScrubInterval != time.Hour || o.ScrubBytesPerSec != 1<<20 || o.DiskErrorThreshold != -1 {
		t.Fatalf("set values give %v, %d bytes/s, threshold %d", o.ScrubInterval, o.ScrubBytesPerSec, o.DiskErrorThreshold)
	}
}

// The compaction settings reach the blockstore's options; the example
// config gives the defaults.
func TestApplyCompactOptions(t *testing.T) {
	c := DefaultConfig("")
	var o blockstore.Options
	c.ApplyCompactOptions(&o)
	if o.CompactInterval != time.Hour || o.CompactThreshold != 0.5 || o.CompactBytesPerSec != 8<<20 {
		t.Fatalf("defaults give %v, threshold %v, %d bytes/s", o.CompactInterval, o.CompactThreshold, o.CompactBytesPerSec)
	}
	c.CompactInterval, c.CompactThreshold, c.CompactRate = 0, 0.25, 1<<20
	c.ApplyCompactOptions(&o)
	if o.CompactInterval != 0 || o.CompactThreshold != 0.25 || o.CompactBytesPerSec != 1<<20 {
		t.Fatalf("set values give %v, threshold %v, %d bytes/s", o.CompactInterval, o.CompactThreshold, o.CompactBytesPerSec)
	}
	ex, err := LoadConfig(filepath.Join("..", "docs", "strata.example.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if d := DefaultConfig(""); ex.CompactInterval != d.CompactInterval || ex.CompactThreshold != d.CompactThreshold || ex.CompactRate != d.CompactRate {
		t.Fatalf("example config: %v, %v, %v; want the defaults", ex.CompactInterval, ex.CompactThreshold, ex.CompactRate)
	}
}

func TestSetDataDir(t *testing.T) {
	c := DefaultConfig("/a")
	c.IndexDir = "/ssd/index" // set elsewhere: stays
	c.SetDataDir("/b")
	if c.HDDDirs[0] != "/b/hdd" || c.SSDDir != "/b/ssd" || c.IndexDir != "/ssd/index" || c.DataDir != "/b" {
		t.Fatalf("after SetDataDir: %+v", c)
	}
}

func TestLoadConfig(t *testing.T) {
	for _, tc := range []struct {
		file  string
		check func(t *testing.T, c Config)
		err   string // substring of the load error
	}{
		{"empty.toml", func(t *testing.T, c Config) {
			if !reflect.DeepEqual(c, DefaultConfig("")) {
				t.Fatalf("empty file: %+v, want defaults", c)
			}
		}, ""},
		{"datadir.toml", func(t *testing.T, c Config) {
			if c.HDDDirs[0] != "/srv/strata/hdd" || c.SSDDir != "/fast/ssd" || c.IndexDir != "/srv/strata/index" {
				t.Fatalf("layout %+v", c)
			}
		}, ""},
		{"full.toml", func(t *testing.T, c Config) {
			if c.Listen != "10.0.0.5:7070" || len(c.HDDDirs) != 2 || c.RAMCacheSize != 512<<20 || c.SSDCacheSize != 0 ||
				c.MaxBlobSize != 1<<30 || c.HTTP.ProgressTimeout != time.Minute || c.HTTP.MaxHeaderBytes != 32768 ||
				c.Limits.MaxUploads != 4 || len(c.Auth.Tokens) != 1 || c.Auth.Tokens[0].Scope != ScopeRead || c.Auth.PublicMetrics ||
				c.AdminEnabled() || c.HTTP.MaxConnectionsPerClient != 16 || c.HTTP.LimitLoopbackClients ||
				c.HTTP.LeanPut || !c.HTTP.LeanGet {
				t.Fatalf("full config %+v", c)
			}
		}, ""},
		{"split.toml", checkSplit, ""},
		{"unknown-split-key.toml", nil, "unknown keys: http.read.max_conections"},
		{"bad-split-duration.toml", nil, "progress_timeout"},
		{"unknown-key.toml", nil, "unknown keys: limits.max_upload"},
		{"bad-size.toml", nil, "bad size"},
		{"bad-syntax.toml", nil, "config"},
		{"missing.toml", nil, "no such file"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			c, err := LoadConfig(filepath.Join("testdata", tc.file))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			tc.check(t, c)
		})
	}
}

// The documented example must load and validate.
func TestExampleConfig(t *testing.T) {
	path := filepath.Join("..", "docs", "strata.example.toml")
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("example config: %v", err)
	}
	c, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("example config does not validate: %v", err)
	}
	if len(c.HDDDirs) != 2 || len(c.Auth.Tokens) != 3 || c.Auth.Tokens[2].Scope != ScopeAdmin {
		t.Fatalf("example config read as %+v", c)
	}
}

func TestValidate(t *testing.T) {
	token := Token{Name: "t", Token: "0123456789abcdef", Scope: ScopeReadWrite}
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
		err    string // substring; "" = valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"scrub off", func(c *Config) { c.ScrubInterval = 0 }, ""},
		{"negative scrub interval", func(c *Config) { c.ScrubInterval = -time.Second }, "scrub_interval"},
		{"no scrub rate", func(c *Config) { c.ScrubRate = 0 }, "scrub_rate"},
		{"compaction off", func(c *Config) { c.CompactInterval = 0 }, ""},
		{"negative compact interval", func(c *Config) { c.CompactInterval = -time.Second }, "compact_interval"},
		{"zero compact threshold", func(c *Config) { c.CompactThreshold = 0 }, "compact_threshold"},
		{"compact threshold above 1", func(c *Config) { c.CompactThreshold = 1.5 }, "compact_threshold"},
		{"no compact rate", func(c *Config) { c.CompactRate = 0 }, "compact_rate"},
		{"disk errors never", func(c *Config) { c.DiskErrorThreshold = -1 }, ""},
		{"zero disk error threshold", func(c *Config) { c.DiskErrorThreshold = 0 }, "disk_error_threshold"},
		{"loopback v6", func(c *Config) { c.Listen = "[::1]:7070" }, ""},
		{"localhost", func(c *Config) { c.Listen = "localhost:0" }, ""},
		{"public with tokens", func(c *Config) { c.Listen = "0.0.0.0:7070"; c.Auth.Tokens = []Token{token} }, ""},
		{"public without tokens", func(c *Config) { c.Listen = "0.0.0.0:7070" }, "non-loopback"},
		{"all interfaces without tokens", func(c *Config) { c.Listen = ":7070" }, "non-loopback"},
		{"bad listen", func(c *Config) { c.Listen = "7070" }, "listen"},
		{"admin off", func(c *Config) { c.AdminListen = "off" }, ""},
		{"admin empty", func(c *Config) { c.AdminListen = "" }, ""},
		{"bad admin listen", func(c *Config) { c.AdminListen = "7071" }, "admin_listen"},
		{"public admin without tokens", func(c *Config) { c.AdminListen = "0.0.0.0:7071" }, "non-loopback"},
		{"public admin with tokens", func(c *Config) { c.AdminListen = "0.0.0.0:7071"; c.Auth.Tokens = []Token{token} }, ""},
		{"per-client bound off", func(c *Config) { c.HTTP.MaxConnectionsPerClient = 0 }, ""},
		{"negative per-client bound", func(c *Config) { c.HTTP.MaxConnectionsPerClient = -1 }, "max_connections_per_client"},
		// Split listeners and read-only mode (listener_config.go).
		{"split on loopback", func(c *Config) { c.ListenRead, c.ListenWrite = "127.0.0.1:8080", "127.0.0.1:8081" }, ""},
		{"read only", func(c *Config) { c.ListenRead = "127.0.0.1:8080" }, ""},
		{"write only", func(c *Config) { c.ListenWrite = "[::1]:8081" }, ""},
		{"fresh ports", func(c *Config) { c.Listen, c.ListenRead, c.ListenWrite = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0" }, ""},
		{"read-only mode", func(c *Config) { c.ReadOnly = true }, ""},
		{"bad read address", func(c *Config) { c.ListenRead = "8080" }, `listen_read "8080"`},
		{"bad write address", func(c *Config) { c.ListenWrite = "localhost" }, `listen_write "localhost"`},
		{"public read without tokens", func(c *Config) { c.ListenRead = "0.0.0.0:8080" }, "non-loopback"},
		{"public write without tokens", func(c *Config) { c.ListenWrite = ":8081" }, "non-loopback"},
		{"public split with tokens", func(c *Config) {
			c.Listen, c.ListenRead, c.ListenWrite = "10.0.0.1:7070", "0.0.0.0:8080", "0.0.0.0:8081"
			c.Auth.Tokens = []Token{token}
		}, ""},
		{"read on listen", func(c *Config) { c.ListenRead = c.Listen }, "binds the same address as listen"},
		{"write on admin", func(c *Config) { c.ListenWrite = DefaultAdminListen }, "binds the same address as admin_listen"},
		{"read and write together", func(c *Config) { c.ListenRead, c.ListenWrite = "127.0.0.1:8080", "127.0.0.1:8080" }, "listen_write \"127.0.0.1:8080\" binds the same address as listen_read"},
		{"same port, all interfaces", func(c *Config) {
			c.ListenRead, c.ListenWrite = "0.0.0.0:8080", "10.0.0.1:8080"
			c.Auth.Tokens = []Token{token}
		}, "binds the same address as listen_read"},
		{"same port, other hosts", func(c *Config) {
			c.ListenRead, c.ListenWrite = "10.0.0.1:8080", "10.0.0.2:8080"
			c.Auth.Tokens = []Token{token}
		}, ""},
		{"same port spelled twice", func(c *Config) { c.ListenRead, c.ListenWrite = "127.0.0.1:8080", "127.0.0.1:08080" }, "binds the same address"},
		{"same IP spelled twice", func(c *Config) { c.ListenRead, c.ListenWrite = "[::1]:8080", "[0:0::1]:8080" }, "binds the same address"},
		{"read table", func(c *Config) {
			c.ListenRead = "127.0.0.1:8080"
			c.HTTP.Read = ListenerHTTPConfig{MaxConnections: intp(64), MaxConnectionsPerClient: intp(0), ProgressTimeout: durp(time.Second)}
		}, ""},
		{"zero read connections", func(c *Config) { c.HTTP.Read.MaxConnections = intp(0) }, "http.read.max_connections must be positive"},
		{"negative write per-client", func(c *Config) { c.HTTP.Write.MaxConnectionsPerClient = intp(-1) }, "http.write.max_connections_per_client is negative"},
		{"zero write progress", func(c *Config) { c.HTTP.Write.ProgressTimeout = durp(0) }, "http.write.progress_timeout must be positive"},
		{"negative read idle", func(c *Config) { c.HTTP.Read.IdleTimeout = durp(-time.Second) }, "http.read.idle_timeout must be positive"},
		{"zero write header timeout", func(c *Config) { c.HTTP.Write.ReadHeaderTimeout = durp(0) }, "http.write.read_header_timeout"},
		{"cluster with split listeners", func(c *Config) {
			withClusterMode(c)
			c.ListenRead, c.ListenWrite = "127.0.0.1:8080", "127.0.0.1:8081"
		}, ""},
		{"read listener on the gossip port", func(c *Config) {
			withClusterMode(c)
			c.ListenRead = "127.0.0.1:7946"
		}, "binds the same address as cluster.gossip"},
		{"cluster advertising the write listener", func(c *Config) {
			withClusterMode(c)
			c.ListenWrite, c.Cluster.HTTPAdvertise = "127.0.0.1:8081", "127.0.0.1:8081"
		}, "internal replica routes are only on listen"},
		{"no hdd", func(c *Config) { c.HDDDirs = nil }, "hdd_dirs is empty"},
		{"dup hdd", func(c *Config) { c.HDDDirs = []string{"/a", "/a/"} }, "twice"},
		{"no index", func(c *Config) { c.IndexDir = "" }, "index_dir"},
		{"ssd cache without dir", func(c *Config) { c.SSDDir = "" }, "ssd_dir"},
		{"ssd off without dir", func(c *Config) { c.SSDDir = ""; c.SSDCacheSize = 0 }, ""},
		{"negative cache", func(c *Config) { c.RAMCacheSize = -1 }, "ram_cache_size"},
		{"zero max blob", func(c *Config) { c.MaxBlobSize = 0 }, "max_blob_size"},
		{"chunk over volume", func(c *Config) { c.ChunkSize = c.VolumeSize + 1 }, "exceeds volume_size"},
		{"volume of one chunk", func(c *Config) { c.VolumeSize = c.ChunkSize }, "volume_size 8MiB below its minimum"},
		{"volume of two chunks", func(c *Config) { c.VolumeSize = 2 * c.ChunkSize }, "below its minimum"},
		{"volume at its minimum", func(c *Config) {
			min, err := blockstore.MinVolumeSize(blockstore.Options{ChunkSize: int64(c.ChunkSize), MaxBlobSize: int64(c.MaxBlobSize)})
			if err != nil {
				t.Fatal(err)
			}
			c.VolumeSize = ByteSize(min)
		}, ""},
		{"volume just below its minimum", func(c *Config) {
			min, _ := blockstore.MinVolumeSize(blockstore.Options{ChunkSize: int64(c.ChunkSize), MaxBlobSize: int64(c.MaxBlobSize)})
			c.VolumeSize = ByteSize(min - blockstore.VolumeAlign)
		}, "below its minimum"},
		{"small chunks, small volume", func(c *Config) { c.ChunkSize = 64 << 10; c.MaxBlobSize = 1 << 20; c.VolumeSize = 16 << 20 }, ""},
		{"unaligned volume", func(c *Config) { c.VolumeSize = 1<<30 + 1 }, "not a multiple of 4KiB"},
		{"group-readable files", func(c *Config) { c.FileMode = "0640" }, ""},
		{"file mode not octal", func(c *Config) { c.FileMode = "rw-r-----" }, "file_mode"},
		{"world-readable files", func(c *Config) { c.FileMode = "0644" }, "file_mode"},
		{"owner cannot write", func(c *Config) { c.FileMode = "0400" }, "file_mode"},
		{"executable files", func(c *Config) { c.FileMode = "0700" }, "file_mode"},
		{"log level", func(c *Config) { c.LogLevel = "loud" }, "log_level"},
		{"log format", func(c *Config) { c.LogFormat = "xml" }, "log_format"},
		{"progress", func(c *Config) { c.HTTP.ProgressTimeout = 0 }, "progress_timeout"},
		{"negative shutdown", func(c *Config) { c.ShutdownTimeout = -time.Second }, "shutdown_timeout"},
		{"uploads", func(c *Config) { c.Limits.MaxUploads = 0 }, "max_uploads"},
		{"short token", func(c *Config) { c.Auth.Tokens = []Token{{Token: "short", Scope: ScopeRead}} }, "shorter"},
		{"token whitespace", func(c *Config) { c.Auth.Tokens = []Token{{Token: "0123456789 abcdef", Scope: ScopeRead}} }, "whitespace"},
		{"dup token", func(c *Config) { c.Auth.Tokens = []Token{token, token} }, "repeats"},
		{"bad scope", func(c *Config) { c.Auth.Tokens = []Token{{Token: "0123456789abcdef", Scope: "superuser"}} }, "scope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig("/data")
			tc.mutate(&c)
			err := c.Validate()
			if tc.err == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("err %v, want %q", err, tc.err)
			}
			if strings.Contains(tc.err, "non-loopback") && !errors.Is(err, ErrInsecureListen) {
				t.Fatalf("err %v does not wrap ErrInsecureListen", err)
			}
		})
	}
}
