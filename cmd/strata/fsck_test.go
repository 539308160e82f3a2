package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"strata/blockstore"
)

// fsckStore makes a closed store of a few blobs under a temp dir and
// returns its data and index directories.
func fsckStore(t *testing.T) (data, index string) {
	t.Helper()
	root := t.TempDir()
	data, index = filepath.Join(root, "hdd"), filepath.Join(root, "index")
	s, err := blockstore.Open(context.Background(), blockstore.Options{
		DataDirs: []string{data}, IndexDir: index, VolumeSize: 16 << 20, ChunkSize: 64 << 10, MaxBlobSize: 1 << 20,
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		b := bytes.Repeat([]byte{byte(i)}, 3000)
		if _, err := s.Put(context.Background(), fmt.Sprintf("k%d", i), bytes.NewReader(b), int64(len(b)), blockstore.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return data, index
}

func TestFsckCLI(t *testing.T) {
	for _, tc := range []struct {
		name     string
		damage   func(t *testing.T, data, index string)
		args     func(data, index string) []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{
			name:     "clean",
			args:     func(d, i string) []string { return []string{"fsck", "--index", i, d} },
			wantCode: exitOK, wantOut: "clean",
		},
		{
			name:     "usage: no dirs",
			args:     func(d, i string) []string { return []string{"fsck"} },
			wantCode: exitUsage, wantErr: "want exactly one of --config FILE, --data ROOT or DIR...",
		},
		{
			name:     "usage: config and dirs",
			args:     func(d, i string) []string { return []string{"fsck", "--config", "x.toml", d} },
			wantCode: exitUsage, wantErr: "want exactly one of",
		},
		{
			name:     "help",
			args:     func(d, i string) []string { return []string{"fsck", "--help"} },
			wantCode: exitOK, wantOut: "Exit codes: 0 clean",
		},
		{
			name:     "missing dir cannot be checked",
			args:     func(d, i string) []string { return []string{"fsck", "--index", i, filepath.Join(d, "nope")} },
			wantCode: exitCannotCheck, wantErr: "could not check",
		},
		{
			name: "index missing",
			damage: func(t *testing.T, d, i string) {
				if err := os.Remove(filepath.Join(i, blockstore.IndexFileName)); err != nil {
					t.Fatal(err)
				}
			},
			args:     func(d, i string) []string { return []string{"fsck", "--index", i, d} },
			wantCode: exitError, wantOut: "index.db is missing",
		},
		{
			name: "index missing, repaired",
			damage: func(t *testing.T, d, i string) {
				if err := os.Remove(filepath.Join(i, blockstore.IndexFileName)); err != nil {
					t.Fatal(err)
				}
			},
			args:     func(d, i string) []string { return []string{"fsck", "--repair", "--index", i, d} },
			wantCode: exitError, wantOut: "the re-check is clean",
		},
		{
			name:     "embedded layout",
			args:     func(d, i string) []string { return []string{"fsck", "--data", filepath.Dir(d)} },
			wantCode: exitOK, wantOut: "clean",
		},
		{
			name: "config file",
			args: func(d, i string) []string {
				cfg := filepath.Join(filepath.Dir(d), "strata.toml")
				body := fmt.Sprintf("hdd_dirs = [%q]\nindex_dir = %q\nssd_dir = %q\nvolume_size = \"16MiB\"\nchunk_size = \"64KiB\"\nmax_blob_size = \"1MiB\"\n", d, i, filepath.Join(filepath.Dir(d), "ssd"))
				if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
					panic(err)
				}
				return []string{"fsck", "--config", cfg}
			},
			wantCode: exitOK, wantOut: "clean",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, index := fsckStore(t)
			if tc.damage != nil {
				tc.damage(t, data, index)
			}
			code, out, errOut := cliRun(t, "", tc.args(data, index)...)
			if code != tc.wantCode || !strings.Contains(out, tc.wantOut) || !strings.Contains(errOut, tc.wantErr) {
				t.Fatalf("exit %d, want %d (out %q, err %q)\nstdout: %s\nstderr: %s", code, tc.wantCode, tc.wantOut, tc.wantErr, out, errOut)
			}
			if strings.Contains(tc.name, "repaired") {
				if code, out, _ := cliRun(t, "", "fsck", "--index", index, data); code != exitOK {
					t.Fatalf("check after --repair: exit %d\n%s", code, out)
				}
			}
		})
	}
}

func TestFsckJSONAndLocked(t *testing.T) {
	data, index := fsckStore(t)
	code, out, errOut := cliRun(t, "", "fsck", "--json", "--index", index, data)
	var rep blockstore.CheckReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != exitOK {
		t.Fatalf("exit %d, %v\n%s%s", code, err, out, errOut)
	}
	if rep.Records != 5 || rep.IndexEntries != 5 || rep.ProblemCount != 0 {
		t.Fatalf("report %+v", rep)
	}
	s, err := blockstore.Open(context.Background(), blockstore.Options{DataDirs: []string{data}, IndexDir: index, VolumeSize: 16 << 20, ChunkSize: 64 << 10, MaxBlobSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	code, _, errOut = cliRun(t, "", "fsck", "--index", index, data)
	if code != exitCannotCheck || !strings.Contains(errOut, "in use") {
		t.Fatalf("fsck of a running store: exit %d, stderr %s", code, errOut)
	}
}
