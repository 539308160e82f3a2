package node

import (
	"net"
	"net/http"
	"strconv"
	"testing"
)

// FuzzListenerRefusal: whatever the path and method, a split listener
// never lets through what belongs to the other half of the API: listen_read
// serves blobs and listings only by GET and HEAD, listen_write blobs only
// by PUT, DELETE and HEAD and never a listing, neither the internal
// routes; and listen refuses nothing. A refusal of a method always names
// what the listener allows.
func FuzzListenerRefusal(f *testing.F) {
	for _, seed := range []struct{ path, method string }{
		{"/blobs/k", "GET"}, {"/blobs/k", "PUT"}, {"/blobs/k", "DELETE"}, {"/blobs/k", "POST"},
		{"/blobs", "GET"}, {"/blobs", "PUT"}, {"/blobs/", "HEAD"}, {"/internal/v1/blobs/k", "PUT"},
		{"/readyz", "GET"}, {"/metrics", "POST"}, {"/blobsx", "PUT"}, {"", "get"},
	} {
		f.Add(seed.path, seed.method)
	}
	ls := newBlobListeners(DefaultConfig(""))
	f.Fuzz(func(t *testing.T, path, method string) {
		route := routeOf(path)
		for _, l := range ls {
			allow, err := l.refusal(route, method)
			passes := err == nil
			switch {
			case l.kind == kindMain:
				if !passes {
					t.Fatalf("listen refused %s %q: %v", method, path, err)
				}
				continue
			case route == routeInternal:
				if passes {
					t.Fatalf("%s let through internal %s %q", l.key, method, path)
				}
				continue
			}
			if route != routeBlob && route != routeList {
				if !passes {
					t.Fatalf("%s refused %s %q (route %s), which is not its business", l.key, method, path, route)
				}
				continue
			}
			read := method == http.MethodGet || method == http.MethodHead
			write := method == http.MethodPut || method == http.MethodDelete || method == http.MethodHead
			var want bool
			if l.kind == kindRead {
				want = read
			} else {
				want = write && route == routeBlob
			}
			if passes != want {
				t.Fatalf("%s: %s %q (route %s) let through %v, want %v", l.key, method, path, route, passes, want)
			}
			if !passes && route == routeBlob && allow == "" {
				t.Fatalf("%s refused %s %q with no Allow", l.key, method, path)
			}
		}
	})
}

// FuzzBindsOver: the collision check of listener addresses is symmetric,
// never flags a port-0 address, and always flags an address against
// itself when it names a fixed port.
func FuzzBindsOver(f *testing.F) {
	for _, seed := range [][2]string{
		{"127.0.0.1:8080", "127.0.0.1:8080"}, {"0.0.0.0:8080", "10.0.0.1:8080"}, {":8080", "[::1]:8080"},
		{"[::1]:8080", "[0:0::1]:8080"}, {"127.0.0.1:0", "127.0.0.1:0"}, {"localhost:1", "127.0.0.1:1"}, {"bad", "bad"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		if bindsOver(a, b) != bindsOver(b, a) {
			t.Fatalf("bindsOver(%q, %q) is not symmetric", a, b)
		}
		_, port, err := net.SplitHostPort(a)
		if err != nil {
			if bindsOver(a, a) {
				t.Fatalf("unparsable %q collides", a)
			}
			return
		}
		n, nerr := strconv.Atoi(port)
		if nerr == nil && n == 0 && bindsOver(a, b) {
			t.Fatalf("port-0 address %q collides with %q", a, b)
		}
		if (nerr != nil || n != 0) && !bindsOver(a, a) {
			t.Fatalf("%q does not collide with itself", a)
		}
	})
}
