package peer_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"strata/node"
	"strata/node/cluster"
	"strata/node/nodetest"
	"strata/node/peer"
)

// The Client is the cluster's Peer.
var _ cluster.Peer = (*peer.Client)(nil)

var testSecret = []byte("cluster secret for the peer tests")

// env is a node.Server with the internal routes over a fakeBackend, on
// loopback, and a Client of node "n1" pointed at it.
type env struct {
	t       *testing.T
	backend *fakeBackend
	srv     *httptest.Server
	addr    string
	client  *peer.Client
	now     time.Time // the handler's clock
}

type envOption func(*envConfig)

type envConfig struct {
	nodeCfg func(*node.Config)
	handler peer.HandlerOptions // Secret, Backend and Now are the env's
	backend peer.Backend        // nil: the env's fakeBackend
}

// withBackend serves the internal routes over b instead of the fake.
func withBackend(b peer.Backend) envOption { return func(c *envConfig) { c.backend = b } }

func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	var ec envConfig
	for _, o := range opts {
		o(&ec)
	}
	cfg := node.DefaultConfig(t.TempDir())
	if ec.nodeCfg != nil {
		ec.nodeCfg(&cfg)
	}
	srv, err := node.New(cfg, nodetest.NewMemStore(0), nil)
	if err != nil {
		t.Fatalf("node.New: %v", err)
	}
	e := &env{t: t, backend: newFakeBackend(), now: time.Now()}
	ho := ec.handler
	ho.Secret, ho.Backend, ho.Now = testSecret, e.backend, func() time.Time { return e.now }
	if ec.backend != nil {
		ho.Backend = ec.backend
	}
	srv.SetInternal(peer.NewHandler(ho))
	e.srv = httptest.NewServer(srv.Handler())
	t.Cleanup(e.srv.Close)
	e.addr = strings.TrimPrefix(e.srv.URL, "http://")
	e.client = e.newClient(peer.ClientOptions{Secret: testSecret, NodeID: "n1"}, nil)
	return e
}

// newClient is a Client whose requests go through tamper (when not nil)
// after signing, on their way to the server.
func (e *env) newClient(opts peer.ClientOptions, tamper func(*http.Request)) *peer.Client {
	hc := peer.NewHTTPClient()
	if tamper != nil {
		hc.Transport = tamperTransport{next: hc.Transport, tamper: tamper}
	}
	opts.HTTPClient = hc
	c := peer.NewClient(opts)
	e.t.Cleanup(c.CloseIdleConnections)
	return c
}

// tamperTransport changes a signed request in flight.
type tamperTransport struct {
	next   http.RoundTripper
	tamper func(*http.Request)
}

func (t tamperTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	orig := r
	r = r.Clone(r.Context())
	r.Trailer = orig.Trailer // the body fills the original's map at its end
	t.tamper(r)
	return t.next.RoundTrip(r)
}

// newLoopbackServer serves h on loopback until the test ends; it returns
// the host:port.
func newLoopbackServer(t testing.TB, h http.Handler) string {
	t.Helper()
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return strings.TrimPrefix(ts.URL, "http://")
}
