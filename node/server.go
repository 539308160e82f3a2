package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"strata/internal/keylock"
	"strata/node/pace"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// handlerDrainTimeout bounds how long Serve waits, after forcibly closing
// connections at the end of the shutdown deadline, for their handlers to
// return (they see their bodies fail and their contexts cancelled).
const handlerDrainTimeout = 5 * time.Second

// Server is the HTTP face of one node.
type Server struct {
	cfg      Config
	store    atomic.Pointer[storeRef] // nil until a store is attached
	log      *slog.Logger
	auth     *authenticator
	uploads  *semaphore
	reads    *semaphore
	locks    *keylock.Set
	pacing   *pacing // nil: pacing off
	registry *prometheus.Registry
	metrics  *metrics
	metricsH http.Handler
	handler  http.Handler
	// adminHandler serves the admin listener; pprof is mounted there only.
	adminHandler http.Handler
	// internal serves InternalPrefix (SetInternal); nil when alone.
	internal atomic.Pointer[http.Handler]
	// admin serves AdminPrefix on the admin listener (SetAdmin); nil: 404.
	admin atomic.Pointer[http.Handler]
	// passes serves AdminCompactPath and AdminScrubPath (SetPasses).
	passes atomic.Pointer[PassRunner]
	// clusterMetrics reports the cluster's counters (SetClusterMetrics).
	clusterMetrics atomic.Pointer[func() ClusterMetrics]
	pprof          http.Handler
	// refusedConns counts connections refused for their client's bound.
	refusedConns prometheus.Counter
	// listeners are the blob listeners' bounds and state, by kind.
	listeners [kindCount]*blobListener

	ready    atomic.Bool
	inflight inflight
	copyBufs sync.Pool // *[]byte of copyBufSize, for GET bodies
}

// copyBufSize is the buffer GET bodies are copied through.
const copyBufSize = 64 << 10

// storeRef boxes a Store for atomic.Pointer.
type storeRef struct{ Store }

// ErrStoreAttached: Attach was called on a Server that already has a store.
var ErrStoreAttached = errors.New("node: store already attached")

// New builds a Server over an opened Store (recovery done). The config must
// pass Validate. A nil logger discards.
//
// store may be nil: the node can then listen while the store recovers,
// answering /healthz, and 503 "starting" on /readyz and the blob routes,
// until Attach hands it the store.
func New(cfg Config, store Store, logger *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		cfg:       cfg,
		log:       logger,
		auth:      newAuthenticator(cfg.Auth.Tokens),
		uploads:   newSemaphore(cfg.Limits.MaxUploads, cfg.Limits.AdmissionWait),
		reads:     newSemaphore(cfg.Limits.MaxReads, cfg.Limits.AdmissionWait),
		locks:     keylock.New(),
		registry:  prometheus.NewRegistry(),
		listeners: newBlobListeners(cfg),
	}
	if store != nil {
		s.store.Store(&storeRef{store})
	}
	var err error
	if s.pacing, err = newPacing(cfg.Pacing, pace.Options{}); err != nil {
		return nil, err
	}
	s.metrics = newMetrics(s.registry, s.currentStore, s.uploads, s.reads, ReadBuild(cfg.BuildVersion))
	s.registry.MustRegister(newWritableGauge(s.writability), newReadOnlyGauge(cfg.ReadOnly))
	s.registry.MustRegister(newListenerCollectors(cfg, s.listeners)...)
	s.registry.MustRegister(newFailedDisksGauge(s.currentStore), &diskCollector{s.currentStore}, &passCollector{s}, &clusterCollector{s}, pacingCollector{s})
	s.metricsH = promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		Registry: s.registry,
	})
	s.refusedConns = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "strata_http_refused_connections_total",
		Help: "Connections closed at accept because their client address held http.max_connections_per_client already.",
	})
	s.registry.MustRegister(s.refusedConns)
	s.copyBufs.New = func() any { b := make([]byte, copyBufSize); return &b }
	s.pprof = newPprofMux()
	s.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.serveHTTP(w, r, false) })
	s.adminHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.serveHTTP(w, r, true) })
	s.ready.Store(true)
	return s, nil
}

