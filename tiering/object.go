package tiering

import (
	"context"
	"fmt"
	"io"
	"sync"

	"strata/blockstore"
	"strata/internal/seek"
)

// Object is one version of a blob opened for reading: io.ReadSeeker and
// io.ReaderAt over its segments, reading only the segments it touches.
// Reads never return bytes that failed a checksum. Safe for concurrent
// ReadAt; Read and Seek share one position.
type Object struct {
	s    *Store
	ctx  context.Context
	info blockstore.Info
	lay  layout

	mu     sync.Mutex
	pos    int64
	buf    []byte // last bytes fetched (a segment, or a chunk from the backend)
	bufOff int64  // blob offset of buf[0]
	tier   Tier
	closed bool
	read   bool // the first fetch counted this open as one access of the object
}

// Info is the metadata of the opened version.
func (o *Object) Info() blockstore.Info { return o.info }

// Tier names the slowest tier that served bytes so far: "ram", "ssd" or
// "hdd"; "" before any read.
func (o *Object) Tier() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return string(o.tier)
}

// ReadAt reads len(p) bytes at off, as io.ReaderAt.
func (o *Object) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errNegativeOffset
	}
	n := 0
	for n < len(p) {
		pos := off + int64(n)
		if pos >= o.info.Size {
			break
		}
		b, bOff, err := o.bytesAt(pos, int64(len(p)-n))
		if err != nil {
			return n, err
		}
		n += copy(p[n:], b[pos-bOff:])
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// bytesAt returns a buffer holding pos, fetching its segment if needed (or
// only the want bytes there: rangeread.go).
func (o *Object) bytesAt(pos, want int64) ([]byte, int64, error) {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return nil, 0, ErrClosed
	}
	if pos >= o.bufOff && pos < o.bufOff+int64(len(o.buf)) {
		b, off := o.buf, o.bufOff
		o.mu.Unlock()
		return b, off, nil
	}
	first := !o.read
	o.read = true
	seq := o.buf != nil && pos == o.bufOff+int64(len(o.buf))
	o.mu.Unlock()
	if first && o.s.ssd != nil {
		o.s.adm.recordAccess(objectHash(o.info.Key, o.info.Version, o.info.Checksum), o.info.Size)
	}
	data, off, tier, err := o.s.rangeOrFetch(o.ctx, o.info, o.lay, pos, want, seq)
	o.mu.Lock()
	defer o.mu.Unlock()
	if tier.rank() > o.tier.rank() {
		o.tier = tier
	}
	if err != nil {
		return nil, 0, err
	}
	if pos < off || pos >= off+int64(len(data)) {
		return nil, 0, fmt.Errorf("tiering: fetched [%d,%d) of %q does not hold offset %d: %w", off, off+int64(len(data)), o.info.Key, pos, blockstore.ErrCorrupt)
	}
	o.buf, o.bufOff = data, off
	return data, off, nil
}

// Read reads from the current position, as io.Reader.
func (o *Object) Read(p []byte) (int, error) {
	o.mu.Lock()
	pos := o.pos
	o.mu.Unlock()
	if pos >= o.info.Size {
		return 0, io.EOF
	}
	n, err := o.ReadAt(p, pos)
	o.mu.Lock()
	o.pos = pos + int64(n)
	o.mu.Unlock()
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

// Seek sets the position, as io.Seeker.
func (o *Object) Seek(offset int64, whence int) (int64, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	abs, err := seek.Resolve(offset, whence, o.pos, o.info.Size)
	if err != nil {
		return 0, err
	}
	o.pos = abs
	return abs, nil
}

// Close releases the object's buffer. Later reads return ErrClosed.
func (o *Object) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return ErrClosed
	}
	o.closed, o.buf = true, nil
	return nil
}
