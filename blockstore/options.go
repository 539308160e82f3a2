package blockstore

import (
	"context"
	"crypto/md5"
	"encoding/binary"
	"fmt"
	"hash"
	"io/fs"
	"log/slog"
	"strings"
	"time"
	"unicode"

	"github.com/klauspost/compress/s2"

	"strata/ioengine"
)

// Codec selects per-record compression.
type Codec int

const (
	// CodecDefault is S2.
	CodecDefault Codec = iota
	// CodecNone stores payloads as they are.
	CodecNone
	// CodecS2 compresses with S2, kept only when it saves at least 12.5%.
	CodecS2
)

// Defaults.
const (
	DefaultVolumeSize    = 4 << 30
	DefaultChunkSize     = 8 << 20
	DefaultMaxBlobSize   = 5 << 30
	DefaultMaxBatchBytes = 4 << 20
	DefaultIndexMmapSize = 1 << 30
	// DefaultMaxQueueBytes bounds the records waiting in one disk's
	// appender queue.
	DefaultMaxQueueBytes = 64 << 20
	// DefaultIndexQueueLimit is how many index updates may wait for bbolt
	// before writers (and a rebuild's scan) are held back.
	DefaultIndexQueueLimit = 1 << 20
	// DefaultFileMode is the mode of the files the store creates.
	DefaultFileMode = ioengine.DefaultPerm
)