// Attach hands a Server created without a store its store, once recovery
// is done; from then on it serves blobs.
func (s *Server) Attach(store Store) error {
	if store == nil {
		return errors.New("node: Attach: nil store")
	}
	if !s.store.CompareAndSwap(nil, &storeRef{store}) {
		return ErrStoreAttached
	}
	return nil
}

// currentStore is the attached store, or nil while starting.
func (s *Server) currentStore() Store {
	if ref := s.store.Load(); ref != nil {
		return ref.Store
	}
	return nil
}

// InternalPrefix is where the internal (replica-to-replica) routes live on
// the blob listener.
const InternalPrefix = "/internal/"

// SetInternal mounts h under InternalPrefix on the blob listener. h does
// its own authentication (the cluster secret): the bearer-token check does
// not apply there, so client tokens never open internal routes. Without a
// handler those paths answer 404.
func (s *Server) SetInternal(h http.Handler) { s.internal.Store(&h) }

// Handler returns the node's HTTP handler (all routes, auth, limits, metrics).
func (s *Server) Handler() http.Handler { return s.handler }

// Registry returns the Prometheus registry the server exports on /metrics,
// so a process can add collectors of its own.
func (s *Server) Registry() *prometheus.Registry { return s.registry }

// SetReady is the readiness hook: /readyz answers 503 while it is false.
// Servers start ready; Serve clears it when shutdown begins, so load
// balancers stop sending before connections close.
func (s *Server) SetReady(ready bool) { s.ready.Store(ready) }

// Ready returns nil when /readyz would answer 200: the server is ready, a
// store attached and serving reads (writable or not). Otherwise the error
// says why.
func (s *Server) Ready() error {
	if !s.ready.Load() {
		return fmt.Errorf("%w: shutting down", errNotReady)
	}
	store := s.currentStore()
	if store == nil {
		return fmt.Errorf("%w: %w", errNotReady, errStarting)
	}
	if err := store.Healthy(); err != nil {
		return fmt.Errorf("%w: %w", errNotReady, err)
	}
	return nil
}

// Serve answers requests on ln until ctx is cancelled, then shuts down
// gracefully: it marks the node not ready, stops accepting, lets in-flight
// requests finish for up to Config.ShutdownTimeout, then closes the
// remaining connections and waits briefly for their handlers. It returns nil
// after a clean shutdown, an error when requests had to be cut off or
// serving failed. It closes ln. The caller closes the store afterwards.
// ln is the main listener (listen); ServeListeners adds the split ones.
//
// Without auth tokens Serve refuses a listener that is not on loopback.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	return s.ServeListeners(ctx, Listeners{Main: ln})
}

// newHTTPServer is the http.Server every listener uses, bounded by hc's
// timeouts and header limit. bl, when not nil, is the blob listener it
// serves, which its requests' contexts carry (listenerOf).
func (s *Server) newHTTPServer(ctx context.Context, h http.Handler, hc HTTPConfig, bl *blobListener) *http.Server {
	// Requests outlive ctx: shutdown drains them instead of cancelling.
	base := context.WithoutCancel(ctx)
	if bl != nil {
		base = context.WithValue(base, listenerCtxKey{}, bl)
	}
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: hc.ReadHeaderTimeout,
		IdleTimeout:       hc.IdleTimeout,
		MaxHeaderBytes:    int(hc.MaxHeaderBytes),
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return base },
	}
}

func isLoopbackAddr(a net.Addr) bool {
	if tcp, ok := a.(*net.TCPAddr); ok {
		return tcp.IP.IsLoopback()
	}
	host, _, err := net.SplitHostPort(a.String())
	return err == nil && isLoopbackHost(host)
}

