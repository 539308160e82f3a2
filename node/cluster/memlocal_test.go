package cluster

import (
	"bytes"
	"context"
	"fmt"
	"hash/crc32"
	"io"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"strata/blockstore"
	"strata/node"
	"strata/node/replication"
)

// The one in-memory Local both the coordinator's tests (newFakeLocal) and
// the background tests (newBGLocal) run on.

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// memLocal is an in-memory Local with versions, tombstones and last writer
// wins (replication.Newer) as the blockstore does them, Drop at an exact
// version, and switches for corruption.
type memLocal struct {
	mu      sync.Mutex
	entries map[string]*memEntry
	clock   uint64
	now     func() time.Time // the clock's wall time; nil: time.Now
	tier    string           // what opened objects report

	// discard keeps sizes and checksums only (the memory test streams more
	// than it would hold).
	discard bool

	writes atomic.Int64 // puts and deletes that changed an entry
}

type memEntry struct {
	e         blockstore.Entry
	data      []byte
	corruptAt int64 // reads at or past this offset fail with ErrCorrupt; -1 none
}

func newMemLocal(now func() time.Time, tier string) *memLocal {
	return &memLocal{entries: make(map[string]*memEntry), now: now, tier: tier}
}

// newFakeLocal is the coordinator tests' store: wall clock, tier "hdd".
func newFakeLocal() *memLocal { return newMemLocal(nil, "hdd") }

// newBGLocal is the background tests' store: the clock now (nil: the wall
// clock), tier "ram".
func newBGLocal(now func() time.Time) *memLocal { return newMemLocal(now, "ram") }

func (l *memLocal) NextVersion() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now
	if l.now != nil {
		now = l.now
	}
	l.clock = max(l.clock+1, uint64(now().UnixMilli())<<16)
	return l.clock
}

func (l *memLocal) ObserveVersion(v uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.observeLocked(v)
}

func (l *memLocal) observeLocked(v uint64) { l.clock = max(l.clock, v) }

// newerThanCurrentLocked reports whether cand (a tombstone when deleted)
// would supersede key's current entry: last writer wins.
func (l *memLocal) newerThanCurrentLocked(key string, cand blockstore.Entry) bool {
	cur, ok := l.entries[key]
	return !ok || replication.Newer(cand, cur.e)
}

func (l *memLocal) Put(ctx context.Context, key string, r io.Reader, size int64, opts blockstore.PutOptions) (blockstore.Info, error) {
	if err := blockstore.ValidateKey(key); err != nil {
		return blockstore.Info{}, err
	}
	version := opts.Version
	if version == 0 {
		version = l.NextVersion()
	}
	cand := blockstore.Entry{Info: blockstore.Info{Key: key, Version: version}}
	l.mu.Lock()
	l.observeLocked(version)
	if !l.newerThanCurrentLocked(key, cand) {
		// As the blockstore: nothing written, the current Info returned,
		// before reading the body.
		info := l.entries[key].e.Info
		l.mu.Unlock()
		return info, nil
	}
	discard := l.discard
	l.mu.Unlock()

	var data []byte
	var n int64
	crc := uint32(0)
	body := r
	if size >= 0 {
		body = io.LimitReader(r, size+1)
	}
	if discard {
		buf := make([]byte, 32<<10)
		for {
			m, err := body.Read(buf)
			n += int64(m)
			crc = crc32.Update(crc, castagnoli, buf[:m])
			if err == io.EOF {
				break
			}
			if err != nil {
				return blockstore.Info{}, fmt.Errorf("memlocal: put %q: %w", key, err)
			}
		}
	} else {
		var err error
		data, err = io.ReadAll(body)
		if err != nil {
			return blockstore.Info{}, fmt.Errorf("memlocal: put %q: %w", key, err)
		}
		n = int64(len(data))
		crc = crc32.Checksum(data, castagnoli)
	}
	if size >= 0 && n != size {
		return blockstore.Info{}, fmt.Errorf("memlocal: put %q: %w: %d bytes, want %d", key, blockstore.ErrSizeMismatch, n, size)
	}
	if err := ctx.Err(); err != nil {
		return blockstore.Info{}, err
	}
	info := blockstore.Info{Key: key, Size: n, Version: version, ModTime: versionTime(version), ContentType: opts.ContentType, Checksum: crc}
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.newerThanCurrentLocked(key, cand) {
		return l.entries[key].e.Info, nil // a newer write landed meanwhile
	}
	l.entries[key] = &memEntry{e: blockstore.Entry{Info: info}, data: data, corruptAt: -1}
	l.writes.Add(1)
	return info, nil
}

