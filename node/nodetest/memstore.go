// Package nodetest provides an in-memory node.Store for tests of the HTTP
// layer (and, later, of a replication coordinator in front of it).
//
// # Caveats
//
// MemStore holds whole blobs in memory and has no durability: it is a test
// double, never a store to serve from.
package nodetest

import (
	"bytes"
	"context"
	"crypto/md5"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"strata/blockstore"
	"strata/node"
)

// Op names a MemStore operation for fault injection.
type Op string

// Operations.
const (
	OpPut    Op = "put"
	OpStat   Op = "stat"
	OpOpen   Op = "open"
	OpRead   Op = "read" // reads of an opened object
	OpDelete Op = "delete"
	OpList   Op = "list"
	// OpCompose fails Compose before it changes anything.
	OpCompose Op = "compose"
)

// MemStore is an in-memory node.Store. It is safe for concurrent use.
type MemStore struct {
	mu        sync.Mutex
	blobs     map[string]memBlob
	version   uint64
	maxSize   int64
	faults    map[Op]error
	healthy   error
	writable  error
	tier      string
	putGate   func(ctx context.Context, key string) error
	openGate  func(ctx context.Context, key string) error
	readErr   error // reads at or past readErrAt fail with it
	readAt    int64
	now       func() time.Time
	tierStat  []node.TierStats
	devStat   []node.DeviceStats
	storeStat node.StoreStats
	failed    []string
}

type memBlob struct {
	info     blockstore.Info
	data     []byte
	composed bool // made by Compose: cannot be a part (as in the blockstore)
}

// NewMemStore returns an empty store that accepts blobs up to maxSize bytes
// (0 = unlimited) and reports tier "ram" for reads.
func NewMemStore(maxSize int64) *MemStore {
	return &MemStore{
		blobs:   make(map[string]memBlob),
		maxSize: maxSize,
		faults:  make(map[Op]error),
		tier:    "ram",
		now:     time.Now,
	}
}

// SetFault makes op fail with err (nil clears it).
func (m *MemStore) SetFault(op Op, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err == nil {
		delete(m.faults, op)
	} else {
		m.faults[op] = err
	}
}

// SetHealthy sets what Healthy returns: nil while reads are served.
func (m *MemStore) SetHealthy(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.healthy = err
}

// SetWritable sets what Writable returns (blockstore.ErrNoSpace for a full
// disk, say); reads keep working whatever it is.
func (m *MemStore) SetWritable(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.writable = err
}

// SetTier sets the tier objects report once read.
func (m *MemStore) SetTier(tier string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tier = tier
}

// SetPutGate installs a hook Put calls after reading the whole body and
// before committing; an error from it fails the Put. Tests use it to hold
// uploads in flight.
func (m *MemStore) SetPutGate(gate func(ctx context.Context, key string) error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.putGate = gate
}

// SetOpenGate installs a hook Open calls first; an error from it fails the
// Open. Tests use it to hold reads in flight.
func (m *MemStore) SetOpenGate(gate func(ctx context.Context, key string) error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.openGate = gate
}

// SetReadFault makes reads of objects opened afterwards fail with err once
// they reach offset at (nil err clears it): a blob that turns out corrupt
// partway through.
func (m *MemStore) SetReadFault(err error, at int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.readErr, m.readAt = err, at
}

// SetStats sets what Stats and Devices report.
func (m *MemStore) SetStats(tiers []node.TierStats, devices []node.DeviceStats) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tierStat, m.devStat = tiers, devices
}

// SetStoreStats sets what StoreStats reports.
func (m *MemStore) SetStoreStats(st node.StoreStats) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.storeStat = st
}

// StoreStats reports the counters SetStoreStats set (zeros by default).
func (m *MemStore) StoreStats() node.StoreStats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.storeStat
}

// Len returns the number of blobs held.
func (m *MemStore) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.blobs)
}

// Bytes returns a copy of the blob's content, or false.
func (m *MemStore) Bytes(key string) ([]byte, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.blobs[key]
	return bytes.Clone(b.data), ok
}

func (m *MemStore) fault(op Op) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.faults[op]
}