// Options configures Open. Zero values take the defaults.
type Options struct {
	FS            ioengine.FS // nil: ioengine.OSFS()
	DataDirs      []string    // one per HDD; each becomes an ioengine.Device
	IndexDir      string      // where index.db lives (the SSD); default DataDirs[0]
	VolumeSize    int64       // preallocated volume file size; default 4 GiB
	ChunkSize     int64       // blobs above this are chunked; default 8 MiB
	MaxBlobSize   int64       // default 5 GiB
	MaxBatchBytes int         // group commit cap (framing may add 1/256); default 4 MiB
	Compression   Codec       // default S2
	Logger        *slog.Logger
	Now           func() time.Time
	MaxInFlight   int // per device queue depth; default ioengine's
	// IndexMmapSize is bbolt's initial mmap size (address space, not
	// memory); large avoids remaps that stall readers. Default 1 GiB.
	IndexMmapSize int
	// IndexFS does the directory work around index.db (create, lock,
	// fsync, move a bad file aside). bbolt itself always opens the real
	// file, so this must be the real filesystem or a wrapper of it; nil:
	// ioengine.OSFS().
	IndexFS ioengine.FS
	// NodeID names this node in the identity file of every data
	// directory. Empty: the id the index already holds, else the one in
	// the data directories' identity files, else a new random one; it is
	// kept in the index. A NodeID that differs from the index's is refused.
	NodeID string
	// FileMode is the mode of created volume, identity and index files;
	// default 0600 (0640 lets a group read them).
	FileMode fs.FileMode
	// MaxQueueBytes bounds the record bytes waiting in each disk's
	// appender queue; a writer waits (honouring its context) for room. A
	// record larger than the bound waits for an empty queue and goes
	// alone. Default 64 MiB.
	MaxQueueBytes int64
	// IndexQueueLimit is how many index updates may wait for bbolt before
	// writers, and a rebuild's scan, are held back. Default 1<<20.
	IndexQueueLimit int
	// TombstoneReserve is the end of every volume that only deletes may
	// fill, so a full disk still takes deletes: puts get ErrNoSpace once
	// only the reserve is left. Default 4 MiB, or VolumeSize/16 for
	// volumes under 64 MiB; a multiple of 4096. About 1000 lone deletes
	// fit in 4 MiB (each is a 4 KiB group; concurrent ones share groups).
	// Compaction's copies do not use it (doc.go, # Durability).
	TombstoneReserve int64
	// SpaceReserve is free filesystem space on each data disk that new
	// puts may not use, so compaction can always make the volume its
	// copies go to on a disk that puts filled: a volume for puts is made
	// only while the disk has VolumeSize plus SpaceReserve free;
	// compaction's copies (and deletes) need VolumeSize. Default (0):
	// one VolumeSize; negative: none.
	SpaceReserve int64

	// Scrub and failed disks (scrub.go, diskhealth.go).

	// ScrubInterval starts a background scrub pass (every record of every
	// volume read and verified) this long after the previous complete pass
	// of a disk; a pass interrupted by a restart resumes at once. 0: no
	// background scrub (Scrub still runs a pass on demand).
	ScrubInterval time.Duration
	// ScrubBytesPerSec bounds each disk's scrub reads; default 8 MiB/s.
	ScrubBytesPerSec int64
	// OnCorrupt, when set, is called (from the scrub's goroutine, so it
	// should hand off rather than block) with each key whose current
	// version a scrub found corrupt: a cluster rewrites it from a replica
	// at that version, which replaces the corrupt entry.
	OnCorrupt func(key string, version uint64)
	// DiskErrorThreshold is how many I/O errors (failed reads, writes,
	// fdatasyncs, volume creations; not ENOSPC) mark a disk failed until
	// the store is reopened. Default 10; negative: never.
	DiskErrorThreshold int

	// Compaction (compact.go). CompactThreshold is the garbage ratio at
	// which a sealed volume is compacted, in (0, 1]; default 0.5.
	// CompactBytesPerSec bounds the bytes a pass reads and copies
	// together; default 8 MiB/s (faster took half the puts' throughput on
	// a disk of about 60 MB/s of synced writes), negative: unlimited. CompactInterval runs a pass that
	// often in the background; 0 (the default) never: call Compact.
	CompactThreshold   float64
	CompactBytesPerSec int64
	CompactInterval    time.Duration
	// TombstoneGrace is how long a tombstone is kept at least, by its
	// version's time (version>>16 ms); default 10 days. Compaction drops
	// an older tombstone only when TombstoneDroppable (nil: always) agrees
	// and no older record of its key can resurface (see doc.go).
	TombstoneGrace     time.Duration
	TombstoneDroppable func(ctx context.Context, e Entry) bool

	// RecoveryProgress, when set, is called while Open recovers (and
	// while Check verifies) with the size of each volume read its scan
	// issues, so a caller can tell a long recovery that advances from one
	// that hangs (serve extends systemd's start timeout only while it
	// advances). Called from the scanning goroutine: it must not block.
	RecoveryProgress func(bytes int64)

	// ManifestCacheBytes bounds the cache of decoded manifests of chunked
	// blobs (manifestcache.go), so reads of a large blob do not read its
	// manifest for every request. 0: DefaultManifestCacheBytes; negative:
	// no cache.
	ManifestCacheBytes int64

	// NewMD5, when set, makes the MD5 hash of each Put that asks for one
	// (PutOptions.WantMD5); nil: crypto/md5. A caller may hand out another
	// implementation (tests; a faster one) without the store depending on
	// it. (md5-simd's multi-stream hashing was measured through serve: it
	// took more CPU per byte than crypto/md5, its lanes mostly empty.) The
	// store writes to the hash, calls Sum once, then Close when the hash
	// has a Close method, also when the Put fails.
	NewMD5 func() hash.Hash
}

// DefaultManifestCacheBytes holds the manifests of about a hundred 1 GiB
// blobs.
const DefaultManifestCacheBytes = 8 << 20

// Compaction defaults.
const (
	DefaultCompactThreshold   = 0.5
	DefaultCompactBytesPerSec = 8 << 20
	DefaultTombstoneGrace     = 10 * 24 * time.Hour
)

// spaceReserve is SpaceReserve with its default applied.
func (o *Options) spaceReserve() int64 {
	switch {
	case o.SpaceReserve < 0:
		return 0
	case o.SpaceReserve == 0:
		return o.VolumeSize
	}
	return o.SpaceReserve
}

// DefaultTombstoneReserve is the reserve of volumes of 64 MiB and more.
const DefaultTombstoneReserve = 4 << 20

// Scrub and disk health defaults.
const (
	DefaultScrubBytesPerSec   = 8 << 20
	DefaultDiskErrorThreshold = 10
)

