// Package node is the Strata process seen from the network: the HTTP blob
// API, bearer-token auth, admission limits, metrics, readiness and graceful
// shutdown, in front of a Store (the local tiered store today; a replication
// coordinator can slot in front of it behind the same interface).
//
// # Basics
//
// LoadConfig or DefaultConfig gives a Config; New builds a Server over an
// opened Store (Tiered adapts the local *tiering.Store; nodetest.MemStore
// is an in-memory fake for tests); Serve answers on a listener until its
// context is cancelled, then drains. Handler exposes the same routes for
// tests and embedding.
//
//	PUT    /blobs/{key}   201 + ETag          stream the body into the store
//	GET    /blobs/{key}   200/206/304/416     via http.ServeContent (see # GET)
//	HEAD   /blobs/{key}   as GET, no body
//	DELETE /blobs/{key}   204, 404 missing
//	GET    /blobs?prefix=&start-after=&limit=   JSON page of keys in order
//	GET    /healthz /readyz /metrics
//
// Blobs may carry metadata (blockstore Info.Meta), which only the S3 API
// writes: a native PUT stores none (its headers other than Content-Type
// are not kept). A native GET or HEAD answers the stored representation
// headers Content-Encoding, Cache-Control, Content-Disposition,
// Content-Language and Expires when a blob has them, so both APIs hand a
// client the same representation; user metadata (X-Amz-Meta-*) and the S3
// API's own entries are not exposed, and the native ETag stays the
// version's. Tiered's store also implements Composer (no-copy Compose, for
// S3 multipart completion).
//
// ServeListeners adds the split blob listeners (Listeners: listen_read,
// listen_write) to the main one, each with its own connection limit and
// timeouts ([http.read], [http.write] over [http]); Serve is
// ServeListeners with the main one only. listen serves every route;
// listen_read only GET and HEAD of blobs and listings, listen_write only
// PUT, DELETE and HEAD of a blob; both also answer the probes and
// metrics, and neither the internal replica routes.
//
// Blobs may carry metadata (blockstore Info.Meta), which only the S3 API
// writes: a native PUT stores none (its headers other than Content-Type
// are not kept). A native GET or HEAD answers the stored representation
// headers Content-Encoding, Cache-Control, Content-Disposition,
// Content-Language and Expires when a blob has them, so both APIs hand a
// client the same representation; user metadata (X-Amz-Meta-*) and the S3
// API's own entries are not exposed, and the native ETag stays the
// version's. Tiered's store also implements Composer (no-copy Compose, for
// S3 multipart completion).
//
// ServeAdmin answers the admin listener (admin_listen, loopback by
// default) with AdminHandler: /healthz, /readyz, /metrics and net/http/pprof
// under /debug/pprof/, mounted on a private mux and never on the blob
// listener, so probes and scrapes never queue behind blob clients.
// SetAdmin mounts the process's own routes under /admin/ there (the
// cluster's /admin/cluster and /admin/leave): GET with a read token,
// anything else (a decommission) with an admin-scope token; when no admin
// token is configured, anything else is answered for loopback clients
// only (with a read-write token when tokens are configured). Scopes are
// read < read-write < admin, each allowing what the ones below do. The
// Server's own pass routes sit there under the same rules (admin_passes.go):
// POST /admin/compact and /admin/scrub start a pass of the local store
// (SetPasses; else the attached Store when it is a PassRunner) and answer
// 202 with it, or 409 "pass_running" with the running one (a pass of a
// kind never overlaps another); GET reports the running or last pass, or
// ?id=N, waiting up to &wait= for its end. /metrics exports the passes
// (strata_pass_*), fsync latency per device (strata_fsync_duration_seconds),
// the SSD cache's writes against its budget (strata_ssd_*) and, once
// SetClusterMetrics is called, hints pending and repairs.
//
// Config's [cluster] table (ClusterConfig) turns cluster mode on when
// gossip or join is set; Validate checks it (W and R within N, a secret
// file named, reachable advertised addresses) and LoadClusterSecret reads
// the secret. In cluster mode an admin_listen left at its default moves to
// the listen port + 1000 (AdminAddress), so nodes sharing a machine do not
// collide.
//
// Errors are JSON {"error": "...", "code": "..."}; statusOf is the one
// place that maps errors (the blockstore sentinels among them) to statuses,
// and the messages are fixed strings, so internals never reach a client.
//
// # Promises
//
//   - A PUT is answered 201 only after Store.Put returned, i.e. after the
//     store reported the blob durable. A body is streamed, never buffered
//     whole; one longer than max_blob_size is refused with 413 (up front
//     when Content-Length says so, as soon as it crosses the limit when
//     chunked), and a failed body leaves nothing stored.
//   - PUT and DELETE of one key are serialized by a per-key lock, so
//     If-Match, If-None-Match and If-Unmodified-Since are checked
//     atomically with the write (412 when they fail; If-Unmodified-Since
//     is ignored when If-Match is present or its date is invalid, as RFC
//     9110 section 13.1.4 says).
//   - Keys come from the escaped path, unescaped exactly once, and are
//     opaque: "a/../b" and "a%2Fb" are keys, never resolved as paths.
//   - A split listener answers a method it does not serve with 405, an
//     Allow header (listen_read "GET, HEAD", listen_write "PUT, DELETE,
//     HEAD") and the JSON error "method_not_allowed", before auth or the
//     store see the request: nothing changes. Each blob listener has its
//     own connection slots, so slow uploads filling listen_write's
//     max_connections leave listen_read's free (reads on it are accepted
//     and answered), where on one listener they would wait in the accept
//     queue behind the uploads.
//   - With read_only, client PUT and DELETE are answered 503 "read_only"
//     with Retry-After on every listener, after auth and before the key or
//     body is read, and nothing changes; reads are served; the internal
//     routes (replica writes, hint replays, anti-entropy from other nodes)
//     are untouched. /readyz stays 200 with "read_only": true and
//     "writable": false; strata_read_only is 1.
//   - Uploads and reads have separate admission budgets: past either, the
//     answer is 503 with Retry-After at once (or after limits.admission_wait),
//     so a flood of slow uploads cannot starve reads and queues stay bounded.
//   - Uploads are paced for reads ([pacing], pacing.go over node/pace):
//     while blob reads answered from RAM have a p99 (handler time plus the
//     runtime's p99 wait for a CPU, schedlatency.go) over
//     pacing.read_latency_target, the bodies of all uploads together are
//     held to a budget that backs off and recovers in proportion to how
//     far reads are from the target (multiplicative both ways, so it
//     climbs back within about a second), never below min_upload_rate,
//     and upload goroutines yield the processor after each body read;
//     with no such read for a second, uploads run at full speed.
//   - Range follows RFC 9110 section 14 (parseByteRanges; ServeContent
//     still applies preconditions and If-Range first): a last position
//     past the end is clipped, a first position past the end (however
//     large), "-0" and any range of an empty blob are unsatisfiable, and
//     a set with none satisfiable is 416 with "Content-Range: bytes */N".
//     Overlapping and adjacent ranges are coalesced, and a header with
//     more than 16 range-specs is refused with 416 as a likely denial of
//     service (section 15.5.17).
//   - One client address holds at most http.max_connections_per_client
//     connections on the blob listener (by IP, loopback too unless
//     limit_loopback_clients is false); a connection past that is
//     answered 429 and closed at accept, so a client holding thousands of
//     slow connections cannot use up max_connections for everyone.
//   - A request must keep making progress: an upload that sends nothing, or
//     a download that accepts nothing, for http.progress_timeout is cut off.
//     There is no cap on the total time of a request that keeps moving. A
//     download goes out in pieces, each under a fresh write deadline: the
//     first 64 KiB, each later one what the client accepted in a quarter of
//     the progress timeout at the rate it took the previous piece (64 KiB
//     to 4 MiB), so a client is cut off only if it takes less than 64 KiB,
//     or less than a quarter of its own recent rate, in a whole timeout.
//   - Bytes that fail their checksum are never sent: a read failure before
//     the first byte becomes an error answer; after it, the connection is
//     aborted so the client sees a truncated response.
//   - With no tokens configured, the node serves on loopback only, and
//     answers only requests whose Host is a loopback name (localhost,
//     *.localhost, 127.0.0.0/8, ::1): anything else gets 421, so a web
//     page cannot reach it by DNS rebinding. A request with more than one
//     Authorization header is refused with 400, never "first wins".
//   - /readyz means "serves reads": 200 while the store serves reads
//     (Store.Healthy), also on a full or read-only disk. Writability
//     (Store.Writable) is reported apart, in the body ("writable",
//     "write_reason") and as the gauge strata_writable. Data disks the
//     store took out of service after too many I/O errors are listed in
//     the body ("failed_disks") and counted by strata_failed_disks; the
//     node stays ready while another disk serves. A store with a Disks
//     method has each disk's health, usage and scrub state exported
//     (strata_disk_*, strata_scrub_*).
//   - A Server may start without a store (New with nil) and listen while
//     the store recovers: /healthz answers, /readyz and the blob routes
//     answer 503 "starting" until Attach.
//
// # systemd
//
// Notifier (systemd*.go) is the service-manager side of a Type=notify
// unit, read from NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID: Ready,
// Stopping, Status, ExtendTimeout. ExtendStartup extends the start timeout
// only while a StartupProgress (the block store's RecoveryProgress) moves,
// so a hung recovery still times out; RunWatchdog pings WATCHDOG=1 only on
// ticks whose liveness check (StoreLiveness: Healthy and an index lookup,
// bounded by a deadline even when the store ignores its context) passes,
// and never starts a second check while one hangs. Without NOTIFY_SOCKET
// all of it does nothing.
//
// # GET
//
// A GET with no Range and no precondition header (If-Match, If-None-Match,
// If-Modified-Since, If-Unmodified-Since) of a blob without a stored
// Content-Encoding is answered without http.ServeContent, with the answer
// it would give (200, the same headers; a test holds the two equal); every
// other GET and HEAD goes through it. Either way the bytes go from the
// object to the connection through Object.WriteRange when the object has
// it (tiering's hands over its RAM items themselves, uncopied), else
// through a pooled 64 KiB buffer. The headers are assigned under their
// canonical keys with one allocation for all values, and the blob route's
// metric series are resolved once, not looked up by label per request.
//
// # Lean GET
//
// With http.lean_get (the default) each blob listener's connections are
// read first by a lean HTTP/1.1 path (lean*.go, docs/lean-get.md): a plain
// GET or HEAD of a blob (HTTP/1.1, no Range, precondition, query or other
// header that could change the answer) whose checks pass and whose answer
// is a 200 is answered there, head and first bytes in one writev, with the
// bytes, headers (but Date), metrics, timeouts and shutdown of the
// net/http path (a test sends both the same raw requests). Anything else
// hands the connection, with the bytes read so far replayed, to the
// listener's http.Server for good.
//
// # X-Strata-Tier
//
// GET answers carry the tier that served the blob's bytes. The status line
// is held back until the first body byte has been read from the store,
// which is when the object knows its tier. HEAD carries the tier the GET
// it mirrors would (Object.Locate asks the tiers where the bytes are
// without reading them). Other answers without blob bytes (304, 412, 416,
// empty blobs) carry the tier the object named when opened, or "hdd" when
// it named none: their metadata then came from the blockstore's index.
//
// # Caveats
//
//   - There is no 411: a PUT without Content-Length is streamed as chunked
//     (size unknown to the store) and bounded by max_blob_size instead.
//   - Replication, membership and the internal replica routes are not here
//     yet; Store is the seam where they will go.
//   - Shutdown waits Config.ShutdownTimeout for in-flight requests, then
//     closes their connections; an upload cut off this way was never
//     acknowledged, so the client retries it.
package node