// inflight counts running handlers so a forced shutdown can wait for them.
type inflight struct {
	mu   sync.Mutex
	n    int
	idle chan struct{} // closed when n drops to 0; nil when nobody waits
}

func (f *inflight) add() {
	f.mu.Lock()
	f.n++
	f.mu.Unlock()
}

func (f *inflight) done() {
	f.mu.Lock()
	f.n--
	if f.n == 0 && f.idle != nil {
		close(f.idle)
		f.idle = nil
	}
	f.mu.Unlock()
}

func (f *inflight) wait(ctx context.Context) error {
	f.mu.Lock()
	if f.n == 0 {
		f.mu.Unlock()
		return nil
	}
	if f.idle == nil {
		f.idle = make(chan struct{})
	}
	idle := f.idle
	f.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// requestState is what the per-request wrapper shares with the handlers.
type requestState struct {
	route    string
	http     *HTTPConfig // the bounds of the listener the request came on
	store    Store       // attached store, for blob routes
	rc       *http.ResponseController
	received atomic.Int64
	token    string // name of the token used, for logs
}

// requestFrame holds what serveHTTP keeps per request, in one allocation.
type requestFrame struct {
	rec responseRecorder
	st  requestState
	rcv http.ResponseController
}

// serveHTTP is the root handler of both listeners: it routes on the
// escaped path (never a cleaned one: keys are opaque, "a/../b" is a key),
// records metrics, bounds the final flush with a write deadline. The admin
// listener (admin true) has the probes, metrics and pprof, no blob routes.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request, admin bool) {
	start := time.Now()
	route := routeOf(r.URL.EscapedPath())
	if admin {
		route = adminRouteOf(r.URL.EscapedPath())
	} else {
		// Forced shutdown waits for blob handlers; admin ones (a 30s
		// profile, say) are simply cut off.
		s.inflight.add()
		defer s.inflight.done()
	}

	// One allocation for the request's own state.
	f := &requestFrame{rec: responseRecorder{ResponseWriter: w}, rcv: *http.NewResponseController(w)}
	rec, st := &f.rec, &f.st
	st.route, st.rc, st.http = route, &f.rcv, &s.listenerOf(r).http
	// A deadline left by the previous response on this connection must not
	// cut this one short; each handler sets its own while it streams.
	_ = st.rc.SetWriteDeadline(time.Time{})
	defer func() {
		// Bound the flush of whatever is still buffered after the handler.
		// One clock read serves that deadline, the duration and pacing.
		end := time.Now()
		_ = st.rc.SetWriteDeadline(end.Add(st.http.ProgressTimeout))
		status := rec.status
		if status == 0 {
			status = http.StatusOK
		}
		elapsed := end.Sub(start)
		s.metrics.observe(st.route, r.Method, status, elapsed, rec.written)
		if st.route == routeBlob {
			s.pacing.observeRead(r.Method, status, end, elapsed, rec)
		}
		if n := st.received.Load(); n > 0 {
			s.metrics.received(st.route, n)
		}
		if s.log.Enabled(r.Context(), slog.LevelDebug) { // the arguments cost even when dropped
			s.log.Debug("request", "method", r.Method, "path", r.URL.EscapedPath(), "status", status,
				"sent", rec.written, "received", st.received.Load(), "elapsed", elapsed, "remote", r.RemoteAddr, "token", st.token)
		}
	}()

	if !s.auth.enabled() && !isLoopbackHostHeader(r.Host) {
		s.writeError(rec, r, errHostNotLoopback)
		return
	}
	if !admin {
		// A split listener serves only its half of the API.
		if allow, err := s.listenerOf(r).refusal(st.route, r.Method); err != nil {
			if allow != "" || !errors.Is(err, errNoRoute) {
				rec.Header().Set("Allow", allow)
			}
			s.writeError(rec, r, err)
			return
		}
	}
	switch st.route {
	case routeInternal:
		// Internal replica routes authenticate with the cluster secret
		// themselves; client tokens neither open nor are needed for them.
		if h := s.internal.Load(); h != nil {
			(*h).ServeHTTP(rec, r)
		} else {
			s.writeError(rec, r, errNoRoute)
		}
	case routeBlob, routeList:
		if st.store = s.currentStore(); st.store == nil {
			s.writeError(rec, r, errStarting)
		} else if st.route == routeBlob {
			s.handleBlob(rec, r, st)
		} else {
			s.handleList(rec, r, st)
		}
	case routeHealthz:
		s.handleHealthz(rec, r)
	case routeReadyz:
		s.handleReadyz(rec, r)
	case routeMetrics:
		s.handleMetrics(rec, r, st)
	case routePprof:
		s.handlePprof(rec, r, st)
	case routeAdmin:
		s.handleAdmin(rec, r, st)
	default:
		s.writeError(rec, r, errNoRoute)
	}
}