func (l *memLocal) Delete(ctx context.Context, key string, opts blockstore.DeleteOptions) error {
	version := opts.Version
	if version == 0 {
		version = l.NextVersion()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.observeLocked(version)
	cur, ok := l.entries[key]
	hadBlob := ok && !cur.e.Deleted
	stone := blockstore.Entry{Info: blockstore.Info{Key: key, Version: version, ModTime: versionTime(version)}, Deleted: true}
	if l.newerThanCurrentLocked(key, stone) {
		l.entries[key] = &memEntry{e: stone, corruptAt: -1}
		l.writes.Add(1)
	}
	if !hadBlob {
		return fmt.Errorf("memlocal: delete %q: %w", key, blockstore.ErrNotFound)
	}
	return nil
}

func (l *memLocal) Lookup(ctx context.Context, key string) (blockstore.Entry, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.entries[key]
	if !ok {
		return blockstore.Entry{}, fmt.Errorf("memlocal: lookup %q: %w", key, blockstore.ErrNotFound)
	}
	return e.e, nil
}

// Scan returns up to limit entries (tombstones and corrupt ones included)
// after startAfter in key order; limit <= 0: all of them.
func (l *memLocal) Scan(ctx context.Context, startAfter string, limit int) ([]blockstore.Entry, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []blockstore.Entry
	for _, k := range l.sortedKeysLocked() {
		if k > startAfter {
			out = append(out, l.entries[k].e)
			if len(out) == limit {
				break
			}
		}
	}
	return out, nil
}

func (l *memLocal) Drop(ctx context.Context, key string, version uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.entries[key]; !ok || e.e.Version != version {
		return fmt.Errorf("memlocal: drop %q: %w", key, blockstore.ErrNotFound)
	}
	delete(l.entries, key)
	return nil
}

func (l *memLocal) Stat(ctx context.Context, key string) (blockstore.Info, error) {
	e, err := l.Lookup(ctx, key)
	if err == nil && (e.Deleted || e.Corrupt) {
		err = fmt.Errorf("memlocal: stat %q: %w", key, blockstore.ErrNotFound)
	}
	return e.Info, err
}

func (l *memLocal) Open(ctx context.Context, key string) (node.Object, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.entries[key]
	switch {
	case !ok || e.e.Deleted:
		return nil, fmt.Errorf("memlocal: open %q: %w", key, blockstore.ErrNotFound)
	case e.e.Corrupt:
		return nil, fmt.Errorf("memlocal: open %q: %w", key, blockstore.ErrCorrupt)
	}
	return &memObject{info: e.e.Info, tier: l.tier, r: bytes.NewReader(e.data), corruptAt: e.corruptAt}, nil
}

// List returns up to limit live blobs under prefix after startAfter in key
// order; limit <= 0: all of them.
func (l *memLocal) List(ctx context.Context, prefix, startAfter string, limit int) ([]blockstore.Info, error) {
	all, _ := l.Scan(ctx, startAfter, 0)
	var out []blockstore.Info
	for _, e := range all {
		if strings.HasPrefix(e.Key, prefix) && !e.Deleted {
			out = append(out, e.Info)
			if len(out) == limit {
				break
			}
		}
	}
	return out, nil
}

func (l *memLocal) Healthy() error              { return nil }
func (l *memLocal) Writable() error             { return nil }
func (l *memLocal) Stats() []node.TierStats     { return nil }
func (l *memLocal) Devices() []node.DeviceStats { return nil }

func (l *memLocal) sortedKeysLocked() []string {
	keys := make([]string, 0, len(l.entries))
	for k := range l.entries {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// corruptBytes makes reads of key's current copy fail with ErrCorrupt at
// or past offset at, while the index still calls it live (a flipped bit
// not found yet).
func (l *memLocal) corruptBytes(key string, at int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries[key].corruptAt = at
}

// markCorrupt marks key's entry corrupt in the index (a corruption found)
// and returns its version, or false when there is none.
func (l *memLocal) markCorrupt(key string) (uint64, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.entries[key]
	if !ok {
		return 0, false
	}
	e.e.Corrupt = true
	return e.e.Version, true
}

// bytesOf returns key's live content, or false.
func (l *memLocal) bytesOf(key string) ([]byte, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.entries[key]
	if !ok || e.e.Deleted {
		return nil, false
	}
	return e.data, true
}

// entry returns the key's entry and bytes (zero when none).
func (l *memLocal) entry(key string) (blockstore.Entry, []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.entries[key]; ok {
		return e.e, e.data
	}
	return blockstore.Entry{}, nil
}

// wipe forgets everything, as a replaced disk does.
func (l *memLocal) wipe() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries = make(map[string]*memEntry)
}

func (l *memLocal) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.entries)
}

// memObject is an opened memLocal blob.
type memObject struct {
	info      blockstore.Info
	tier      string
	r         *bytes.Reader
	corruptAt int64
}

func (o *memObject) Info() blockstore.Info { return o.info }
func (o *memObject) Tier() string          { return o.tier }
func (o *memObject) Locate() string        { return o.tier }
func (o *memObject) Close() error          { return nil }
func (o *memObject) Seek(off int64, whence int) (int64, error) {
	return o.r.Seek(off, whence)
}

func (o *memObject) Read(p []byte) (int, error) {
	pos := o.r.Size() - int64(o.r.Len())
	p = o.clip(p, pos)
	if len(p) == 0 && o.corruptAt >= 0 && pos >= o.corruptAt {
		return 0, fmt.Errorf("memobject: %w at %d", blockstore.ErrCorrupt, pos)
	}
	return o.r.Read(p)
}

func (o *memObject) ReadAt(p []byte, off int64) (int, error) {
	short := o.clip(p, off)
	if len(short) < len(p) && len(short) == 0 {
		return 0, fmt.Errorf("memobject: %w at %d", blockstore.ErrCorrupt, off)
	}
	n, err := o.r.ReadAt(short, off)
	if err == nil && len(short) < len(p) {
		err = fmt.Errorf("memobject: %w at %d", blockstore.ErrCorrupt, off+int64(n))
	}
	return n, err
}

// clip shortens p so a read at off stops before the corrupt offset.
func (o *memObject) clip(p []byte, off int64) []byte {
	if o.corruptAt >= 0 && off+int64(len(p)) > o.corruptAt {
		return p[:max(0, o.corruptAt-off)]
	}
	return p
}
