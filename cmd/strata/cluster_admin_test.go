package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"

	"strata/internal/poll"
)

// fakeDecommission records the calls clusterAdmin makes.
type fakeDecommission struct {
	mu                   sync.Mutex
	drains, leaves, stop int
	drainErr             error
	release              chan struct{} // drain blocks until closed; nil: at once
}

func (f *fakeDecommission) admin(ctx context.Context) *clusterAdmin {
	return newClusterAdmin(ctx,
		func() any {
			return map[string]any{"self": "n1", "members": []map[string]any{{"id": "n1", "state": "alive"}}}
		},
		func(ctx context.Context) error {
			f.mu.Lock()
			f.drains++
			err, release := f.drainErr, f.release
			f.mu.Unlock()
			if release != nil {
				select {
				case <-release:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			return err
		},
		func(context.Context) error { f.mu.Lock(); f.leaves++; f.mu.Unlock(); return nil },
		func() { f.mu.Lock(); f.stop++; f.mu.Unlock() },
		slog.New(slog.DiscardHandler))
}

func (f *fakeDecommission) counts() (drains, leaves, stops int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.drains, f.leaves, f.stop
}

func adminCall(t *testing.T, h http.Handler, method, path string) (int, map[string]json.RawMessage) {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(method, path, nil))
	var body map[string]json.RawMessage
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatalf("%s %s: %v in %q", method, path, err, w.Body.String())
	}
	return w.Code, body
}

func leaveStateOf(t *testing.T, h http.Handler) leaveStatus {
	t.Helper()
	code, body := adminCall(t, h, http.MethodGet, "/admin/cluster")
	if code != http.StatusOK {
		t.Fatalf("GET /admin/cluster: %d", code)
	}
	var st leaveStatus
	if err := json.Unmarshal(body["leave"], &st); err != nil {
		t.Fatalf("leave field %q: %v", body["leave"], err)
	}
	if _, ok := body["members"]; !ok {
		t.Fatalf("status fields missing from %v", body)
	}
	return st
}

func TestClusterAdminLeaveDrainsThenLeavesThenStops(t *testing.T) {
	f := &fakeDecommission{release: make(chan struct{})}
	a := f.admin(context.Background())
	if st := leaveStateOf(t, a); st.State != leaveIdle {
		t.Fatalf("before: %+v", st)
	}
	code, _ := adminCall(t, a, http.MethodPost, "/admin/leave")
	if code != http.StatusAccepted {
		t.Fatalf("POST /admin/leave: %d", code)
	}
	// While draining, nothing has left and a second POST starts nothing.
	if st := leaveStateOf(t, a); st.State != leaveDraining {
		t.Fatalf("during drain: %+v", st)
	}
	adminCall(t, a, http.MethodPost, "/admin/leave")
	if _, leaves, stops := f.counts(); leaves != 0 || stops != 0 {
		t.Fatalf("left (%d) or stopped (%d) before the drain ended", leaves, stops)
	}
	close(f.release)
	a.wait()
	drains, leaves, stops := f.counts()
	if drains != 1 || leaves != 1 || stops != 1 {
		t.Fatalf("drains %d leaves %d stops %d, want 1 each", drains, leaves, stops)
	}
	if st := leaveStateOf(t, a); st.State != leaveLeft || !a.left() {
		t.Fatalf("after: %+v", st)
	}
}

func TestClusterAdminFailedDrainDoesNotLeave(t *testing.T) {
	f := &fakeDecommission{drainErr: errors.New("new homes unreachable")}
	a := f.admin(context.Background())
	adminCall(t, a, http.MethodPost, "/admin/leave")
	a.wait()
	st := leaveStateOf(t, a)
	if _, leaves, stops := f.counts(); leaves != 0 || stops != 0 || st.State != leaveFailed || st.Error == "" || a.left() {
		t.Fatalf("after a failed drain: leaves %d stops %d state %+v", leaves, stops, st)
	}
	// A retry runs the drain again.
	f.mu.Lock()
	f.drainErr = nil
	f.mu.Unlock()
	adminCall(t, a, http.MethodPost, "/admin/leave")
	a.wait()
	poll.Until(t, "the retried leave to finish", a.left)
	if drains, leaves, _ := f.counts(); drains != 2 || leaves != 1 {
		t.Fatalf("drains %d leaves %d after the retry", drains, leaves)
	}
}

