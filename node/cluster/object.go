package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"strata/blockstore"
	"strata/internal/seek"
	"strata/node"
	"strata/node/membership"
	"strata/node/replication"
)

// Remote reads go in windows: each OpenRange asks for the next window, so
// a short Range read costs one small request on the peer (it reads only
// the blocks it sends), and a long sequential read doubles the window up
// to the chunk size, keeping requests few.
const (
	firstWindow = 128 << 10
	maxWindow   = 8 << 20
)

// object is one version of a blob read through the cluster: from this
// node's copy or from a peer's, by ranges, and on a failure (a checksum
// failure, a replica that moved to another version, a connection cut)
// from the next holder of the same version at the same offset, so the
// reader sees either the right bytes or an error, never bad bytes.
type object struct {
	c    *Cluster
	ctx  context.Context
	key  string
	self string
	info blockstore.Info

	mu      sync.Mutex
	holders []membership.Member // holders[0] is the one read from
	spare   []membership.Member // homes not asked yet
	local   node.Object         // open local copy, while holders[0] is this node
	lastErr error               // why the previous holder was dropped
	corrupt bool                // some holder failed a checksum

	stream     io.ReadCloser // open remote window
	streamPos  int64         // offset the stream reads next
	streamEnd  int64         // end of the stream's window
	lastEnd    int64         // where the previous window ended (sequential detection)
	window     int64
	servedPeer bool
	pos        int64 // Read/Seek offset
	closed     bool
}

// openObject opens plan's version: the local copy at once when this node
// is the first holder (so a local failure moves on before any byte), a
// remote one lazily at the first read.
func (c *Cluster) openObject(ctx context.Context, key string, plan readPlan) (node.Object, error) {
	o := &object{
		c: c, ctx: ctx, key: key, self: c.currentView().self.ID, info: plan.info,
		holders: plan.holders, spare: plan.spare, window: firstWindow, lastEnd: -1,
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if err := o.prepare(); err != nil {
		return nil, err
	}
	return o, nil
}

func (o *object) Info() blockstore.Info { return o.info }

// Tier is "peer" once a peer served bytes (or when a peer will, before any
// read), else the local copy's tier.
func (o *object) Tier() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.servedPeer || o.local == nil {
		return "peer"
	}
	return o.local.Tier()
}

// Locate is the tier a whole read would report, without reading.
func (o *object) Locate() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.local == nil {
		return "peer"
	}
	return o.local.Locate()
}

func (o *object) Read(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.pos >= o.info.Size {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), o.info.Size-o.pos)]
	if len(p) == 0 {
		return 0, nil
	}
	n, err := o.readSome(p, o.pos)
	o.pos += int64(n)
	return n, err
}

func (o *object) ReadAt(p []byte, off int64) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if off < 0 {
		return 0, fmt.Errorf("cluster: read %q at negative offset %d", o.key, off)
	}
	want := p
	if off >= o.info.Size {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), o.info.Size-off)]
	done := 0
	for done < len(p) {
		n, err := o.readSome(p[done:], off+int64(done))
		done += n
		if err != nil {
			return done, err
		}
	}
	if done < len(want) {
		return done, io.EOF
	}
	return done, nil
}

func (o *object) Seek(offset int64, whence int) (int64, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	abs, err := seek.Resolve(offset, whence, o.pos, o.info.Size)
	if err != nil {
		return 0, err
	}
	o.pos = abs
	return abs, nil
}

func (o *object) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return nil
	}
	o.closed = true
	o.closeStream()
	if o.local != nil {
		err := o.local.Close()
		o.local = nil
		return err
	}
	return nil
}

// readSome reads at least one byte of p at off from the current holder,
// moving to the next holder (same version, same offset) as long as one
// fails before giving any byte. Bytes given along with an error are good
// (the sources never return bytes that failed their checksum); the error
// comes back at the next read from that holder.
func (o *object) readSome(p []byte, off int64) (int, error) {
	if o.closed {
		return 0, fmt.Errorf("cluster: read of %q after Close", o.key)
	}
	for {
		if err := o.prepare(); err != nil {
			return 0, err
		}
		n, err := o.readCurrent(p, off)
		if n > 0 || err == nil {
			if err != nil {
				o.closeStream()
			}
			return n, nil
		}
		if ctxErr := o.ctx.Err(); ctxErr != nil {
			return 0, err
		}
		o.drop(err)
	}
}

