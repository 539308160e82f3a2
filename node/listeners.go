package node

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Listeners are the blob API's listeners, for ServeListeners. Main
// (listen) serves every route, the internal replica routes too; Read
// (listen_read) and Write (listen_write), when not nil, serve only reads
// or only writes, each bounded by its own table ([http.read],
// [http.write]), so a flood of slow uploads on Write cannot hold the
// connections reads need on Read.
type Listeners struct {
	Main  net.Listener
	Read  net.Listener
	Write net.Listener
}

// listenerKind says which routes and methods a blob listener serves.
type listenerKind int

const (
	kindMain  listenerKind = iota // listen: everything
	kindRead                      // listen_read: GET and HEAD of blobs and listings
	kindWrite                     // listen_write: PUT, DELETE and HEAD of blobs
	kindCount
)

// Allow headers of the split listeners' 405 answers.
const (
	allowRead  = "GET, HEAD"
	allowWrite = "PUT, DELETE, HEAD"
)

// blobListener is one blob listener's settings and its live state.
type blobListener struct {
	kind listenerKind
	key  string     // its config key: "listen", "listen_read", "listen_write"
	http HTTPConfig // the bounds it runs with
	// lim is its connection limit while serving (nil otherwise), for the
	// strata_http_open_connections gauge.
	lim atomic.Pointer[limitListener]
	// addr is its bound address while serving ("" otherwise), for /readyz.
	addr atomic.Pointer[string]
}

// listenerCtxKey carries the *blobListener a request arrived on in its
// context (http.Server.BaseContext sets it once per listener).
type listenerCtxKey struct{}

// newBlobListeners gives each listener kind its bounds from cfg.
func newBlobListeners(cfg Config) [kindCount]*blobListener {
	return [kindCount]*blobListener{
		kindMain:  {kind: kindMain, key: "listen", http: cfg.HTTP},
		kindRead:  {kind: kindRead, key: "listen_read", http: cfg.ReadHTTP()},
		kindWrite: {kind: kindWrite, key: "listen_write", http: cfg.WriteHTTP()},
	}
}

// listenerOf is the blob listener r arrived on: listen when r came some
// other way (the admin listener, Handler in tests).
func (s *Server) listenerOf(r *http.Request) *blobListener {
	if l, ok := r.Context().Value(listenerCtxKey{}).(*blobListener); ok {
		return l
	}
	return s.listeners[kindMain]
}

// refusal is how l answers a request for route with method when l does
// not serve it: the Allow header and the error (nil: l serves it). The
// split listeners serve the probes and metrics as listen does, so each
// load-balancer pool can check its own; the internal replica routes are
// on listen only.
func (l *blobListener) refusal(route, method string) (allow string, err error) {
	if l.kind == kindMain {
		return "", nil
	}
	if route == routeInternal {
		return "", errNoRoute
	}
	if route != routeBlob && route != routeList {
		return "", nil
	}
	switch l.kind {
	case kindRead:
		if method == http.MethodGet || method == http.MethodHead {
			return "", nil
		}
		return allowRead, errReadListener
	case kindWrite:
		if route == routeBlob && (method == http.MethodPut || method == http.MethodDelete || method == http.MethodHead) {
			return "", nil
		}
		if route == routeList {
			return "", errWriteListener // no method lists there: an empty Allow
		}
		return allowWrite, errWriteListener
	}
	return "", nil
}

