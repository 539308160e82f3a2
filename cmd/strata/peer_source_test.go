package main

import (
	"net"
	"testing"
)

func TestPeerSourceAddr(t *testing.T) {
	for listen, want := range map[string]string{
		"127.0.0.11:7070": "127.0.0.11",
		"[::1]:7070":      "::1",
		"0.0.0.0:7070":    "",
		":7070":           "",
		"localhost:7070":  "",
		"garbage":         "",
	} {
		got := peerSourceAddr(listen)
		switch {
		case want == "" && got != nil:
			t.Errorf("%s: %v, want none", listen, got)
		case want != "" && (got == nil || !got.(*net.TCPAddr).IP.Equal(net.ParseIP(want))):
			t.Errorf("%s: %v, want %s", listen, got, want)
		}
	}
}