func TestClusterAdminRoutes(t *testing.T) {
	a := (&fakeDecommission{}).admin(context.Background())
	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{http.MethodPost, "/admin/cluster", http.StatusMethodNotAllowed},
		{http.MethodGet, "/admin/leave", http.StatusMethodNotAllowed},
		{http.MethodGet, "/admin/nope", http.StatusNotFound},
	} {
		if code, _ := adminCall(t, a, tc.method, tc.path); code != tc.want {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, code, tc.want)
		}
	}
}

func TestLeaveCommand(t *testing.T) {
	f := &fakeDecommission{}
	srv := httptest.NewServer(f.admin(context.Background()))
	defer srv.Close()
	code, out, errOut := cliRun(t, "", "leave", "--addr", srv.URL)
	if code != exitOK || !strings.Contains(out, "has left") {
		t.Fatalf("strata leave: code %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	if drains, leaves, _ := f.counts(); drains != 1 || leaves != 1 {
		t.Fatalf("drains %d leaves %d", drains, leaves)
	}

	slow := &fakeDecommission{release: make(chan struct{})}
	slowAdmin := slow.admin(context.Background())
	srv3 := httptest.NewServer(slowAdmin)
	defer srv3.Close()
	code, out, _ = cliRun(t, "", "leave", "--no-wait", "--addr", srv3.URL)
	if code != exitOK || !strings.Contains(out, "draining") {
		t.Fatalf("strata leave --no-wait: code %d, stdout %s", code, out)
	}
	if _, leaves, _ := slow.counts(); leaves != 0 {
		t.Fatal("left before the drain ended")
	}
	close(slow.release)
	slowAdmin.wait()

	failing := &fakeDecommission{drainErr: errors.New("new homes unreachable")}
	srv2 := httptest.NewServer(failing.admin(context.Background()))
	defer srv2.Close()
	code, _, errOut = cliRun(t, "", "leave", "--addr", srv2.URL)
	if code != exitError || !strings.Contains(errOut, "new homes unreachable") || !strings.Contains(errOut, "stays a member") {
		t.Fatalf("strata leave of a failing drain: code %d, stderr %s", code, errOut)
	}
	if _, leaves, _ := failing.counts(); leaves != 0 {
		t.Fatal("left after a failed drain")
	}
}

func TestStatMembers(t *testing.T) {
	srv := httptest.NewServer((&fakeDecommission{}).admin(context.Background()))
	defer srv.Close()
	code, out, errOut := cliRun(t, "", "stat", "--members", "--admin-addr", srv.URL)
	if code != exitOK {
		t.Fatalf("code %d, stderr %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 3 || !strings.HasPrefix(lines[0], "id") || !strings.Contains(lines[0], "state") ||
		!strings.HasPrefix(lines[1], "n1") || !strings.Contains(lines[1], "alive") || !strings.Contains(out, `leave: {"state":"idle"}`) {
		t.Fatalf("stat --members printed:\n%s", out)
	}
	code, out, _ = cliRun(t, "", "stat", "--members", "--json", "--admin-addr", srv.URL)
	var report map[string]any
	if code != exitOK || json.Unmarshal([]byte(out), &report) != nil || report["members"] == nil {
		t.Fatalf("stat --members --json: code %d, %q", code, out)
	}
	// A node alone has no /admin/cluster: a clear error, exit 1.
	alone := httptest.NewServer(http.NotFoundHandler())
	defer alone.Close()
	if code, _, errOut := cliRun(t, "", "stat", "--members", "--admin-addr", alone.URL); code != exitError || !strings.Contains(errOut, "cluster mode") {
		t.Fatalf("stat --members on a node alone: code %d, stderr %s", code, errOut)
	}
}

// A refused admin connection names where a cluster node's admin listener is
// by default, since that is the usual mistake (the single node's default).
func TestAdminRefusedNamesClusterDefault(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c, err := newClient(addr, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	err = c.adminJSON(context.Background(), http.MethodGet, "/admin/cluster", http.StatusOK, &st)
	if !errors.Is(err, syscall.ECONNREFUSED) || !strings.Contains(err.Error(), "listen port + 1000") {
		t.Fatalf("adminJSON to a closed port: %v; want ECONNREFUSED naming the cluster default", err)
	}
}
