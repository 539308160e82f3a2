package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"strata/internal/testport"
)

// The end-to-end tests run the real binary: built once per test run by
// strataBinary, started per test by startNode on a free loopback port with
// its data under the test's temp dir, and killed in t.Cleanup.

var binaryState struct {
	once sync.Once
	dir  string
	path string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binaryState.dir != "" {
		os.RemoveAll(binaryState.dir)
	}
	os.Exit(code)
}

// strataBinary builds ./cmd/strata once and returns its path.
func strataBinary(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test builds and runs the binary; skipped with -short")
	}
	b := &binaryState
	b.once.Do(func() {
		b.dir, b.err = os.MkdirTemp("", "strata-e2e-bin-")
		if b.err != nil {
			return
		}
		b.path = filepath.Join(b.dir, "strata")
		cmd := exec.Command("go", "build", "-o", b.path, ".")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			b.err = fmt.Errorf("go build: %v\n%s", err, out.String())
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// nodeOptions configure one node process.
type nodeOptions struct {
	dataDir     string // reused across restarts; default a fresh temp dir
	maxBlobSize string // e.g. "4MiB"
	chunkSize   string
	volumeSize  string
	extraConfig string   // more TOML, appended verbatim
	env         []string // extra environment, KEY=VALUE
	// cacheConfig replaces the default cache, shutdown and log settings
	// (small caches, debug logs) when set.
	cacheConfig string
	// listenHost and port fix the blob listener (default 127.0.0.1 and a
	// free port, new at each start); adminAddr the admin one (default
	// 127.0.0.1:0). Cluster nodes keep theirs across restarts.
	listenHost string
	port       int
	adminAddr  string
	args       []string // extra `strata serve` flags
	wrap       []string // command prefix, e.g. ip netns exec NS
	baseHost   string   // host the tests reach the blob listener at (default listenHost)
}

// nodeProc is a running `strata serve`.
type nodeProc struct {
	t       testing.TB
	opts    nodeOptions
	cmd     *exec.Cmd
	base    string // http://127.0.0.1:port
	logPath string
	done    chan struct{}
	exitErr error
}

// startNode starts a node and waits until /readyz answers 200.
func startNode(t testing.TB, opts nodeOptions) *nodeProc {
	t.Helper()
	bin := strataBinary(t)
	if opts.dataDir == "" {
		opts.dataDir = filepath.Join(t.TempDir(), "data")
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		n, err := tryStartNode(t, bin, opts)
		if err == nil {
			return n
		}
		lastErr = err
	}
	t.Fatal(lastErr)
	return nil
}

func tryStartNode(t testing.TB, bin string, opts nodeOptions) (*nodeProc, error) {
	port, host, admin := opts.port, opts.listenHost, opts.adminAddr
	if host == "" {
		host = "127.0.0.1"
	}
	if admin == "" {
		admin = "127.0.0.1:0"
	}
	if port == 0 {
		var err error
		if port, err = freePort(); err != nil {
			return nil, err
		}
	}
	baseHost := host
	if opts.baseHost != "" {
		baseHost = opts.baseHost
	}
	base := "http://" + net.JoinHostPort(baseHost, fmt.Sprint(port))
	dir := t.TempDir()
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "listen = %q\nadmin_listen = %q\ndata_dir = %q\n", net.JoinHostPort(host, fmt.Sprint(port)), admin, opts.dataDir)
	for _, kv := range []struct{ k, v string }{{"max_blob_size", opts.maxBlobSize}, {"chunk_size", opts.chunkSize}, {"volume_size", opts.volumeSize}} {
		if kv.v != "" {
			fmt.Fprintf(&cfg, "%s = %q\n", kv.k, kv.v)
		}
	}
	if opts.cacheConfig != "" {
		cfg.WriteString(opts.cacheConfig)
	} else {
		cfg.WriteString("ram_cache_size = \"16MiB\"\nssd_cache_size = \"64MiB\"\nshutdown_timeout = \"5s\"\nlog_level = \"debug\"\n")
	}
	cfg.WriteString(opts.extraConfig)
	cfgPath := filepath.Join(dir, "strata.toml")
	if err := os.WriteFile(cfgPath, []byte(cfg.String()), 0o600); err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, "node.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	argv := append(append(append([]string(nil), opts.wrap...), bin, "serve", "--config", cfgPath), opts.args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), opts.env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive the test binary
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, err
	}
	logFile.Close()
	n := &nodeProc{t: t, opts: opts, cmd: cmd, base: base, logPath: logPath, done: make(chan struct{})}
	go func() {
		n.exitErr = cmd.Wait()
		close(n.done)
	}()
	t.Cleanup(n.kill)
	if err := n.waitReady(30 * time.Second); err != nil {
		n.kill()
		return nil, fmt.Errorf("node did not become ready: %v\nconfig:\n%s\nlog:\n%s", err, cfg.String(), n.logTail())
	}
	return n, nil
}

// freePort returns a loopback port that is free now, below the ephemeral
// range (testport).
func freePort() (int, error) { return testport.Free("127.0.0.1") }

func (n *nodeProc) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	c := &http.Client{Timeout: 2 * time.Second}
	for {
		select {
		case <-n.done:
			return fmt.Errorf("node exited: %v", n.exitErr)
		default:
		}
		resp, err := c.Get(n.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("/readyz answered %s", resp.Status)
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill sends SIGKILL and waits for the process to be gone. Idempotent.
func (n *nodeProc) kill() {
	select {
	case <-n.done:
		return
	default:
	}
	_ = n.cmd.Process.Kill()
	<-n.done
}

// stop sends SIGTERM and waits up to timeout for a clean exit.
func (n *nodeProc) stop(timeout time.Duration) error {
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.done:
		return n.exitErr
	case <-time.After(timeout):
		n.kill()
		return fmt.Errorf("node did not exit within %v of SIGTERM", timeout)
	}
}

// restart starts a new process on the same data and configuration.
func (n *nodeProc) restart() *nodeProc {
	n.t.Helper()
	n.kill()
	return startNode(n.t, n.opts)
}

// logTail is the end of the node's log, for failure messages.
func (n *nodeProc) logTail() string {
	b, _ := os.ReadFile(n.logPath)
	if len(b) > 8<<10 {
		b = b[len(b)-8<<10:]
	}
	return string(b)
}

// cli runs a client subcommand of the real binary against n.
func (n *nodeProc) cli(t *testing.T, stdin []byte, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, strataBinary(t), args...)
	cmd.Env = append(os.Environ(), "STRATA_ADDR="+n.base)
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code = 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("running strata %v: %v", args, err)
		}
		code = ee.ExitCode()
	}
	return code, out.String(), errb.String()
}
