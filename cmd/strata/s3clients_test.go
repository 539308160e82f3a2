package main

import (
	"bytes"
	"context"
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
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	args := append([]string{"../../scripts/s3-clients.sh", "--bin", bin, "--dir", filepath.Join(t.TempDir(), "s3-clients")}, run...)
	cmd := exec.CommandContext(ctx, "bash", args...)
	// Its own process group, so a timeout ends the script and, through its
	// trap, the node it started.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = 15 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		t.Fatalf("scripts/s3-clients.sh %s: %v\n%s", strings.Join(run, " "), err, out.String())
	}
	t.Logf("scripts/s3-clients.sh %s:\n%s", strings.Join(run, " "), out.String())
	if !strings.Contains(out.String(), "s3-clients: all passed") {
		t.Errorf("the script ended without its summary line")
	}
}
