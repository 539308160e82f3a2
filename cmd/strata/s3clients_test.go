package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// s3ClientTool is one client scripts/s3-clients.sh drives, and how to tell
// it is installed.
type s3ClientTool struct {
	name    string   // the script's name for it
	probe   []string // a command that succeeds when it is installed
	install string   // the Debian package
}

var s3ClientTools = []s3ClientTool{
	{name: "rclone", probe: []string{"rclone", "version"}, install: "rclone"},
	{name: "aws", probe: []string{"aws", "--version"}, install: "awscli"},
	{name: "s3cmd", probe: []string{"s3cmd", "--version"}, install: "s3cmd"},
	{name: "boto3", probe: []string{"python3", "-c", "import boto3"}, install: "python3-boto3"},
}

// TestS3ClientTools runs scripts/s3-clients.sh against the real binary:
// rclone, the aws CLI, s3cmd and boto3 moving files through a node's S3
// endpoint, each checking the bytes that come back (the script says what
// each step does). Tools that are not installed are skipped with a message
// (.ci/run installs them); with none installed the test skips.
func TestS3ClientTools(t *testing.T) {
	bin := strataBinary(t)
	var run []string
	for _, tool := range s3ClientTools {
		probe := exec.Command(tool.probe[0], tool.probe[1:]...)
		if err := probe.Run(); err != nil {
			t.Logf("skipping %s: %s failed (%v); apt-get install %s", tool.name, strings.Join(tool.probe, " "), err, tool.install)
			continue
		}
		run = append(run, tool.name)
	}
	if len(run) == 0 {
		t.Skip("none of rclone, aws, s3cmd, python3 with boto3 is installed: apt-get install -y rclone s3cmd awscli python3-boto3")
	}
	if strings.Contains(strings.Join(run, " "), "boto3") {
		run = append(run, "native") // the S3 object read over the native API; it writes with boto3
	}
	out, err := runS3ClientsScript(t, append([]string{"--bin", bin}, run...), nil)
	if err != nil {
		t.Fatalf("scripts/s3-clients.sh %s: %v\n%s", strings.Join(run, " "), err, out)
	}
	t.Logf("scripts/s3-clients.sh %s:\n%s", strings.Join(run, " "), out)
	if !strings.Contains(out, "s3-clients: all passed") {
		t.Errorf("the script ended without its summary line")
	}
}

// runS3ClientsScript runs scripts/s3-clients.sh with args (and env added to
// the test's environment), bounded in time, and returns what it printed.
func runS3ClientsScript(t *testing.T, args, env []string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	args = append([]string{"../../scripts/s3-clients.sh", "--dir", filepath.Join(t.TempDir(), "s3-clients")}, args...)
	cmd := exec.CommandContext(ctx, "bash", args...)
	cmd.Env = append(cmd.Environ(), env...)
	// Its own process group, so a timeout ends the script and, through its
	// trap, the node it started.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = 15 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// TestS3ClientToolsCatchCorruption checks the script fails when the bytes
// that come back are not the bytes that went up: rclone runs through a
// proxy in front of a real node's S3 endpoint that flips one byte of every
// object body it serves. The upload and the hash check (which compares
// ETags, not bytes) pass; the byte comparison must not.
func TestS3ClientToolsCatchCorruption(t *testing.T) {
	if _, err := exec.LookPath("rclone"); err != nil {
		t.Skip("rclone is not installed: apt-get install rclone")
	}
	s3Port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	const access, secret = "corruption-check", "corruption-check-secret-0123"
	startNode(t, nodeOptions{extraConfig: fmt.Sprintf("\n[s3]\nlisten = \"127.0.0.1:%d\"\n\n[[s3.keys]]\naccess_key = %q\nsecret_key = %q\nscope = \"read-write\"\n", s3Port, access, secret)})
	target, _ := url.Parse(fmt.Sprintf("http://127.0.0.1:%d", s3Port))
	proxy := httputil.NewSingleHostReverseProxy(target) // keeps the Host the client signed
	proxy.ModifyResponse = func(resp *http.Response) error {
		// Object bodies only: a GET without a query (listings have one).
		if resp.Request.Method == http.MethodGet && resp.Request.URL.RawQuery == "" && resp.StatusCode/100 == 2 && resp.ContentLength > 100 {
			resp.Body = &flipByte{ReadCloser: resp.Body, at: 50}
		}
		return nil
	}
	srv := httptest.NewServer(proxy)
	defer srv.Close()
	out, err := runS3ClientsScript(t, []string{"--endpoint", srv.URL, "rclone"}, []string{"S3_CLIENTS_KEY=" + access + ":" + secret})
	if err == nil {
		t.Fatalf("the script passed although every object came back with a flipped byte:\n%s", out)
	}
	if !strings.Contains(out, "FAIL [rclone check]") || !strings.Contains(out, "--download") {
		t.Fatalf("the script failed, but not at the byte comparison (rclone check --download):\n%s", out)
	}
}

// flipByte inverts the byte at offset at of the stream it wraps.
type flipByte struct {
	io.ReadCloser
	at, off int64
}

func (f *flipByte) Read(p []byte) (int, error) {
	k, err := f.ReadCloser.Read(p)
	if i := f.at - f.off; i >= 0 && i < int64(k) {
		p[i] ^= 0xff
	}
	f.off += int64(k)
	return k, err
}
