package node

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
)

// routePprof labels the admin listener's /debug/pprof/ requests.
const routePprof = "pprof"

// pprofPrefix is where the profiling handlers live, on the admin listener only.
const pprofPrefix = "/debug/pprof/"

// routeAdmin labels the admin listener's AdminPrefix requests.
const routeAdmin = "admin"

// AdminPrefix is where the process's own admin routes (SetAdmin) live, on
// the admin listener only.
const AdminPrefix = "/admin/"

// adminMaxConnections bounds the admin listener's open connections. It
// serves probes, scrapes and an operator's profiles, never blob traffic.
const adminMaxConnections = 64

// newPprofMux mounts net/http/pprof on a private mux (never the default
// one, and never on the blob listener).
func newPprofMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc(pprofPrefix, pprof.Index) // named profiles: heap, goroutine, ...
	mux.HandleFunc(pprofPrefix+"cmdline", pprof.Cmdline)
	mux.HandleFunc(pprofPrefix+"profile", pprof.Profile)
	mux.HandleFunc(pprofPrefix+"symbol", pprof.Symbol)
	mux.HandleFunc(pprofPrefix+"trace", pprof.Trace)
	return mux
}

// AdminHandler returns the admin listener's handler: /healthz, /readyz,
// /metrics (as on the blob listener) and /debug/pprof/ (which needs a
// read-write token when tokens are configured). Blob routes are not there.
func (s *Server) AdminHandler() http.Handler { return s.adminHandler }

// adminRouteOf maps an admin request path to its route.
func adminRouteOf(escapedPath string) string {
	switch route := routeOf(escapedPath); {
	case route == routeHealthz || route == routeReadyz || route == routeMetrics:
		return route
	case strings.HasPrefix(escapedPath, pprofPrefix):
		return routePprof
	case strings.HasPrefix(escapedPath, AdminPrefix):
		return routeAdmin
	}
	return routeOther
}

// handlePprof serves the profiling handlers. With tokens configured they
// need a read-write token: profiles show memory contents and cost CPU.
func (s *Server) handlePprof(w http.ResponseWriter, r *http.Request, st *requestState) {
	if !s.authorize(w, r, st, accessWrite) {
		return
	}
	s.pprof.ServeHTTP(w, r)
}

// SetAdmin mounts h under AdminPrefix on the admin listener (the cluster's
// /admin/cluster and /admin/leave; the pass routes AdminCompactPath and
// AdminScrubPath are the Server's own, see SetPasses). With tokens configured, GET and HEAD
// need a read token. Every other method can change the node (POST
// /admin/leave decommissions it), so it needs an admin-scope token; when
// no admin token is configured it is answered for loopback clients only
// (with a read-write token when tokens are configured), 403 otherwise: a
// client's blob write token never decommissions a node from afar.
// Without a handler those paths answer 404.
func (s *Server) SetAdmin(h http.Handler) { s.admin.Store(&h) }

// handleAdmin authorizes and serves an AdminPrefix request.
func (s *Server) handleAdmin(w http.ResponseWriter, r *http.Request, st *requestState) {
	kind, isPass := passKindOf(r.URL.Path)
	h := s.admin.Load()
	if h == nil && !isPass {
		s.writeError(w, r, errNoRoute)
		return
	}
	need := accessRead
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		need = accessAdmin
		if !s.auth.hasAdmin() {
			if !isLoopbackRemote(r.RemoteAddr) {
				s.writeError(w, r, fmt.Errorf("%w: %s %s needs an admin token, and none is configured: loopback clients only", errForbidden, r.Method, r.URL.Path))
				return
			}
			need = accessWrite
		}
	}
	if !s.authorize(w, r, st, need) {
		return
	}
	if isPass {
		s.handlePasses(w, r, kind)
		return
	}
	(*h).ServeHTTP(w, r)
}

// isLoopbackRemote reports whether a request's RemoteAddr is a loopback
// address.
func isLoopbackRemote(remote string) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ServeAdmin answers the admin routes (AdminHandler) on ln until ctx is
// cancelled, then closes its connections at once: probes, scrapes and
// profiles have nothing to drain and are retried. It closes ln. The caller
// keeps it running until Serve has returned, so probes see the drain.
//
// Without auth tokens ServeAdmin refuses a listener that is not on loopback.
func (s *Server) ServeAdmin(ctx context.Context, ln net.Listener) error {
	if !s.auth.enabled() && !isLoopbackAddr(ln.Addr()) {
		ln.Close()
		return fmt.Errorf("%w: admin %s", ErrInsecureListen, ln.Addr())
	}
	hs := s.newHTTPServer(ctx, s.adminHandler, s.cfg.HTTP, nil)
	served := make(chan error, 1)
	go func() { served <- hs.Serve(newLimitListener(ln, adminMaxConnections)) }()
	s.log.Info("serving admin", "addr", ln.Addr().String(), "routes", "/healthz /readyz /metrics "+pprofPrefix+" "+AdminCompactPath+" "+AdminScrubPath)
	select {
	case err := <-served:
		return fmt.Errorf("node: serve admin: %w", err)
	case <-ctx.Done():
	}
	hs.Close()
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("node: serve admin: %w", err)
	}
	return nil
}
