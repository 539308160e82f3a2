package tiering

import (
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	"strata/ioengine"
)

// Options configures a Store. Zero values take the defaults noted.
type Options struct {
	// Backend is the HDD tier (a *blockstore.Store). Required. Store.Close
	// closes it if it has a Close method.
	Backend Backend

	// RAMCacheBytes bounds the RAM cache, overheads included. 0 turns it off.
	RAMCacheBytes int64
	// SSDCacheBytes is the size of the SSD cache file, rounded down to whole
	// regions. 0 turns the SSD tier off.
	SSDCacheBytes int64
	// SSDPath is the cache file (on the SSD). The index saved at clean
	// shutdown goes next to it, as SSDPath+".index".
	SSDPath string
	// FS is the filesystem for the cache file; nil means ioengine.OSFS().
	FS ioengine.FS
	// FileMode is the mode of the created cache file and its index
	// snapshot; default 0600 (0640 lets a group read them).
	FileMode fs.FileMode

	// RegionSize is the SSD cache's unit of writing and reclaiming;
	// default 16 MiB. A multiple of 64 KiB.
	RegionSize int64
	// RAMMaxItemBytes: blobs above it are not cached whole but as segments
	// of this size (when the backend's chunk size allows); default 1 MiB.
	RAMMaxItemBytes int64
	// SSDMaxItemBytes: items of blobs larger than this are never written to
	// the SSD (large sequential reads); default 4 MiB.
	SSDMaxItemBytes int64
	// SSDWriteBytesPerDay and SSDWriteBytesPerSec bound SSD cache writes;
	// 0 means unlimited.
	SSDWriteBytesPerDay int64
	SSDWriteBytesPerSec int64

	// SSDRegionBuffers is the number of region-sized RAM buffers of the SSD
	// cache (fill, flushing, reclaim); default 4. They are not part of
	// RAMCacheBytes.
	SSDRegionBuffers int
	// SSDAdmitQueueBytes bounds items waiting to be copied to the SSD
	// region buffer; beyond it offers are dropped. Default 2 regions.
	SSDAdmitQueueBytes int64
	// FillQueueBytes bounds the bytes of missed reads waiting to be copied
	// into the caches by the background filler (a reader never copies);
	// beyond it fills are dropped and counted. Default 8 MiB (plus at most
	// one chunk: a chunk larger than the bound is taken when the queue is
	// empty).
	FillQueueBytes int64
	// SSDPacing: when the SSD cache's writes and reclaim reads yield to
	// the backend's reads (while reads run, they spend at most 1/32 of the
	// bytes read; idle, full speed). Default SSDPaceAuto: when the cache
	// file shares a file system with a backend directory.
	SSDPacing SSDPacing
	// SSDMaxInFlight bounds concurrent I/O on the cache device; default 32.
	SSDMaxInFlight int
	// AdmitWindow: the frequency sketch halves its counts at least this
	// often; default 1 hour.
	AdmitWindow time.Duration
	// SSDRebuildTime bounds the rebuild of the SSD cache's index from its
	// regions when no index was saved (after a crash): Open scans the
	// newest regions first and stops after this long, leaving the older
	// ones free. Default 30 s; negative: no rebuild, a crash starts cold.
	SSDRebuildTime time.Duration

	// UploadsBackedOff, when set, is asked at each Put: true while
	// uploads are being held back so that reads stay fast (the node: its
	// pacing controller is limiting them). Then a Put writes through to
	// RAM only a version that replaces one being read, not one that
	// merely finds free room (writeadmit.go): the copy costs the CPU the
	// reads are short of, and RAM is for what is read.
	UploadsBackedOff func() bool

	Logger *slog.Logger
	// Now is the clock for the write budget and sketch; nil means time.Now.
	Now func() time.Time
}

const (
	defaultRegionSize      = 16 << 20
	defaultRAMMaxItemBytes = 1 << 20
	defaultSSDMaxItemBytes = 4 << 20
	defaultRegionBuffers   = 4
	defaultAdmitWindow     = time.Hour
	defaultFillQueueBytes  = 8 << 20
)

// DefaultSSDRebuildTime is SSDRebuildTime's default.
const DefaultSSDRebuildTime = 30 * time.Second

func (o Options) withDefaults() (Options, error) {
	if o.Backend == nil {
		return o, ErrNoBackend
	}
	if o.RAMCacheBytes < 0 || o.SSDCacheBytes < 0 || o.RegionSize < 0 || o.RAMMaxItemBytes < 0 ||
		o.SSDMaxItemBytes < 0 || o.SSDWriteBytesPerDay < 0 || o.SSDWriteBytesPerSec < 0 || o.FillQueueBytes < 0 {
		return o, fmt.Errorf("%w: negative size", ErrBadOptions)
	}
	if o.FS == nil {
		o.FS = ioengine.OSFS()
	}
	if o.FileMode == 0 {
		o.FileMode = ioengine.DefaultPerm
	}
	if o.FileMode&^fs.ModePerm != 0 {
		return o, fmt.Errorf("%w: file mode %v has more than permission bits", ErrBadOptions, o.FileMode)
	}
	o = o.sizeDefaults()
	if o.RegionSize%(64<<10) != 0 || o.RegionSize/ssdUnit(o.RegionSize) > maxUnitsPerRegion {
		return o, fmt.Errorf("%w: region size %d is not a multiple of 64 KiB", ErrBadOptions, o.RegionSize)
	}
	if o.SSDRegionBuffers < 3 {
		return o, fmt.Errorf("%w: at least 3 SSD region buffers", ErrBadOptions)
	}
	if o.AdmitWindow == 0 {
		o.AdmitWindow = defaultAdmitWindow
	}
	if o.SSDRebuildTime == 0 {
		o.SSDRebuildTime = DefaultSSDRebuildTime
	}
	if o.SSDCacheBytes > 0 && o.SSDPath == "" {
		return o, fmt.Errorf("%w: SSDCacheBytes set without SSDPath", ErrBadOptions)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o, nil
}

// sizeDefaults fills in the defaults of the sizes (unchecked), which
// MemoryBytes needs as much as Open.
func (o Options) sizeDefaults() Options {
	if o.RegionSize == 0 {
		o.RegionSize = defaultRegionSize
	}
	if o.RAMMaxItemBytes == 0 {
		o.RAMMaxItemBytes = defaultRAMMaxItemBytes
	}
	if o.SSDMaxItemBytes == 0 {
		o.SSDMaxItemBytes = defaultSSDMaxItemBytes
	}
	if o.SSDRegionBuffers == 0 {
		o.SSDRegionBuffers = defaultRegionBuffers
	}
	if o.SSDAdmitQueueBytes == 0 {
		o.SSDAdmitQueueBytes = 2 * o.RegionSize
	}
	if o.FillQueueBytes == 0 {
		o.FillQueueBytes = defaultFillQueueBytes
	}
	return o
}
