package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// Leave states, as GET /admin/cluster reports them under "leave".
const (
	leaveIdle     = "idle"     // not asked to leave
	leaveDraining = "draining" // keys moving to their new homes
	leaveLeaving  = "leaving"  // drained; telling gossip
	leaveLeft     = "left"     // gone from the cluster; the node is stopping
	leaveFailed   = "failed"   // drain or leave failed; POST again to retry
)

// leaveStatus is the "leave" object of GET /admin/cluster.
type leaveStatus struct {
	State   string    `json:"state"`
	Error   string    `json:"error,omitempty"`
	Started time.Time `json:"started,omitzero"`
}

// clusterAdmin serves the admin listener's cluster routes (mounted with
// node.Server.SetAdmin, which authorizes them):
//
//	GET  /admin/cluster   the cluster's Status as JSON, plus "leave"
//	POST /admin/leave     drain, then leave the cluster, then stop the node
//
// POST /admin/leave answers 202 at once with the leave state while the
// drain runs in the background (it moves every local key whose homes lack
// it); with ?wait=true it answers when the attempt is over: 200 once the
// node has left (it then stops), 500 with the error when the drain or the
// leave failed. `strata leave` waits that way.
type clusterAdmin struct {
	status func() any                  // the cluster's Status
	drain  func(context.Context) error // move the keys away (Cluster.Drain)
	leave  func(context.Context) error // tell gossip (Membership.Leave)
	stop   func()                      // stop serving: the node exits
	ctx    context.Context             // ends when the node stops; bounds the drain
	log    *slog.Logger

	mu    sync.Mutex
	state leaveStatus
	done  chan struct{} // closed when the current leave attempt ends
}

func newClusterAdmin(ctx context.Context, status func() any, drain, leave func(context.Context) error, stop func(), log *slog.Logger) *clusterAdmin {
	return &clusterAdmin{status: status, drain: drain, leave: leave, stop: stop, ctx: ctx, log: log, state: leaveStatus{State: leaveIdle}}
}

func (a *clusterAdmin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/admin/cluster":
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			adminJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "use GET", "code": "method_not_allowed"}, "GET, HEAD")
			return
		}
		adminJSON(w, http.StatusOK, a.report(), "")
	case "/admin/leave":
		if r.Method != http.MethodPost {
			adminJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "use POST", "code": "method_not_allowed"}, "POST")
			return
		}
		st, done := a.startLeave()
		if r.URL.Query().Get("wait") != "true" {
			adminJSON(w, http.StatusAccepted, st, "")
			return
		}
		// Wait for the outcome: the node stops only after this answer is
		// written (stop ends the blob listener first; the admin one goes
		// last), so the caller learns that it left.
		select {
		case <-done:
		case <-r.Context().Done():
			return
		}
		a.mu.Lock()
		st = a.state
		a.mu.Unlock()
		status := http.StatusOK
		if st.State != leaveLeft {
			status = http.StatusInternalServerError
		}
		adminJSON(w, status, st, "")
	default:
		adminJSON(w, http.StatusNotFound, map[string]string{"error": "no such route", "code": "no_route"}, "")
	}
}

// report is the Status object with the leave state added under "leave".
func (a *clusterAdmin) report() map[string]any {
	out := map[string]any{}
	if b, err := json.Marshal(a.status()); err == nil {
		var fields map[string]json.RawMessage
		if json.Unmarshal(b, &fields) == nil {
			for k, v := range fields {
				out[k] = v
			}
		} else {
			out["status"] = json.RawMessage(b)
		}
	}
	a.mu.Lock()
	out["leave"] = a.state
	a.mu.Unlock()
	return out
}

// startLeave begins a drain and leave unless one is running or done, and
// returns the state and a channel closed when the attempt ends.
func (a *clusterAdmin) startLeave() (leaveStatus, <-chan struct{}) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.state.State != leaveIdle && a.state.State != leaveFailed {
		return a.state, a.done
	}
	a.state = leaveStatus{State: leaveDraining, Started: time.Now().UTC()}
	a.done = make(chan struct{})
	go a.run(a.done)
	return a.state, a.done
}

func (a *clusterAdmin) set(state string, err error) {
	a.mu.Lock()
	a.state.State = state
	a.state.Error = ""
	if err != nil {
		a.state.Error = err.Error()
	}
	a.mu.Unlock()
}

// run drains, leaves and stops the node. A failed drain leaves nothing
// half done: the node stays a member (its draining flag stays gossiped, so
// placement keeps moving keys away) and a new POST retries.
func (a *clusterAdmin) run(done chan struct{}) {
	defer close(done)
	a.log.Info("decommission: draining")
	if err := a.drain(a.ctx); err != nil {
		a.log.Error("decommission: drain failed; the node stays a member", "err", err)
		a.set(leaveFailed, err)
		return
	}
	a.set(leaveLeaving, nil)
	a.log.Info("decommission: drained; leaving the cluster")
	if err := a.leave(a.ctx); err != nil {
		a.log.Error("decommission: leave failed", "err", err)
		a.set(leaveFailed, err)
		return
	}
	a.set(leaveLeft, nil)
	a.log.Info("decommission: left the cluster; stopping")
	a.stop()
}

// left reports whether the node has left the cluster (so shutdown must not
// touch gossip again).
func (a *clusterAdmin) left() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.state.State == leaveLeft
}

// wait waits for a running leave attempt to end (at shutdown).
func (a *clusterAdmin) wait() {
	a.mu.Lock()
	done := a.done
	a.mu.Unlock()
	if done != nil {
		<-done
	}
}

func adminJSON(w http.ResponseWriter, status int, v any, allow string) {
	if allow != "" {
		w.Header().Set("Allow", allow)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