func (o *Options) normalize() error {
	if o.FS == nil {
		o.FS = ioengine.OSFS()
	}
	if o.NewMD5 == nil {
		o.NewMD5 = md5.New
	}
	if len(o.DataDirs) == 0 {
		return fmt.Errorf("%w: no data directories", ErrInvalidArgument)
	}
	if o.IndexDir == "" {
		o.IndexDir = o.DataDirs[0]
	}
	if o.VolumeSize == 0 {
		o.VolumeSize = DefaultVolumeSize
	}
	if o.ManifestCacheBytes == 0 {
		o.ManifestCacheBytes = DefaultManifestCacheBytes
	}
	if o.ChunkSize == 0 {
		o.ChunkSize = DefaultChunkSize
	}
	if o.MaxBlobSize == 0 {
		o.MaxBlobSize = DefaultMaxBlobSize
	}
	if o.MaxBatchBytes == 0 {
		o.MaxBatchBytes = DefaultMaxBatchBytes
	}
	if o.IndexMmapSize == 0 {
		o.IndexMmapSize = DefaultIndexMmapSize
	}
	if o.IndexFS == nil {
		o.IndexFS = ioengine.OSFS()
	}
	if o.FileMode == 0 {
		o.FileMode = DefaultFileMode
	}
	if o.MaxQueueBytes == 0 {
		o.MaxQueueBytes = DefaultMaxQueueBytes
	}
	if o.IndexQueueLimit == 0 {
		o.IndexQueueLimit = DefaultIndexQueueLimit
	}
	if o.TombstoneReserve == 0 {
		o.TombstoneReserve = defaultTombstoneReserve(o.VolumeSize)
	}
	if o.ScrubBytesPerSec == 0 {
		o.ScrubBytesPerSec = DefaultScrubBytesPerSec
	}
	if o.DiskErrorThreshold == 0 {
		o.DiskErrorThreshold = DefaultDiskErrorThreshold
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.CompactThreshold == 0 {
		o.CompactThreshold = DefaultCompactThreshold
	}
	if o.CompactBytesPerSec == 0 {
		o.CompactBytesPerSec = DefaultCompactBytesPerSec
	}
	if o.TombstoneGrace == 0 {
		o.TombstoneGrace = DefaultTombstoneGrace
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	switch {
	case o.ChunkSize < 4096 || o.ChunkSize > maxRecordPayload/2:
		return fmt.Errorf("%w: chunk size %d outside [4096, %d]", ErrInvalidArgument, o.ChunkSize, maxRecordPayload/2)
	case o.MaxBlobSize < 0:
		return fmt.Errorf("%w: max blob size %d", ErrInvalidArgument, o.MaxBlobSize)
	case o.MaxBatchBytes < 64<<10:
		return fmt.Errorf("%w: max batch bytes %d below 64 KiB", ErrInvalidArgument, o.MaxBatchBytes)
	case o.VolumeSize%formatAlign != 0:
		return fmt.Errorf("%w: volume size %d not a multiple of %d", ErrInvalidArgument, o.VolumeSize, formatAlign)
	case o.FileMode&^fs.ModePerm != 0:
		return fmt.Errorf("%w: file mode %v has more than permission bits", ErrInvalidArgument, o.FileMode)
	case o.MaxQueueBytes < 0:
		return fmt.Errorf("%w: max queue bytes %d", ErrInvalidArgument, o.MaxQueueBytes)
	case o.TombstoneReserve < 0 || o.TombstoneReserve%formatAlign != 0:
		return fmt.Errorf("%w: tombstone reserve %d not a non-negative multiple of %d", ErrInvalidArgument, o.TombstoneReserve, formatAlign)
	case o.IndexQueueLimit < 0:
		return fmt.Errorf("%w: index queue limit %d", ErrInvalidArgument, o.IndexQueueLimit)
	case len(o.NodeID) > maxIdentityIDLen || strings.ContainsFunc(o.NodeID, unicode.IsControl):
		return fmt.Errorf("%w: node id %q (at most %d bytes, no control characters)", ErrInvalidArgument, o.NodeID, maxIdentityIDLen)
	case o.ScrubInterval < 0 || o.ScrubBytesPerSec < 0:
		return fmt.Errorf("%w: scrub interval %v, rate %d bytes/s", ErrInvalidArgument, o.ScrubInterval, o.ScrubBytesPerSec)
	case !(o.CompactThreshold > 0 && o.CompactThreshold <= 1):
		return fmt.Errorf("%w: compact threshold %v outside (0, 1]", ErrInvalidArgument, o.CompactThreshold)
	case o.CompactInterval < 0 || o.TombstoneGrace < 0:
		return fmt.Errorf("%w: negative compact interval %v or tombstone grace %v", ErrInvalidArgument, o.CompactInterval, o.TombstoneGrace)
	case o.Compression < CodecDefault || o.Compression > CodecS2:
		return fmt.Errorf("%w: codec %d", ErrInvalidArgument, o.Compression)
	}
	if m := o.maxManifestPayload(); m > maxRecordPayload {
		return fmt.Errorf("%w: a %d-byte blob in %d-byte chunks needs a %d-byte manifest", ErrInvalidArgument, o.MaxBlobSize, o.ChunkSize, m)
	}
	if need := o.volumeNeed() + o.TombstoneReserve; o.VolumeSize < need {
		return fmt.Errorf("%w: volume size %d below %d (two largest records and batches, and the tombstone reserve)", ErrInvalidArgument, o.VolumeSize, need)
	}
	return nil
}

func defaultTombstoneReserve(volumeSize int64) int64 {
	return min(DefaultTombstoneReserve, alignDown(volumeSize/16, formatAlign))
}

// volumeNeed is what a volume must hold besides the tombstone reserve: two
// of the largest records and two full batches.
func (o *Options) volumeNeed() int64 { return 2*o.maxRecordLen() + 2*int64(o.MaxBatchBytes) }

// VolumeAlign is what every VolumeSize must be a multiple of.
const VolumeAlign = formatAlign

// MinVolumeSize is the smallest VolumeSize that Open accepts with the other
// fields of opts (defaults applied): two of the largest records (a chunk or
// a manifest, with framing), two full batches and the tombstone reserve, as
// a multiple of 4096. Configuration loaders check against it before
// binding listeners. The error is Open's for the other fields.
func MinVolumeSize(opts Options) (int64, error) {
	explicit := opts.TombstoneReserve
	opts.VolumeSize = 1 << 40
	if explicit == 0 {
		opts.TombstoneReserve = formatAlign // placeholder: checked below
	}
	if opts.DataDirs == nil {
		opts.DataDirs = []string{"."} // not opened; normalize wants one
	}
	if err := opts.normalize(); err != nil {
		return 0, err
	}
	need := opts.volumeNeed()
	for v := alignUp(need, formatAlign); ; v += formatAlign {
		reserve := explicit
		if reserve == 0 {
			reserve = defaultTombstoneReserve(v)
		}
		if v >= need+reserve {
			return v, nil
		}
	}
}

// createFlags are the flags that create a file with the configured mode.
func (o *Options) createFlags() ioengine.OpenFlag {
	return ioengine.FlagCreate | ioengine.WithPerm(o.FileMode)
}

func (o *Options) compress() bool { return o.Compression != CodecNone }

func (o *Options) maxChunks() int64 { return (o.MaxBlobSize + o.ChunkSize - 1) / o.ChunkSize }

func (o *Options) maxManifestPayload() int64 {
	n := min(o.maxChunks(), 1<<30)
	// Format 3: a sub-block size, and per chunk a flag and its sub-block
	// CRCs (subblock.go).
	subs := int64(0)
	if sb := subBlockBound(o.ChunkSize); sb > 0 {
		subs = binary.MaxVarintLen64 + n*(1+4*sb)
	}
	return int64(manifestLen(int(n))) + subs
}

// maxRecordLen is the largest record this configuration writes.
func (o *Options) maxRecordLen() int64 {
	return recordOverhead + MaxKeyLen + maxAttrLen + max(o.ChunkSize, o.maxManifestPayload())
}

// chunkBufferLen is the buffer size for a chunk record stored raw.
func (o *Options) chunkBufferLen(align int) int {
	return int(alignUp(int64(recordOverhead+MaxKeyLen+MaxContentTypeLen)+o.ChunkSize, int64(align)))
}

// bigBufferLen is the buffer size for chunk-sized records, with room for an
// S2 encoding that did not shrink.
func (o *Options) bigBufferLen() int {
	return int(alignUp(int64(recordOverhead+MaxKeyLen+MaxContentTypeLen+s2.MaxEncodedLen(int(o.ChunkSize))), 64<<10))
}