// Put implements node.Store.
func (m *MemStore) Put(ctx context.Context, key string, r io.Reader, size int64, opts blockstore.PutOptions) (blockstore.Info, error) {
	if err := blockstore.ValidateKey(key); err != nil {
		return blockstore.Info{}, err
	}
	if err := blockstore.ValidateContentType(opts.ContentType); err != nil {
		return blockstore.Info{}, err
	}
	if err := blockstore.ValidateMeta(opts.Meta); err != nil {
		return blockstore.Info{}, err
	}
	if err := m.fault(OpPut); err != nil {
		return blockstore.Info{}, err
	}
	if err := m.Writable(); err != nil {
		return blockstore.Info{}, err
	}
	if m.maxSize > 0 && size > m.maxSize {
		return blockstore.Info{}, fmt.Errorf("memstore: %w", blockstore.ErrTooLarge)
	}
	limit := m.maxSize
	if limit <= 0 {
		limit = 1 << 62
	}
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return blockstore.Info{}, fmt.Errorf("memstore: reading body: %w", err)
	}
	if int64(len(data)) > limit {
		return blockstore.Info{}, fmt.Errorf("memstore: %w", blockstore.ErrTooLarge)
	}
	if size >= 0 && int64(len(data)) != size {
		return blockstore.Info{}, fmt.Errorf("memstore: %w: got %d want %d", blockstore.ErrSizeMismatch, len(data), size)
	}
	m.mu.Lock()
	gate := m.putGate
	m.mu.Unlock()
	if gate != nil {
		if err := gate(ctx, key); err != nil {
			return blockstore.Info{}, err
		}
	}
	if err := ctx.Err(); err != nil {
		return blockstore.Info{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.version++
	info := blockstore.Info{
		Key:         key,
		Size:        int64(len(data)),
		Version:     m.version,
		ModTime:     m.now().UTC().Truncate(time.Second),
		ContentType: opts.ContentType,
		ChunkSize:   8 << 20,
		Meta:        blockstore.CloneMeta(opts.Meta),
	}
	switch {
	case opts.MD5 != nil:
		info.MD5 = bytes.Clone(opts.MD5)
	case opts.WantMD5:
		sum := md5.Sum(data)
		info.MD5 = sum[:]
	}
	m.blobs[key] = memBlob{info: info, data: data}
	return cloneInfo(info), nil
}

// cloneInfo copies the Info's maps and slices so a caller's edits cannot
// reach the stored blob.
func cloneInfo(i blockstore.Info) blockstore.Info {
	i.Meta = blockstore.CloneMeta(i.Meta)
	i.MD5 = bytes.Clone(i.MD5)
	return i
}

// Compose implements node.Composer as the blockstore does: key becomes the
// concatenation of the parts (in order), the parts disappear, and on any
// error nothing changed. As in the blockstore, a composed blob cannot be a
// part and key cannot be one of the parts (ErrInvalidArgument); the total
// is held to maxSize (ErrTooLarge).
func (m *MemStore) Compose(ctx context.Context, key string, parts []string, opts blockstore.ComposeOptions) (blockstore.Info, error) {
	if err := blockstore.ValidateCompose(key, parts, opts); err != nil {
		return blockstore.Info{}, fmt.Errorf("memstore: %w", err)
	}
	if err := m.fault(OpCompose); err != nil {
		return blockstore.Info{}, err
	}
	if err := m.Writable(); err != nil {
		return blockstore.Info{}, err
	}
	if err := ctx.Err(); err != nil {
		return blockstore.Info{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if cur, ok := m.blobs[key]; ok && opts.Version != 0 && cur.info.Version >= opts.Version {
		// As the blockstore: holding key at the version or newer, a
		// compose changes nothing (a retried compose answers the blob).
		return cloneInfo(cur.info), nil
	}
	var total int64
	for i, p := range parts {
		b, ok := m.blobs[p]
		if !ok {
			return blockstore.Info{}, fmt.Errorf("memstore: compose %q: part %q: %w", key, p, blockstore.ErrNotFound)
		}
		if opts.PartVersions != nil && b.info.Version != opts.PartVersions[i] {
			return blockstore.Info{}, fmt.Errorf("memstore: compose %q: part %q: %w: held at version %d, want %d", key, p, blockstore.ErrNotFound, b.info.Version, opts.PartVersions[i])
		}
		if b.composed {
			return blockstore.Info{}, fmt.Errorf("memstore: compose %q: part %q: %w: a composed blob cannot be a part", key, p, blockstore.ErrInvalidArgument)
		}
		total += int64(len(b.data))
	}
	if m.maxSize > 0 && total > m.maxSize {
		return blockstore.Info{}, fmt.Errorf("memstore: compose %q: %d bytes: %w", key, total, blockstore.ErrTooLarge)
	}
	data := make([]byte, 0, total)
	for _, p := range parts {
		data = append(data, m.blobs[p].data...)
		delete(m.blobs, p)
	}
	m.version++
	info := blockstore.Info{
		Key:         key,
		Size:        total,
		Version:     m.version,
		ModTime:     m.now().UTC().Truncate(time.Second),
		ContentType: opts.ContentType,
		ChunkSize:   8 << 20,
		Meta:        blockstore.CloneMeta(opts.Meta),
		MD5:         bytes.Clone(opts.MD5),
	}
	m.blobs[key] = memBlob{info: info, data: data, composed: true}
	return cloneInfo(info), nil
}

// Stat implements node.Store.
func (m *MemStore) Stat(ctx context.Context, key string) (blockstore.Info, error) {
	if err := m.fault(OpStat); err != nil {
		return blockstore.Info{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.blobs[key]
	if !ok {
		return blockstore.Info{}, fmt.Errorf("memstore: %q: %w", key, blockstore.ErrNotFound)
	}
	return cloneInfo(b.info), nil
}

// Open implements node.Store.
func (m *MemStore) Open(ctx context.Context, key string) (node.Object, error) {
	if err := m.fault(OpOpen); err != nil {
		return nil, err
	}
	m.mu.Lock()
	gate := m.openGate
	m.mu.Unlock()
	if gate != nil {
		if err := gate(ctx, key); err != nil {
			return nil, err
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.blobs[key]
	if !ok {
		return nil, fmt.Errorf("memstore: %q: %w", key, blockstore.ErrNotFound)
	}
	return &memObject{store: m, info: cloneInfo(b.info), data: b.data, r: bytes.NewReader(b.data), tierAfterRead: m.tier, readErr: m.readErr, readErrAt: m.readAt}, nil
}

// Delete implements node.Store.
func (m *MemStore) Delete(ctx context.Context, key string, opts blockstore.DeleteOptions) error {
	if err := m.fault(OpDelete); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.blobs[key]; !ok {
		return fmt.Errorf("memstore: %q: %w", key, blockstore.ErrNotFound)
	}
	delete(m.blobs, key)
	return nil
}

// List implements node.Store.
func (m *MemStore) List(ctx context.Context, prefix, startAfter string, limit int) ([]blockstore.Info, error) {
	if err := m.fault(OpList); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []blockstore.Info
	for k, b := range m.blobs {
		if strings.HasPrefix(k, prefix) && k > startAfter {
			out = append(out, cloneInfo(b.info))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// Healthy implements node.Store.
func (m *MemStore) Healthy() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.healthy
}

// Writable implements node.Store. Put fails with the same error while it
// is set; Delete still works (the blockstore keeps a reserve for tombstones).
func (m *MemStore) Writable() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.writable
}

// SetFailedDisks sets what FailedDisks reports.
func (m *MemStore) SetFailedDisks(dirs []string) {
	m.mu.Lock()
	m.failed = dirs
	m.mu.Unlock()
}

// FailedDisks reports the data directories set by SetFailedDisks, as a
// blockstore-backed store reports its failed disks.
func (m *MemStore) FailedDisks() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.failed
}

// Stats implements node.Store.
func (m *MemStore) Stats() []node.TierStats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.tierStat
}

// Devices implements node.Store.
func (m *MemStore) Devices() []node.DeviceStats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.devStat
}

// memObject is an opened blob. Tier is "" until the first read.
type memObject struct {
	store         *MemStore
	info          blockstore.Info
	data          []byte // never modified (a Put replaces the blob's slice)
	r             *bytes.Reader
	tierAfterRead string
	readErr       error
	readErrAt     int64
	read          atomic.Bool
	closed        atomic.Bool
}

func (o *memObject) Info() blockstore.Info { return o.info }

func (o *memObject) Tier() string {
	if o.read.Load() {
		return o.tierAfterRead
	}
	return ""
}

// Locate is the tier reads report (SetTier), without reading.
func (o *memObject) Locate() string {
	if o.info.Size == 0 {
		return "" // a read of an empty blob touches no tier
	}
	return o.tierAfterRead
}

func (o *memObject) Read(p []byte) (int, error) {
	if err := o.check(o.r.Size() - int64(o.r.Len())); err != nil {
		return 0, err
	}
	o.read.Store(true)
	return o.r.Read(p)
}

func (o *memObject) ReadAt(p []byte, off int64) (int, error) {
	if err := o.check(off); err != nil {
		return 0, err
	}
	o.read.Store(true)
	return o.r.ReadAt(p, off)
}

// WriteRange hands w the stored bytes [off, off+n) themselves, as
// tiering.Object does for RAM hits; a read fault (SetReadFault) stops it
// where it starts, before w sees those bytes.
func (o *memObject) WriteRange(w io.Writer, off, n int64) (int64, error) {
	if off < 0 || n < 0 {
		return 0, fmt.Errorf("memstore: WriteRange(%d, %d)", off, n)
	}
	end := min(off+n, int64(len(o.data)))
	if off >= end {
		if n == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	if err := o.store.fault(OpRead); err != nil {
		return 0, err
	}
	o.read.Store(true)
	stop := end
	if o.readErr != nil && o.readErrAt < end {
		stop = max(off, o.readErrAt)
	}
	var written int64
	if stop > off {
		m, err := w.Write(o.data[off:stop])
		written = int64(m)
		if err != nil {
			return written, err
		}
	}
	if stop < end {
		return written, o.readErr
	}
	if end < off+n {
		return written, io.EOF
	}
	return written, nil
}

func (o *memObject) check(off int64) error {
	if err := o.store.fault(OpRead); err != nil {
		return err
	}
	if o.readErr != nil && off >= o.readErrAt {
		return o.readErr
	}
	return nil
}

func (o *memObject) Seek(offset int64, whence int) (int64, error) { return o.r.Seek(offset, whence) }

func (o *memObject) Close() error {
	if o.closed.Swap(true) {
		return fmt.Errorf("memstore: object closed twice")
	}
	return nil
}

var _ node.Composer = (*MemStore)(nil)
