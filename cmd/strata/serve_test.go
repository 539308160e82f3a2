package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"strata/node"
)

func TestServeFlagsOverrideConfig(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "strata.toml")
	if err := os.WriteFile(cfgPath, []byte(`
data_dir = "/from/file"
index_dir = "/ssd/index"
ram_cache_size = "64MiB"
log_level = "warn"
`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		args  []string
		check func(t *testing.T, c node.Config, embedded bool)
		err   string
	}{
		{"no flags: embedded layout, laptop sizes", nil, func(t *testing.T, c node.Config, embedded bool) {
			if !reflect.DeepEqual(c, node.EmbeddedConfig("")) || !embedded {
				t.Fatalf("embedded %v, %+v", embedded, c)
			}
			if c.VolumeSize != 256<<20 || c.SSDCacheSize != 128<<20 || c.RAMCacheSize != 64<<20 {
				t.Fatalf("embedded layout sizes %v %v %v", c.VolumeSize, c.SSDCacheSize, c.RAMCacheSize)
			}
		}, ""},
		{"data moves the layout", []string{"--data", "/d"}, func(t *testing.T, c node.Config, embedded bool) {
			if c.HDDDirs[0] != "/d/hdd" || c.SSDDir != "/d/ssd" || c.IndexDir != "/d/index" || !embedded || c.VolumeSize != node.EmbeddedVolumeSize {
				t.Fatalf("embedded %v, %+v", embedded, c)
			}
		}, ""},
		{"embedded sizes yield to flags", []string{"--ram-cache-size", "1GiB"}, func(t *testing.T, c node.Config, embedded bool) {
			if c.RAMCacheSize != 1<<30 || c.SSDCacheSize != node.EmbeddedSSDCacheSize || !embedded {
				t.Fatalf("embedded %v, %+v", embedded, c)
			}
		}, ""},
		{"hdd flag names a device: production sizes", []string{"--hdd", "/mnt/hdd0"}, func(t *testing.T, c node.Config, embedded bool) {
			want := node.DefaultConfig("")
			want.HDDDirs = []string{"/mnt/hdd0"}
			if !reflect.DeepEqual(c, want) || embedded {
				t.Fatalf("embedded %v, %+v", embedded, c)
			}
		}, ""},
		{"config file: production sizes", []string{"--config", cfgPath}, func(t *testing.T, c node.Config, embedded bool) {
			if c.HDDDirs[0] != "/from/file/hdd" || c.IndexDir != "/ssd/index" || c.RAMCacheSize != 64<<20 || c.LogLevel != "warn" ||
				c.VolumeSize != 4<<30 || c.SSDCacheSize != 1<<30 || embedded {
				t.Fatalf("embedded %v, %+v", embedded, c)
			}
		}, ""},
		{"flags beat the file", []string{"--config", cfgPath, "--data", "/d", "--hdd", "/h0", "--hdd", "/h1", "--ssd", "/s",
			"--ram-cache-size", "0", "--ssd-cache-size", "2GiB", "--max-blob-size", "1GiB", "--log-level", "debug", "--listen", "[::1]:9"},
			func(t *testing.T, c node.Config, embedded bool) {
				want := node.DefaultConfig("/d")
				want.HDDDirs, want.SSDDir, want.IndexDir = []string{"/h0", "/h1"}, "/s", "/ssd/index"
				want.RAMCacheSize, want.SSDCacheSize, want.MaxBlobSize = 0, 2<<30, 1<<30
				want.LogLevel, want.Listen = "debug", "[::1]:9"
				if !reflect.DeepEqual(c, want) {
					t.Fatalf("got  %+v\nwant %+v", c, want)
				}
			}, ""},
		{"cluster flags", []string{"--data", "/d1", "--listen", "127.0.0.1:7001", "--gossip", "127.0.0.1:7946",
			"--join", "127.0.0.1:7947,127.0.0.1:7948", "--join", "127.0.0.1:7949", "--replicas", "5", "--write-quorum", "3",
			"--read-quorum", "3", "--cluster-secret-file", "/s", "--zone", "z1", "--weight", "2", "--node-id", "n1"},
			func(t *testing.T, c node.Config, embedded bool) {
				cl := c.Cluster
				n, w, r := cl.Quorums()
				if !cl.Enabled() || cl.Gossip != "127.0.0.1:7946" || !reflect.DeepEqual(cl.Join, []string{"127.0.0.1:7947", "127.0.0.1:7948", "127.0.0.1:7949"}) ||
					n != 5 || w != 3 || r != 3 || cl.SecretFile != "/s" || cl.Zone != "z1" || cl.Weight != 2 || c.NodeID != "n1" || !embedded {
					t.Fatalf("embedded %v, %+v", embedded, c)
				}
				if got := c.AdminAddress(); got != "127.0.0.1:8001" {
					t.Fatalf("cluster admin address %q, want the listen port + 1000", got)
				}
			}, ""},
		{"cluster admin flag kept", []string{"--gossip", "127.0.0.1:7946", "--cluster-secret-file", "/s", "--admin-listen", "127.0.0.1:7071",
			"--decommission", "--gossip-advertise", "127.0.0.2:7946", "--http-advertise", "127.0.0.2:7070"},
			func(t *testing.T, c node.Config, embedded bool) {
				if got := c.AdminAddress(); got != "127.0.0.1:7071" {
					t.Fatalf("admin address %q, want the flag's", got)
				}
				if !c.Cluster.Decommission || c.GossipAdvertiseAddress() != "127.0.0.2:7946" || c.HTTPAdvertiseAddress() != "127.0.0.2:7070" {
					t.Fatalf("cluster flags not applied: %+v", c.Cluster)
				}
			}, ""},
		{"split listeners and read-only", []string{"--listen-read", "127.0.0.1:8080", "--listen-write", "[::1]:8081", "--read-only"},
			func(t *testing.T, c node.Config, embedded bool) {
				want := node.EmbeddedConfig("")
				want.ListenRead, want.ListenWrite, want.ReadOnly = "127.0.0.1:8080", "[::1]:8081", true
				if !reflect.DeepEqual(c, want) {
					t.Fatalf("got  %+v\nwant %+v", c, want)
				}
			}, ""},
		{"read listener on listen", []string{"--listen", "127.0.0.1:7070", "--listen-read", "127.0.0.1:7070"}, nil, "binds the same address as listen"},
		{"public write listener without tokens", []string{"--listen-write", "0.0.0.0:8081"}, nil, "non-loopback"},
		{"cluster without secret", []string{"--gossip", "127.0.0.1:7946"}, nil, "secret_file"},
		{"quorum above replicas", []string{"--gossip", "127.0.0.1:7946", "--cluster-secret-file", "/s", "--write-quorum", "4"}, nil, "write_quorum 4"},
		{"replicas alone", []string{"--replicas", "3"}, nil, "needs cluster mode"},
		{"public listen without tokens", []string{"--listen", "0.0.0.0:7070"}, nil, "non-loopback"},
		{"bad size", []string{"--ram-cache-size", "lots"}, nil, "bad size"},
		{"missing config", []string{"--config", filepath.Join(dir, "nope.toml")}, nil, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newServeFlags()
			var stderr bytes.Buffer
			_, _, ok := f.fs.parse(tc.args, stdio{out: io.Discard, err: &stderr})
			var c node.Config
			embedded := false
			err := error(nil)
			if !ok {
				err = errors.New(stderr.String()) // the flag itself refused the value
			} else {
				c, embedded, err = f.load()
			}
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c, embedded)
		})
	}
}