func routeOf(escapedPath string) string {
	switch {
	case strings.HasPrefix(escapedPath, blobsPrefix):
		return routeBlob
	case strings.HasPrefix(escapedPath, InternalPrefix):
		return routeInternal
	case escapedPath == "/blobs":
		return routeList
	case escapedPath == "/healthz":
		return routeHealthz
	case escapedPath == "/readyz":
		return routeReadyz
	case escapedPath == "/metrics":
		return routeMetrics
	}
	return routeOther
}

// writeError answers err as JSON with the status statusOf picks, adding the
// headers that status calls for. Server-side failures are logged with the
// real error, which the client never sees.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, code, msg := statusOf(err)
	h := w.Header()
	switch {
	case status >= 500 && code != "busy":
		s.log.Warn("request failed", "method", r.Method, "path", r.URL.EscapedPath(), "status", status, "err", err)
	case status == statusClientClosed:
		s.log.Debug("client went away", "method", r.Method, "path", r.URL.EscapedPath(), "err", err)
	}
	switch code {
	case "unauthorized":
		h.Set("WWW-Authenticate", `Bearer realm="strata"`)
	case "busy", "shutting_down", "starting", "not_ready", "timeout", "no_quorum":
		h.Set("Retry-After", strconv.Itoa(max(1, int(s.cfg.Limits.RetryAfter.Round(time.Second)/time.Second))))
	case "read_only":
		if errors.Is(err, errNodeReadOnly) {
			// Worth retrying: the client (or its load balancer) goes to
			// another node, or this one is restarted writable.
			h.Set("Retry-After", strconv.Itoa(max(1, int(s.cfg.Limits.RetryAfter.Round(time.Second)/time.Second))))
		}
	}
	if r.ContentLength != 0 {
		// The body may be partly unread (refused before reading, or the
		// read failed). Do not let the server wait to drain it from a
		// client that may have stalled: close after this answer, and bound
		// any read that still happens by the progress timeout.
		h.Set("Connection", "close")
		_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(s.listenerOf(r).http.ProgressTimeout))
	}
	writeJSON(w, status, apiError{Error: msg, Code: code})
}

// admit takes a slot of sem or answers 503; it reports whether to go on.
func (s *Server) admit(w http.ResponseWriter, r *http.Request, sem *semaphore, class string) bool {
	if err := sem.acquire(r.Context()); err != nil {
		if errors.Is(err, errBusy) {
			s.metrics.rejected.WithLabelValues(class).Inc()
		}
		s.writeError(w, r, err)
		return false
	}
	return true
}

// authorize checks the bearer token for a read or a write; it reports whether to go on.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, st *requestState, need access) bool {
	name, err := s.auth.check(r, need)
	st.token = name
	if err != nil {
		s.writeError(w, r, err)
		return false
	}
	return true
}

func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		s.writeError(w, r, errMethod)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request, st *requestState) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		s.writeError(w, r, errMethod)
		return
	}
	if !s.cfg.Auth.PublicMetrics && !s.authorize(w, r, st, accessRead) {
		return
	}
	s.metricsH.ServeHTTP(w, r)
}