// prepare makes holders[0] ready to read (opening the local copy when it
// is this node), dropping holders that cannot be, and looking the spare
// homes up when none is left. It fails when no home can serve the version.
func (o *object) prepare() error {
	for {
		if len(o.holders) == 0 {
			if len(o.spare) == 0 {
				return o.exhausted()
			}
			_, o.holders = o.c.lookupSpare(o.ctx, o.self, o.key, o.info.Version, o.spare)
			o.spare = nil
			continue
		}
		if o.holders[0].ID != o.self || o.local != nil {
			return nil
		}
		obj, err := o.c.opts.Local.Open(o.ctx, o.key)
		if err == nil && obj.Info().Version != o.info.Version {
			obj.Close()
			err = fmt.Errorf("cluster: local copy of %q is at version %d, not %d: %w", o.key, obj.Info().Version, o.info.Version, replication.ErrVersionGone)
		}
		if err != nil {
			if o.ctx.Err() != nil {
				return err
			}
			o.drop(err)
			continue
		}
		o.local = obj
	}
}

// exhausted is the error once every holder failed: corrupt when a copy
// failed its checksum, else no quorum (retry later).
func (o *object) exhausted() error {
	if o.corrupt {
		return fmt.Errorf("cluster: %q version %d: %w on every home that holds it (last: %v)", o.key, o.info.Version, blockstore.ErrCorrupt, o.lastErr)
	}
	return fmt.Errorf("%w: %q version %d: no home could serve it (last: %v)", replication.ErrNoQuorum, o.key, o.info.Version, o.lastErr)
}

// drop gives up the current holder after err; a checksum failure sends it
// to read repair.
func (o *object) drop(err error) {
	h := o.holders[0]
	o.holders = o.holders[1:]
	o.lastErr = err
	o.closeStream()
	if o.local != nil && h.ID == o.self {
		o.local.Close()
		o.local = nil
	}
	if errors.Is(err, blockstore.ErrCorrupt) {
		o.corrupt = true
		o.c.repair(o.key, o.info.Version, []string{h.ID})
	}
	o.c.log.Debug("cluster: read moves to another replica", "key", o.key, "version", o.info.Version, "from", h.ID, "err", err)
}

// readCurrent reads from holders[0] into p at off (p ends at or before the
// blob's end).
func (o *object) readCurrent(p []byte, off int64) (int, error) {
	if o.local != nil {
		n, err := o.local.ReadAt(p, off)
		if n == len(p) {
			return n, nil // io.EOF exactly at the end is success
		}
		if err == nil || err == io.EOF {
			err = fmt.Errorf("cluster: local copy of %q ended at %d: %w", o.key, off+int64(n), io.ErrUnexpectedEOF)
		}
		return n, err
	}
	if o.stream == nil || o.streamPos != off {
		if err := o.openWindow(off, int64(len(p))); err != nil {
			return 0, err
		}
	}
	want := p[:min(int64(len(p)), o.streamEnd-o.streamPos)]
	n, err := io.ReadFull(o.stream, want)
	o.streamPos += int64(n)
	if n > 0 {
		o.servedPeer = true
	}
	if err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			err = fmt.Errorf("cluster: peer %s cut %q short at %d: %w", o.holders[0].ID, o.key, o.streamPos, io.ErrUnexpectedEOF)
		}
		return n, err
	}
	if o.streamPos == o.streamEnd {
		o.closeStream()
	}
	return n, nil
}

// openWindow opens a range of the current (remote) holder's copy at off:
// at least need bytes, the window when reading on from the last one
// (doubling), the first window size otherwise. The copy must be exactly
// the object's version.
func (o *object) openWindow(off, need int64) error {
	o.closeStream()
	if off == o.lastEnd {
		o.window = min(o.window*2, maxWindow)
	} else {
		o.window = firstWindow
	}
	length := min(max(need, o.window), o.info.Size-off)
	h := o.holders[0]
	rc, info, err := o.c.opts.Peer.OpenRange(o.ctx, h.HTTPAddr, o.key, o.info.Version, off, length)
	if err != nil {
		return err
	}
	if info.Version != o.info.Version {
		rc.Close()
		return fmt.Errorf("cluster: peer %s serves %q at version %d, not %d: %w", h.ID, o.key, info.Version, o.info.Version, replication.ErrVersionGone)
	}
	o.stream, o.streamPos, o.streamEnd = rc, off, off+length
	return nil
}

func (o *object) closeStream() {
	if o.stream != nil {
		o.stream.Close()
		o.lastEnd = o.streamEnd
		if o.streamPos != o.streamEnd {
			o.lastEnd = -1 // abandoned mid-window: not a sequential read
		}
		o.stream = nil
	}
}