// lockedBuffer is a bytes.Buffer safe for the logger and the test at once.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestRunServeInProcess runs the whole serve path (real blockstore and
// tiering under a temp dir) in-process: serve, store, read back, shut down
// by cancelling, exit 0; then restart and find the blob again.
func TestRunServeInProcess(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "strata.toml")
	if err := os.WriteFile(cfgPath, []byte(`
listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"
data_dir = "`+filepath.Join(dir, "data")+`"
volume_size = "64MiB"
chunk_size = "1MiB"
ram_cache_size = "4MiB"
ssd_cache_size = "32MiB"
`), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(t *testing.T, body func(base string)) {
		t.Helper()
		runServeWhile(t, []string{"--config", cfgPath}, func(base string, _ func() string) { body(base) })
	}
	run(t, func(base string) {
		req, _ := http.NewRequest(http.MethodPut, base+"/blobs/hello", strings.NewReader("world"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("PUT %d", resp.StatusCode)
		}
	})
	run(t, func(base string) {
		resp, err := http.Get(base + "/blobs/hello")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "world" || resp.Header.Get("X-Strata-Tier") == "" {
			t.Fatalf("GET after restart: %d %q %v", resp.StatusCode, b, resp.Header)
		}
	})
}

// A volume_size below the blockstore's minimum is refused at config load:
// usage exit, before any directory is created or the listener is bound.
func TestServeRefusesSmallVolumeSize(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	cfgPath := filepath.Join(dir, "strata.toml")
	if err := os.WriteFile(cfgPath, []byte(`
listen = "127.0.0.1:0"
data_dir = "`+data+`"
volume_size = "16MiB"
`), 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	if code := runServe(context.Background(), []string{"--config", cfgPath}, io.Discard, &stderr); code != exitUsage {
		t.Fatalf("exit %d, want %d; stderr %s", code, exitUsage, &stderr)
	}
	if !strings.Contains(stderr.String(), "volume_size 16MiB below its minimum") {
		t.Fatalf("stderr does not explain the volume_size rule: %s", &stderr)
	}
	if _, err := os.Stat(data); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("data dir created before the config was refused: %v", err)
	}
}

// runServeWhile runs `strata serve args` in-process, calls body with the
// base URL once the store is ready, then cancels and wants exit 0 and a
// closed store. It returns the logs.
func runServeWhile(t *testing.T, args []string, body func(base string, logs func() string)) string {
	t.Helper()
	addrRe := regexp.MustCompile(`msg="store ready" addr=(127\.0\.0\.1:\d+)`)
	var logs lockedBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() { done <- runServe(ctx, args, io.Discard, &logs) }()
	var base string
	for i := 0; i < 600 && base == ""; i++ {
		if m := addrRe.FindStringSubmatch(logs.String()); m != nil {
			base = "http://" + m[1]
			break
		}
		select {
		case code := <-done:
			t.Fatalf("serve exited %d:\n%s", code, logs.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	if base == "" {
		cancel()
		<-done
		t.Fatalf("serve never listened:\n%s", logs.String())
	}
	body(base, logs.String)
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("serve exited %d after shutdown:\n%s", code, logs.String())
	}
	if !strings.Contains(logs.String(), "store closed") {
		t.Fatalf("store not closed:\n%s", logs.String())
	}
	return logs.String()
}

// With no config file the embedded layout is sized for a laptop: the
// first PUT preallocates a 256 MiB volume and a 128 MiB SSD cache file, not
// 4 GiB and 1 GiB, and the startup log says which sizes it took.
func TestServeEmbeddedLayoutIsSmall(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	logs := runServeWhile(t, []string{"--data", data, "--listen", "127.0.0.1:0", "--admin-listen", "off"}, func(base string, _ func() string) {
		req, _ := http.NewRequest(http.MethodPut, base+"/blobs/first", strings.NewReader("hello"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("PUT %d", resp.StatusCode)
		}
	})
	var total int64
	for _, sub := range []string{"hdd", "ssd"} {
		entries, err := os.ReadDir(filepath.Join(data, sub))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			info, err := e.Info()
			if err != nil {
				t.Fatal(err)
			}
			if limit := int64(node.EmbeddedVolumeSize); info.Size() > limit {
				t.Errorf("%s/%s is %d bytes, over the embedded layout's %d", sub, e.Name(), info.Size(), limit)
			}
			total += info.Size()
		}
	}
	if limit := int64(node.EmbeddedVolumeSize + node.EmbeddedSSDCacheSize + 16<<20); total > limit {
		t.Errorf("embedded layout holds %d bytes after one PUT, want at most %d", total, limit)
	}
	if !strings.Contains(logs, `layout="embedded, sized for a laptop`) || !strings.Contains(logs, "volume_size=256MiB") ||
		!strings.Contains(logs, "ssd_cache_size=128MiB") || !strings.Contains(logs, "ram_cache_size=64MiB") {
		t.Errorf("startup log does not name the embedded sizes:\n%s", logs)
	}
}

// The admin listener answers probes and pprof; the blob listener has no pprof.
func TestServeAdminListener(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	adminRe := regexp.MustCompile(`msg="serving admin" .*addr=(127\.0\.0\.1:\d+)`)
	args := []string{"--data", data, "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"}
	runServeWhile(t, args, func(base string, logs func() string) {
		m := adminRe.FindStringSubmatch(logs())
		for deadline := time.Now().Add(10 * time.Second); m == nil && time.Now().Before(deadline); m = adminRe.FindStringSubmatch(logs()) {
			time.Sleep(10 * time.Millisecond)
		}
		if m == nil {
			t.Fatalf("no admin listener in the logs:\n%s", logs())
		}
		status := func(url string) int {
			t.Helper()
			resp, err := http.Get(url)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return resp.StatusCode
		}
		for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/metrics": 200, "/debug/pprof/": 200, "/blobs/x": 404} {
			if got := status("http://" + m[1] + path); got != want {
				t.Errorf("admin %s: %d, want %d", path, got, want)
			}
		}
		for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/metrics": 200, "/debug/pprof/": 404} {
			if got := status(base + path); got != want {
				t.Errorf("blob listener %s: %d, want %d", path, got, want)
			}
		}
	})
}

// TestServeConfigErrorExitsUsage checks that every kind of configuration
// mistake ends `strata serve` with exit code 2, the code the systemd unit's
// RestartPreventExitStatus names, so a typo does not restart the node
// forever; and that the unit says so.
func TestServeConfigErrorExitsUsage(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ name, config string }{
		{"unknown key", `ram_cache_sise = "1MiB"`},
		{"bad syntax", `ram_cache_size = `},
		{"bad size", `ram_cache_size = "lots"`},
		{"fails validation", `log_level = "loud"`},
		// Passes Validate, refused by the blockstore when it opens.
		{"refused by the store", `chunk_size = "1000"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sub := t.TempDir()
			cfgPath := filepath.Join(sub, "strata.toml")
			body := "listen = \"127.0.0.1:0\"\ndata_dir = \"" + filepath.Join(sub, "data") + "\"\nvolume_size = \"64MiB\"\n" + tc.config + "\n"
			if err := os.WriteFile(cfgPath, []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
			var stderr lockedBuffer
			if code := runServe(context.Background(), []string{"--config", cfgPath}, io.Discard, &stderr); code != exitUsage {
				t.Fatalf("exit %d, want %d (config error):\n%s", code, exitUsage, stderr.String())
			}
		})
	}
	if code := runServe(context.Background(), []string{"--config", filepath.Join(dir, "missing.toml")}, io.Discard, io.Discard); code != exitUsage {
		t.Errorf("missing config file: exit %d, want %d", code, exitUsage)
	}
	unit, err := os.ReadFile("../../scripts/strata.service")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^RestartPreventExitStatus=(.* )?` + strconv.Itoa(exitUsage) + `( |$)`).Match(unit) {
		t.Errorf("scripts/strata.service has no RestartPreventExitStatus=%d: a config error would restart the node forever", exitUsage)
	}
}

// The disks are the node's: --node-id reaches every identity file, a
// second node on the same HDD directories is refused while the first
// runs, a start as another node is refused, and an empty directory where
// the index knows a disk (a disk that failed to mount) is refused with a
// message that says what to check.
func TestServeDiskIdentityAndLocks(t *testing.T) {
	dir := t.TempDir()
	hdd, ssd := filepath.Join(dir, "hdd"), filepath.Join(dir, "ssd")
	args := func(index, id string) []string {
		return []string{"--hdd", hdd, "--ssd", ssd, "--index", filepath.Join(dir, index), "--node-id", id,
			"--listen", "127.0.0.1:0", "--admin-listen", "off", "--ram-cache-size", "1MiB", "--ssd-cache-size", "0"}
	}
	refused := func(args []string, want string) {
		t.Helper()
		var stderr lockedBuffer
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if code := runServe(ctx, args, io.Discard, &stderr); code == 0 {
			t.Fatalf("serve %v started; want it refused with %q", args, want)
		}
		if !strings.Contains(stderr.String(), want) {
			t.Fatalf("serve %v refused without saying %q:\n%s", args, want, stderr.String())
		}
	}
	logs := runServeWhile(t, args("index-a", "alpha"), func(string, func() string) {
		// Same HDD directory, another index: what destroyed acknowledged
		// writes before every directory was locked.
		refused(args("index-b", "beta"), "locked")
	})
	if !strings.Contains(logs, "node_id=alpha") {
		t.Errorf("startup log does not name the node id:\n%s", logs)
	}
	refused(args("index-a", "beta"), `belongs to node \"alpha\"`)
	if err := os.RemoveAll(hdd); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(hdd, 0o755); err != nil {
		t.Fatal(err)
	}
	refused(args("index-a", "alpha"), "is the disk mounted?")
}

// A cluster node whose secret file is missing or too short does not start:
// exit 2 with the reason, before anything is bound or created.
func TestServeClusterNeedsSecret(t *testing.T) {
	dir := t.TempDir()
	short := filepath.Join(dir, "short")
	if err := os.WriteFile(short, []byte("abc"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, secret := range map[string]string{"missing": filepath.Join(dir, "nope"), "short": short} {
		t.Run(name, func(t *testing.T) {
			data := filepath.Join(dir, name+"-data")
			var stderr bytes.Buffer
			code := runServe(context.Background(), []string{"--data", data, "--listen", "127.0.0.1:1",
				"--gossip", "127.0.0.1:7946", "--cluster-secret-file", secret}, io.Discard, &stderr)
			if code != exitUsage || !strings.Contains(stderr.String(), "cluster secret") {
				t.Fatalf("exit %d, stderr %q; want exit 2 naming the cluster secret", code, stderr.String())
			}
			if _, err := os.Stat(data); !os.IsNotExist(err) {
				t.Fatalf("the data directory was created (%v)", err)
			}
		})
	}
}

// A split listener whose address is taken stops the start with an error
// naming it (exit 1, no listener left bound), and a split address that
// repeats listen is a config error (exit 2).
func TestServeSplitListenerErrors(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	dir := t.TempDir()
	var stderr lockedBuffer
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	listen := fmt.Sprintf("127.0.0.1:%d", port)
	args := []string{"--data", filepath.Join(dir, "data"), "--listen", listen, "--admin-listen", "off", "--listen-write", taken.Addr().String()}
	if code := runServe(context.Background(), args, io.Discard, &stderr); code != exitError {
		t.Fatalf("exit %d, want %d:\n%s", code, exitError, stderr.String())
	}
	if !strings.Contains(stderr.String(), "listen_write") || !strings.Contains(stderr.String(), "address already in use") {
		t.Fatalf("the error does not name listen_write and why:\n%s", stderr.String())
	}
	if ln, err := net.Listen("tcp", listen); err != nil {
		t.Fatalf("listen %s still bound after the failed start: %v", listen, err)
	} else {
		ln.Close()
	}
	stderr = lockedBuffer{}
	args = []string{"--data", filepath.Join(dir, "data"), "--listen", "127.0.0.1:7070", "--listen-read", "127.0.0.1:7070"}
	if code := runServe(context.Background(), args, io.Discard, &stderr); code != exitUsage {
		t.Fatalf("listen_read on listen: exit %d, want %d:\n%s", code, exitUsage, stderr.String())
	}
}