// ServeListeners answers requests on every listener in ls (Main is
// required) until ctx is cancelled, then shuts them all down together as
// Serve does: not ready first, in-flight requests on any of them get
// Config.ShutdownTimeout, then the remaining connections are closed. It
// closes every listener in ls. A listener that fails stops them all.
//
// Without auth tokens it refuses a listener that is not on loopback.
func (s *Server) ServeListeners(ctx context.Context, ls Listeners) error {
	all := [kindCount]net.Listener{kindMain: ls.Main, kindRead: ls.Read, kindWrite: ls.Write}
	closeAll := func() {
		for _, ln := range all {
			if ln != nil {
				ln.Close()
			}
		}
	}
	if ls.Main == nil {
		closeAll()
		return errors.New("node: ServeListeners: no main listener")
	}
	for kind, ln := range all {
		if ln != nil && !s.auth.enabled() && !isLoopbackAddr(ln.Addr()) {
			closeAll()
			return fmt.Errorf("%w: %s %s", ErrInsecureListen, s.listeners[kind].key, ln.Addr())
		}
	}

	var servers []*http.Server
	var drainers []drainer // servers and their lean paths, for shutdown
	served := make(chan error, kindCount)
	for kind, ln := range all {
		if ln == nil {
			continue
		}
		bl := s.listeners[kind]
		hs := s.newHTTPServer(ctx, s.handler, bl.http, bl)
		var limited net.Listener = ln
		if n := bl.http.MaxConnectionsPerClient; n > 0 {
			limited = newClientLimitListener(limited, n, bl.http.LimitLoopbackClients, s.refusedConns.Inc)
		}
		lim := newLimitListener(limited, bl.http.MaxConnections)
		bl.lim.Store(lim)
		addr := ln.Addr().String()
		bl.addr.Store(&addr)
		var serveLn net.Listener = lim
		if bl.http.LeanGet {
			// The lean path takes the connections; hs gets those it hands off.
			lean := s.newLeanServer(ctx, bl, lim)
			serveLn = lean.hand
			drainers = append(drainers, lean)
			go lean.acceptLoop()
		}
		servers = append(servers, hs)
		drainers = append(drainers, hs)
		go func() { served <- hs.Serve(serveLn) }()
		if s.auth.enabled() {
			s.log.Info("serving", "listener", bl.key, "addr", addr, "max_connections", bl.http.MaxConnections, "auth", "bearer tokens", "tokens", len(s.cfg.Auth.Tokens))
		} else {
			s.log.Info("serving", "listener", bl.key, "addr", addr, "max_connections", bl.http.MaxConnections, "auth", "none: no tokens configured, loopback only")
		}
	}
	if s.cfg.ReadOnly {
		s.log.Info("read-only: client writes are refused with 503 read_only; replica traffic is still taken")
	}
	defer func() {
		for _, bl := range s.listeners {
			bl.lim.Store(nil)
			bl.addr.Store(nil)
		}
	}()

	pending := len(servers)
	var err error
	select {
	case serr := <-served:
		pending--
		err = fmt.Errorf("node: serve: %w", serr)
	case <-ctx.Done():
	}
	s.SetReady(false)
	if err != nil {
		// One listener failed: the node stops serving on all of them.
		for _, d := range drainers {
			d.Close()
		}
	} else {
		s.log.Info("shutting down", "timeout", s.cfg.ShutdownTimeout)
		err = s.shutdown(drainers)
	}
	for ; pending > 0; pending-- {
		if serr := <-served; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
			err = errors.Join(err, fmt.Errorf("node: serve: %w", serr))
		}
	}
	s.log.Info("stopped serving")
	return err
}

// drainer is what shutdown drains: an *http.Server, or a listener's lean
// path (leanServer).
type drainer interface {
	Shutdown(ctx context.Context) error
	Close() error
}

// shutdown drains servers together within Config.ShutdownTimeout, then
// closes what is left and waits briefly for its handlers.
func (s *Server) shutdown(servers []drainer) error {
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	errs := make([]error, len(servers))
	var wg sync.WaitGroup
	for i, hs := range servers {
		wg.Go(func() { errs[i] = hs.Shutdown(sctx) })
	}
	wg.Wait()
	err := errors.Join(errs...)
	if err == nil {
		return nil
	}
	s.log.Warn("shutdown deadline passed; closing remaining connections", "err", err)
	for _, hs := range servers {
		hs.Close()
	}
	dctx, dcancel := context.WithTimeout(context.Background(), handlerDrainTimeout)
	defer dcancel()
	if werr := s.inflight.wait(dctx); werr != nil {
		s.log.Warn("handlers still running after connections closed", "err", werr)
	}
	return fmt.Errorf("node: shutdown: in-flight requests cut off: %w", err)
}

// listenerAddrs are the blob listeners' bound addresses in /readyz; a
// split listener that is off is left out.
type listenerAddrs struct {
	Listen      string `json:"listen,omitempty"`
	ListenRead  string `json:"listen_read,omitempty"`
	ListenWrite string `json:"listen_write,omitempty"`
}

// boundAddrs is where the blob listeners serve now ("" when not serving).
func (s *Server) boundAddrs() listenerAddrs {
	get := func(k listenerKind) string {
		if a := s.listeners[k].addr.Load(); a != nil {
			return *a
		}
		return ""
	}
	return listenerAddrs{Listen: get(kindMain), ListenRead: get(kindRead), ListenWrite: get(kindWrite)}
}

// newListenerCollectors exports each configured blob listener's open
// connections and limit (strata_http_open_connections and
// strata_http_max_connections, by listener), so an operator sees a pool
// running full.
func newListenerCollectors(cfg Config, ls [kindCount]*blobListener) []prometheus.Collector {
	var out []prometheus.Collector
	for _, bl := range ls {
		if (bl.kind == kindRead && cfg.ListenRead == "") || (bl.kind == kindWrite && cfg.ListenWrite == "") {
			continue
		}
		labels := prometheus.Labels{"listener": bl.key}
		out = append(out,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name:        "strata_http_open_connections",
				Help:        "Open connections on a blob listener (listen, listen_read, listen_write); at strata_http_max_connections further ones wait in the kernel's accept queue.",
				ConstLabels: labels,
			}, func() float64 {
				if lim := bl.lim.Load(); lim != nil {
					return float64(lim.openConns())
				}
				return 0
			}),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name:        "strata_http_max_connections",
				Help:        "Connection limit of a blob listener (http.max_connections, or its [http.read] / [http.write] value).",
				ConstLabels: labels,
			}, func() float64 { return float64(bl.http.MaxConnections) }),
		)
	}
	return out
}
