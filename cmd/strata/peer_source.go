package main

import (
	"net"
)

// peerSourceAddr is the local address replica connections are made from:
// the listen address's IP (any port) when it names a specific IP, else nil
// (the kernel picks). Binding it makes the caller's IP name the calling
// node, also on one machine where every node has its own loopback IP.
func peerSourceAddr(listen string) net.Addr {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || ip.IsUnspecified() {
		return nil
	}
	return &net.TCPAddr{IP: ip}
}
