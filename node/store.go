package node

import (
	"context"
	"io"
	"time"

	"strata/blockstore"
)

// Store is what the HTTP layer consumes: the local tiered store today, a
// replication coordinator in front of it later. Every method that may wait
// takes a context; errors wrap the blockstore sentinels (ErrNotFound,
// ErrInvalidKey, ErrTooLarge, ErrNoSpace, ErrReadOnly, ErrCorrupt,
// ErrSizeMismatch, ErrClosed) so the node can map them to HTTP statuses.
type Store interface {
	// Put streams r (size -1 when unknown) and returns only after the blob is
	// durable. On error nothing is visible.
	Put(ctx context.Context, key string, r io.Reader, size int64, opts blockstore.PutOptions) (blockstore.Info, error)
	// Stat returns the metadata of the live blob under key.
	Stat(ctx context.Context, key string) (blockstore.Info, error)
	// Open returns a reader over exactly one version of the blob.
	Open(ctx context.Context, key string) (Object, error)
	// Delete removes the blob; ErrNotFound when there is none.
	Delete(ctx context.Context, key string, opts blockstore.DeleteOptions) error
	// List returns up to limit blobs whose keys start with prefix and sort
	// after startAfter, in key order.
	List(ctx context.Context, prefix, startAfter string, limit int) ([]blockstore.Info, error)
	// Healthy is nil while the store serves reads: readiness. A full or
	// read-only disk does not make it fail (Writable says that).
	Healthy() error
	// Writable is nil while the store accepts new blobs; otherwise it
	// wraps ErrNoSpace or ErrReadOnly. Reported in the /readyz body and as
	// strata_writable, never as unreadiness.
	Writable() error
	// Stats reports per-tier cache counters for /metrics.
	Stats() []TierStats
	// Devices reports per-device I/O counters for /metrics.
	Devices() []DeviceStats
}

// Composer is implemented by stores that can make one blob out of others
// without copying their bytes (S3 multipart completion).
type Composer interface {
	// Compose makes key a new blob whose content is the contents of parts,
	// in order, and removes the part blobs, in one durable step: on return
	// the new blob is durable (on W replicas in a cluster) and no part key is
	// visible; on error nothing changed. No content byte is copied: the new
	// blob refers to the parts' stored chunks. Errors wrap ErrNotFound (a part
	// is missing; the message names it), ErrInvalidKey, ErrInvalidArgument
	// (no parts, a part listed twice), ErrTooLarge, ErrNoSpace, ErrReadOnly
	// or ErrClosed.
	Compose(ctx context.Context, key string, parts []string, opts blockstore.ComposeOptions) (blockstore.Info, error)
}

// Object is one version of a blob opened for reading. Reads never return
// bytes that failed their checksum: they fail (wrapping ErrCorrupt) instead.
type Object interface {
	io.ReadSeeker
	io.ReaderAt
	// Info is the metadata of the opened version.
	Info() blockstore.Info
	// Tier names the slowest tier that served bytes so far ("ram", "ssd",
	// "hdd", "peer"), or what the open itself consulted; "" when unknown.
	Tier() string
	// Locate names the tier Tier would name after a read of the whole
	// blob, without reading it or counting an access: HEAD reports it, so
	// it carries the X-Strata-Tier of the GET it mirrors. "" when unknown.
	Locate() string
	Close() error
}

// TierStats is one cache tier's counters, as exported on /metrics.
type TierStats struct {
	Tier          string // "ram", "ssd", "hdd"
	Hits          uint64 // reads answered by this tier
	Misses        uint64 // reads this tier could not answer
	Admissions    uint64 // items admitted into this tier
	Rejections    uint64 // items the admission policy refused
	Evictions     uint64 // items evicted
	Items         int64  // items held now
	Bytes         int64  // bytes held now
	CapacityBytes int64  // configured capacity; 0 = unbounded or off
	ReadLatency   Latency
}

// DeviceStats is one device's I/O counters, as exported on /metrics.
type DeviceStats struct {
	Name     string
	Dir      string
	Direct   bool
	InFlight int
	Queued   int
	Classes  []DeviceClassStats
	// SyncLatency is every fdatasync's latency on the device, all
	// classes together (strata_fsync_duration_seconds).
	SyncLatency Latency
}

// DeviceClassStats counts one I/O class ("read", "write", "background") on a device.
type DeviceClassStats struct {
	Class                                                       string
	ReadOps, ReadBytes, WriteOps, WriteBytes, SyncOps, OtherOps uint64
	Errors                                                      uint64
	Latency                                                     Latency // call to return, queue wait included
	QueueWait                                                   Latency // waits for a device slot (only those that waited)
}

// StoreStats are the store's own counters, as exported on /metrics. A Store
// that has them reports them with a StoreStats() StoreStats method (see
// storeStatsReporter); the others export none.
type StoreStats struct {
	CorruptRecords      uint64 // records that failed a checksum, on read or in recovery
	WriteErrors         uint64 // failed volume writes and fdatasyncs (each retires a volume)
	TornTails           uint64 // unacknowledged writes recovery found torn (not corruption)
	IndexErrors         uint64 // failed index commit attempts
	PendingIndexEntries int    // durable, readable, not yet committed to the index
	CoalescedReads      uint64 // reads that shared another reader's backend read
	// GroupCommits is the group commits (one pwrite and one fdatasync
	// each) of the HDD tier; GroupRecords the records they carried, so
	// GroupRecords/GroupCommits is the records per fdatasync.
	GroupCommits, GroupRecords uint64
	// Disks is the HDD tier's space per data directory, as garbage
	// accounting sees it; Compaction what compaction did since start.
	Disks      []DiskSpace
	Compaction CompactionStats
	// SSD is the SSD cache's writes against its budget (zero when off).
	SSD SSDWrites
	// Fills is how the caches are filled off the request path.
	Fills CacheFills
}

// CacheFills counts the tiered store's cache fills and write-through
// decisions (tiering.FillStats, WriteThroughStats) and the SSD cache's
// yielding to foreground reads.
type CacheFills struct {
	Applied, DroppedFull, DroppedStale                         uint64
	WriteThroughAdmitted, WriteThroughSkipped, WriteThroughBig uint64
	WriteThroughPaced                                          uint64 // RAM had room, but uploads were being backed off
	SSDPacedWaits                                              uint64
	SSDPacedWaitSeconds                                        float64
}

// SSDWrites is what the SSD cache wrote and the budget it writes within.
type SSDWrites struct {
	Enabled                              bool
	BytesWritten                         uint64 // to the cache file, padding included
	BudgetBytesPerDay, BudgetBytesPerSec int64  // 0: no budget
	RejectedBudget                       uint64 // admissions refused because the budget was spent
}

// DiskSpace is one data directory's used bytes split into the records the
// index needs (live) and the rest (garbage: overwritten, deleted, padding).
type DiskSpace struct {
	Device, Dir   string // the device label of DeviceStats, the data directory
	Live, Garbage int64
	GarbageRatio  float64
}

// CompactionStats counts compaction's work.
type CompactionStats struct {
	Passes, Volumes, TombstonesDropped uint64
	BytesCopied, BytesReclaimed        uint64
}

// Latency is a bucketed (not cumulative) latency histogram: Counts[i] counts
// observations <= Bounds[i] (and > Bounds[i-1]); the last count is +Inf.
type Latency struct {
	Bounds []time.Duration
	Counts []uint64 // len(Bounds)+1
	Sum    time.Duration
	Count  uint64
}
