package blockstore

import (
	"sync"
	"time"
)

// Info describes one version of a blob. It also remembers where that
// version lies, so ReadChunk and NewReader read exactly it even after the
// key is overwritten.
type Info struct {
	Key         string
	Size        int64 // content bytes (uncompressed)
	Version     uint64
	ModTime     time.Time
	ContentType string
	Checksum    uint32 // CRC32C of the whole content
	ChunkSize   int64  // chunk size used when written
	// Meta is the metadata given to the Put or Compose (nil when none).
	Meta map[string]string
	// MD5 is the content's MD5 when the Put asked for it (PutOptions.WantMD5)
	// or the Compose gave one; nil otherwise.
	MD5 []byte

	loc     location
	chunked bool
	man     *manifestCache
}

// manifestCache holds the decoded manifest of a chunked blob, shared by the
// copies of one Info, so a reader reads the manifest once.
type manifestCache struct {
	mu sync.Mutex
	m  *manifest
}

// ETag is a strong validator that changes on every write of the key.
// It is the version in 16 hex digits, quoted; built without fmt, since
// every GET answers one.
func (i Info) ETag() string {
	const digits = "0123456789abcdef"
	var b [18]byte
	b[0], b[17] = '"', '"'
	for j, v := 16, i.Version; j >= 1; j, v = j-1, v>>4 {
		b[j] = digits[v&0xf]
	}
	return string(b[:])
}

// NumChunks is 1 for a single-record blob (and for size 0).
func (i Info) NumChunks() int {
	if i.Size <= i.ChunkSize || i.ChunkSize <= 0 {
		return 1
	}
	return int((i.Size + i.ChunkSize - 1) / i.ChunkSize)
}

// ChunkBounds is the content range [off, off+n) of chunk idx.
func (i Info) ChunkBounds(idx int) (off, n int64) {
	if i.ChunkSize <= 0 || i.NumChunks() == 1 {
		return 0, i.Size
	}
	off = int64(idx) * i.ChunkSize
	return off, max(0, min(i.ChunkSize, i.Size-off))
}
