package tiering

import (
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"time"
)

// SSDPacing says when the SSD cache's own I/O (region writes, reclaim
// reads) yields to the backend's foreground reads.
type SSDPacing uint8

const (
	// SSDPaceAuto paces when the cache file is on the same file system
	// (device) as one of the backend's directories: there every SSD
	// cache write takes the data disk's bandwidth from readers.
	SSDPaceAuto SSDPacing = iota
	// SSDPaceAlways paces whatever the devices.
	SSDPaceAlways
	// SSDPaceNever never paces: the SSD is a device of its own.
	SSDPaceNever
)

// ssdPaceShareShift sets the share of foreground read bytes the SSD cache
// may spend while reads are running: 1/32. Idle, it writes at full speed.
// A cache on the data disk saves no device time, so it gets little more
// than the idle time the readers leave.
const ssdPaceShareShift = 5

// ssdPaceBurst caps the credit saved up while reads run, so a long read
// burst cannot bank a write burst that then lands on the next reads.
const ssdPaceBurst = 2 * ssdWritePiece

// ssdPacePoll is how often a paced SSD writer looks again for credit or
// an idle disk.
const ssdPacePoll = time.Millisecond

// foreground is the Store's view of its backend reads, which the SSD
// cache's pacer watches. Lock-free: readers only add.
type foreground struct {
	inFlight atomic.Int64 // backend reads running now
	reads    atomic.Uint64
	credit   atomic.Int64 // bytes of SSD I/O earned by foreground reads
}

// begin and end bracket one backend read of n bytes; end earns the SSD
// cache its share of them.
func (f *foreground) begin() { f.inFlight.Add(1) }

func (f *foreground) end(n int) {
	f.reads.Add(1)
	f.inFlight.Add(-1)
	if c := f.credit.Add(int64(n) >> ssdPaceShareShift); c > ssdPaceBurst {
		f.credit.Store(ssdPaceBurst)
	}
}

// pacer makes the SSD cache's I/O yield to foreground reads: an n-byte
// write or reclaim read goes at once when no foreground read ran since the
// last look (the disk is idle), otherwise only on credit, 1/32 of the bytes
// the foreground read meanwhile; until then it waits, and the region
// buffers it holds fill, so admissions are dropped (counted as
// DroppedNoRegion) rather than queued behind the reads.
type ssdPacer struct {
	fg      *foreground
	waits   atomic.Uint64 // I/Os that had to wait
	waitNs  atomic.Int64  // time they waited
	lastRds uint64        // fg.reads at the last look (writer goroutine only)
}

// ready reports whether an n-byte SSD I/O may go now, taking its credit
// if it goes on credit. It is the decision without the waiting.
func (p *ssdPacer) ready(n int64) bool {
	reads := p.fg.reads.Load()
	idle := p.fg.inFlight.Load() == 0 && reads == p.lastRds
	p.lastRds = reads
	if idle {
		return true
	}
	for {
		c := p.fg.credit.Load()
		if c < n {
			return false
		}
		if p.fg.credit.CompareAndSwap(c, c-n) {
			return true
		}
	}
}

// wait blocks until an n-byte SSD I/O may go (see ready) or ctx or stop
// ends. A nil pacer never waits.
func (p *ssdPacer) wait(ctx context.Context, stop <-chan struct{}, n int64) {
	if p == nil || p.ready(n) {
		return
	}
	start := time.Now()
	p.waits.Add(1)
	t := time.NewTicker(ssdPacePoll)
	defer t.Stop()
	for !p.ready(n) {
		select {
		case <-ctx.Done():
			return
		case <-stop:
			return
		case <-t.C:
		}
	}
	p.waitNs.Add(int64(time.Since(start)))
}

// sameDevice reports whether path a and any of paths bs are on one file
// system (st_dev), following each up to its nearest existing parent.
// Unknown (no stat): false.
func sameDevice(a string, bs []string) bool {
	da, ok := deviceOf(a)
	if !ok {
		return false
	}
	for _, b := range bs {
		if db, ok := deviceOf(b); ok && db == da {
			return true
		}
	}
	return false
}

func deviceOf(p string) (uint64, bool) {
	for p != "" {
		if fi, err := os.Stat(p); err == nil {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok {
				return uint64(st.Dev), true
			}
			return 0, false
		}
		parent := filepath.Dir(p)
		if parent == p {
			break
		}
		p = parent
	}
	return 0, false
}
