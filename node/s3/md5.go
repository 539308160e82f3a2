package s3

import (
	"crypto/md5"
	"hash"
	"sync"
	"sync/atomic"

	md5simd "github.com/minio/md5-simd"
)

// minMultiStream is how many MD5s must be in progress at once before a new
// one goes to the multi-stream hasher: with fewer, its lanes are mostly
// empty and crypto/md5 costs less CPU per byte (measured on AVX2: 1.7 ns/B
// for crypto/md5 at any count; multi-stream 2.6 ns/B alone, 1.45 at 4,
// 0.77 at 8, 0.59 at 16 streams; BenchmarkMD5Hashes).
const minMultiStream = 4

// MD5Hashes hands out the MD5 hashes behind S3 ETags, for the store
// (blockstore.Options.NewMD5): crypto/md5 while few are in progress,
// md5-simd's multi-stream hashing (up to 8 streams per core with AVX2, 16
// with AVX-512, on one server goroutine) once minMultiStream are, which is
// what a busy S3 endpoint has. Both give the same digest. Hashing on the
// server goroutine also takes the MD5 off the request's goroutine: the
// body is hashed while the store reads on.
//
// The zero value is not usable: NewMD5Hashes. Close it after the store that
// uses it is closed.
type MD5Hashes struct {
	live atomic.Int64 // hashes made and not closed

	mu     sync.Mutex
	srv    md5simd.Server // started by the first multi-stream hash
	closed bool
}

// NewMD5Hashes returns a hash source; it starts no goroutine until a
// multi-stream hash is asked for.
func NewMD5Hashes() *MD5Hashes { return &MD5Hashes{} }

// New returns an MD5 hash; the caller calls its Close method once done
// (blockstore does).
func (m *MD5Hashes) New() hash.Hash {
	m.live.Add(1)
	if m.live.Load() >= minMultiStream {
		if srv := m.server(); srv != nil {
			return &countedMD5{Hash: srv.NewHash(), m: m}
		}
	}
	return &countedMD5{Hash: md5.New(), m: m}
}

// server is the multi-stream server, started on first use; nil once closed.
func (m *MD5Hashes) server() md5simd.Server {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	if m.srv == nil {
		m.srv = md5simd.NewServer()
	}
	return m.srv
}

// InProgress is how many hashes are made and not closed.
func (m *MD5Hashes) InProgress() int { return int(m.live.Load()) }

// Close stops the multi-stream server; hashes made afterwards are
// crypto/md5. No multi-stream hash may be in use.
func (m *MD5Hashes) Close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.srv != nil {
		m.srv.Close()
		m.srv = nil
	}
	m.closed = true
}

// countedMD5 is a hash of m's: Close releases it (a multi-stream hash's
// lane) and counts it out, once.
type countedMD5 struct {
	hash.Hash
	m    *MD5Hashes
	done bool
}

func (h *countedMD5) Close() {
	if h.done {
		return
	}
	h.done = true
	if c, ok := h.Hash.(interface{ Close() }); ok {
		c.Close()
	}
	h.m.live.Add(-1)
}
