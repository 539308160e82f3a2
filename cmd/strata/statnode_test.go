package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestStatNode(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		body   string
		code   int
		want   []string
	}{
		{"read-only with split listeners", 200,
			`{"status":"ready","writable":false,"write_reason":"read_only","failed_disks":[],"read_only":true,"listeners":{"listen":"127.0.0.1:7070","listen_read":"127.0.0.1:8080","listen_write":"127.0.0.1:8081"}}`,
			exitOK, []string{"status:        ready\n", "writable:      no (read_only)\n", "read-only:     yes", "failed disks:  none\n",
				"listen:        127.0.0.1:7070\n", "listen_read:   127.0.0.1:8080\n", "listen_write:  127.0.0.1:8081\n"}},
		{"writable, one listener", 200,
			`{"status":"ready","writable":true,"failed_disks":["/srv/hdd1"],"read_only":false,"listeners":{"listen":"127.0.0.1:7070"}}`,
			exitOK, []string{"writable:      yes\n", "read-only:     no\n", "failed disks:  /srv/hdd1\n"}},
		{"not ready", 503,
			`{"status":"not_ready","reason":"starting","writable":false,"write_reason":"starting","failed_disks":[],"read_only":false,"listeners":{}}`,
			exitError, []string{"status:        not_ready (starting)\n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/readyz" {
					http.NotFound(w, r)
					return
				}
				w.WriteHeader(tc.status)
				w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			code, out, _ := cliRun(t, "", "stat", "--node", "--addr", srv.URL)
			if code != tc.code {
				t.Fatalf("exit %d, want %d:\n%s", code, tc.code, out)
			}
			for _, want := range tc.want {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
			if strings.Contains(tc.name, "one listener") && strings.Contains(out, "listen_read") {
				t.Errorf("a listener that is off is shown:\n%s", out)
			}
			_, out, _ = cliRun(t, "", "stat", "--node", "--json", "--addr", srv.URL)
			var st nodeStat
			if err := json.Unmarshal([]byte(out), &st); err != nil || st.Status == "" {
				t.Fatalf("--json %q: %v", out, err)
			}
		})
	}
	if code, _, errOut := cliRun(t, "", "stat", "--node", "k"); code != exitUsage || !strings.Contains(errOut, "--node takes no KEY") {
		t.Fatalf("--node with a key: exit %d %q", code, errOut)
	}
}
