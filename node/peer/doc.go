// Package peer is the replica-to-replica wire: the internal HTTP routes a
// node serves over its Backend (NewHandler, mounted under /internal/ with
// node.Server.SetInternal) and the Client that calls them on other nodes
// (NewClient; it implements cluster.Peer). Both sides authenticate with a
// key derived from the cluster secret.
//
// # Basics
//
//	PUT    /internal/v1/blobs/{key}?version=V[&meta=JSON][&md5=1]  201 + JSON Info held (V or newer)
//	DELETE /internal/v1/blobs/{key}?version=V     204
//	POST   /internal/v1/compose/{key}?version=V   body JSON {parts, content_type, meta} (MAC'd); 201 + JSON Info held; 404 a part missing
//	GET    /internal/v1/meta/{key}                JSON Entry (tombstones too), 404
//	GET    /internal/v1/blobs/{key}?min_version=V bytes, Range "bytes=a-b"; 410 when older
//	HEAD   /internal/v1/blobs/{key}?min_version=V the same headers, no bytes
//	GET    /internal/v1/digest?for=ID             binary anti-entropy Digest
//	GET    /internal/v1/entries?for=ID&buckets=1,5&after=K&limit=N  JSON entries
//
// Wiring (cmd does it; node/cluster never imports this package):
//
//	client := peer.NewClient(peer.ClientOptions{Secret: secret, NodeID: id})
//	c, err := cluster.New(cluster.Options{Peer: client, ...})
//	srv.SetInternal(peer.NewHandler(peer.HandlerOptions{Secret: secret, Backend: c, Logger: log}))
//
// A blob's metadata and MD5 travel as meta.go says: in the signed query
// of a replica write (the replica hashes the bytes itself for md5=1), in
// Info and Entry JSON, and in X-Strata-Meta and X-Strata-MD5 on reads.
//
// Keys are path-escaped as on /blobs/. Info, Entry and Digest have one
// wire encoding each (codec.go, fuzzed); errors are JSON {"error","code"}
// and one table (errors.go) maps sentinels to statuses on the handler and
// codes back to the same sentinels on the Client, so a caller tests
// errors.Is(err, blockstore.ErrNotFound) whether the key is missing here
// or on a peer.
//
// # Authentication
//
// Every request carries X-Strata-Node (sender id), X-Strata-Date (unix
// ms) and X-Strata-Auth, the hex HMAC-SHA256 over method, escaped path,
// raw query, date, node, body mode, declared body size and Content-Type
// (length-prefixed fields, so no two requests encode alike). The key is
// SHA-256 over a fixed label and the secret file's bytes, a different
// label from the gossip key's. A body travels chunked, its declared size
// in the signed X-Strata-Size, and ends with the trailer X-Strata-Body-Mac:
// an HMAC over the request signature and the body's SHA-256, so a body
// cannot be swapped, cut or moved to another request. MACs are compared
// in constant time.
//
// HMAC rather than mTLS: a cluster then needs one secret file, the same
// one gossip encryption already needs, instead of a CA to run, per-node
// certificates to issue, rotate and revoke, and expiry dates to watch. The
// cost is that traffic is authenticated, not encrypted (run the cluster on
// a private network, or under a VPN or IPsec, if bytes must not be seen),
// and that a captured request can be replayed within MaxClockSkew: every
// internal write is versioned, so a replay re-applies a version that last
// writer wins has already ordered and cannot undo a newer write.
//
// # Promises
//
//   - A request without valid authentication (none, another secret, a
//     date more than MaxClockSkew away, a signed field changed, a body
//     changed, cut or without its trailer) is answered 401 with a JSON
//     error, and the Backend either is not called or sees a read error
//     instead of the end of the body: nothing is stored. Client bearer
//     tokens mean nothing here.
//   - The body MAC is checked before the Backend can see the body's end:
//     the last byte (the declared size reached) or io.EOF is handed over
//     only after the trailer verified.
//   - A replica write to a node that already holds its version or a newer
//     one (blob or tombstone) is acknowledged, 201 with the Info held, even
//     though its Backend returned without reading the body (nothing was
//     stored, so the unread body's MAC does not matter; the connection
//     closes instead of draining it). PutReplica returns that Info: a
//     higher Version tells the coordinator the write was superseded.
//   - A blob stream never passes bad bytes for good: an error before the
//     first byte is an error answer (503 "corrupt" for a checksum failure);
//     one after it aborts the connection, and the Client's reader returns
//     an error wrapping ErrShortBody, never io.EOF, until every byte the
//     peer announced arrived. A whole-blob read is also held to the blob's
//     CRC32C on the Client: a mismatch fails the read that would complete
//     it (ErrCorrupt), so damage on the way is caught too.
//   - Client errors tell the cases apart: a peer's answer wraps the
//     sentinel its Backend returned; no answer at all wraps ErrUnreachable
//     (and the transport's error, context ones included).
//   - The Client never follows redirects, never retries a request with a
//     body, and bounds every answer it buffers.
//
// # Caveats
//
// Answers are not signed: a ranged read's bytes rest on the serving
// replica's checksums and on TCP's (a whole-blob read is checked end to
// end with the CRC32C, which catches damage, not forgery). A node that
// holds the secret is trusted with any key and any sender id; the id is
// for logs. Requests need clocks within MaxClockSkew of each other (run
// NTP).
//
// The routes bypass node.Server's admission budgets (a coordinator's own
// budget bounds what it fans out); a body or stream that moves no byte for
// HandlerOptions.ProgressTimeout is cut off. The Client's PutReplica
// reader is read by net/http's goroutine: see PutReplica for how to cut a
// replica off.
package peer
