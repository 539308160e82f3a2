package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
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
		check func(t *testing.T, c node.Config)
		err   string
	}{
		{"no flags: defaults", nil, func(t *testing.T, c node.Config) {
			if !reflect.DeepEqual(c, node.DefaultConfig("")) {
				t.Fatalf("%+v", c)
			}
		}, ""},
		{"data moves the layout", []string{"--data", "/d"}, func(t *testing.T, c node.Config) {
			if c.HDDDirs[0] != "/d/hdd" || c.SSDDir != "/d/ssd" || c.IndexDir != "/d/index" {
				t.Fatalf("%+v", c)
			}
		}, ""},
		{"config file", []string{"--config", cfgPath}, func(t *testing.T, c node.Config) {
			if c.HDDDirs[0] != "/from/file/hdd" || c.IndexDir != "/ssd/index" || c.RAMCacheSize != 64<<20 || c.LogLevel != "warn" {
				t.Fatalf("%+v", c)
			}
		}, ""},
		{"flags beat the file", []string{"--config", cfgPath, "--data", "/d", "--hdd", "/h0", "--hdd", "/h1", "--ssd", "/s",
			"--ram-cache-size", "0", "--ssd-cache-size", "2GiB", "--max-blob-size", "1GiB", "--log-level", "debug", "--listen", "[::1]:9"},
			func(t *testing.T, c node.Config) {
				want := node.DefaultConfig("/d")
				want.HDDDirs, want.SSDDir, want.IndexDir = []string{"/h0", "/h1"}, "/s", "/ssd/index"
				want.RAMCacheSize, want.SSDCacheSize, want.MaxBlobSize = 0, 2<<30, 1<<30
				want.LogLevel, want.Listen = "debug", "[::1]:9"
				if !reflect.DeepEqual(c, want) {
					t.Fatalf("got  %+v\nwant %+v", c, want)
				}
			}, ""},
		{"public listen without tokens", []string{"--listen", "0.0.0.0:7070"}, nil, "non-loopback"},
		{"bad size", []string{"--ram-cache-size", "lots"}, nil, "bad size"},
		{"missing config", []string{"--config", filepath.Join(dir, "nope.toml")}, nil, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newServeFlags()
			var stderr bytes.Buffer
			_, _, ok := f.fs.parse(tc.args, stdio{out: io.Discard, err: &stderr})
			var c node.Config
			err := error(nil)
			if !ok {
				err = errors.New(stderr.String()) // the flag itself refused the value
			} else {
				c, err = f.load()
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
			tc.check(t, c)
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
data_dir = "`+filepath.Join(dir, "data")+`"
volume_size = "64MiB"
chunk_size = "1MiB"
ram_cache_size = "4MiB"
ssd_cache_size = "32MiB"
`), 0o600); err != nil {
		t.Fatal(err)
	}
	addrRe := regexp.MustCompile(`msg="store ready" addr=(127\.0\.0\.1:\d+)`)
	run := func(t *testing.T, body func(base string)) {
		var logs lockedBuffer
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan int, 1)
		go func() { done <- runServe(ctx, []string{"--config", cfgPath}, io.Discard, &logs) }()
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
		body(base)
		cancel()
		if code := <-done; code != 0 {
			t.Fatalf("serve exited %d after shutdown:\n%s", code, logs.String())
		}
		if !strings.Contains(logs.String(), "store closed") {
			t.Fatalf("store not closed:\n%s", logs.String())
		}
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
