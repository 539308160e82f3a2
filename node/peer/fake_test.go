package peer_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"fmt"
	"hash/crc32"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"strata/blockstore"
	"strata/node"
	"strata/node/replication"
)

// fakeBackend is an in-memory peer.Backend: last writer wins by version,
// tombstones, entries marked corrupt, and injected failures.
type fakeBackend struct {
	mu      sync.Mutex
	records map[string]fakeRecord
	// readErrAt: reads of key's bytes at or past the offset fail with
	// ErrCorrupt (a checksum failure found mid-stream).
	readErrAt map[string]int64
	fail      error // every call fails with it
	// readExactly makes ApplyPut read exactly size bytes and never ask for
	// io.EOF (a store that trusts the declared size).
	readExactly bool
	digest      replication.Digest
	calls       []string // "put k", "delete k", "digest for", "entries for [1 2] after 10"...
}

type fakeRecord struct {
	entry blockstore.Entry
	data  []byte
}

func newFakeBackend() *fakeBackend {
	return &fakeBackend{records: map[string]fakeRecord{}, readErrAt: map[string]int64{}}
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// modTimeOf is the store's rule: the version's wall milliseconds.
func modTimeOf(version uint64) time.Time { return time.UnixMilli(int64(version >> 16)) }

func (f *fakeBackend) record(call string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
	return f.fail
}

func (f *fakeBackend) ApplyPut(ctx context.Context, key string, r io.Reader, size int64, opts blockstore.PutOptions) (blockstore.Info, error) {
	if err := f.record("put " + key); err != nil {
		return blockstore.Info{}, err
	}
	f.mu.Lock()
	exact := f.readExactly
	f.mu.Unlock()
	var data []byte
	var err error
	if exact && size >= 0 {
		data = make([]byte, size)
		_, err = io.ReadFull(r, data)
	} else {
		data, err = io.ReadAll(r)
	}
	if err != nil {
		return blockstore.Info{}, fmt.Errorf("fake: reading body: %w", err)
	}
	if size >= 0 && int64(len(data)) != size {
		return blockstore.Info{}, fmt.Errorf("fake: %w", blockstore.ErrSizeMismatch)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if cur, ok := f.records[key]; ok && (cur.entry.Version > opts.Version || (cur.entry.Version == opts.Version && !cur.entry.Corrupt)) {
		if cur.entry.Deleted {
			return blockstore.Info{Key: key, Version: cur.entry.Version}, nil
		}
		return cur.entry.Info, nil
	}
	info := blockstore.Info{Key: key, Size: int64(len(data)), Version: opts.Version, ModTime: modTimeOf(opts.Version),
		ContentType: opts.ContentType, Checksum: crc32.Checksum(data, castagnoli), ChunkSize: 8 << 20,
		Meta: blockstore.CloneMeta(opts.Meta)}
	switch {
	case opts.MD5 != nil:
		info.MD5 = append([]byte(nil), opts.MD5...)
	case opts.WantMD5:
		sum := md5.Sum(data)
		info.MD5 = sum[:]
	}
	f.records[key] = fakeRecord{entry: blockstore.Entry{Info: info}, data: data}
	return info, nil
}

func (f *fakeBackend) ApplyDelete(ctx context.Context, key string, version uint64) error {
	if err := f.record("delete " + key); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if cur, ok := f.records[key]; ok && cur.entry.Version > version {
		return nil
	}
	f.records[key] = fakeRecord{entry: blockstore.Entry{Info: blockstore.Info{Key: key, Version: version, ModTime: modTimeOf(version)}, Deleted: true}}
	return nil
}

func (f *fakeBackend) Lookup(ctx context.Context, key string) (blockstore.Entry, error) {
	if err := f.record("lookup " + key); err != nil {
		return blockstore.Entry{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	rec, ok := f.records[key]
	if !ok {
		return blockstore.Entry{}, fmt.Errorf("fake: %q: %w", key, blockstore.ErrNotFound)
	}
	return rec.entry, nil
}

func (f *fakeBackend) OpenLocal(ctx context.Context, key string) (node.Object, error) {
	if err := f.record("open " + key); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	rec, ok := f.records[key]
	switch {
	case !ok || rec.entry.Deleted:
		return nil, fmt.Errorf("fake: %q: %w", key, blockstore.ErrNotFound)
	case rec.entry.Corrupt:
		return nil, fmt.Errorf("fake: %q: %w", key, blockstore.ErrCorrupt)
	}
	errAt, bad := f.readErrAt[key]
	if !bad {
		errAt = -1
	}
	return &fakeObject{info: rec.entry.Info, r: bytes.NewReader(rec.data), errAt: errAt}, nil
}

func (f *fakeBackend) Digest(ctx context.Context, forPeer string) (replication.Digest, error) {
	if err := f.record("digest " + forPeer); err != nil {
		return replication.Digest{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.digest, nil
}

func (f *fakeBackend) Entries(ctx context.Context, forPeer string, buckets []int, startAfter string, limit int) ([]blockstore.Entry, error) {
	if err := f.record(fmt.Sprintf("entries %s %v after %q limit %d", forPeer, buckets, startAfter, limit)); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []blockstore.Entry
	for _, k := range slices.Sorted(maps.Keys(f.records)) {
		if k > startAfter && len(out) < limit {
			out = append(out, f.records[k].entry)
		}
	}
	return out, nil
}

// state is a printable snapshot of everything stored, to compare before
// and after a refused request.
func (f *fakeBackend) state() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(f.records)) {
		r := f.records[k]
		fmt.Fprintf(&b, "%q v%d deleted=%v corrupt=%v %q %q\n", k, r.entry.Version, r.entry.Deleted, r.entry.Corrupt, r.entry.ContentType, r.data)
	}
	return b.String()
}

func (f *fakeBackend) callLog() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// configure changes the fake's knobs (fail, readErrAt, readExactly,
// digest) between requests.
func (f *fakeBackend) configure(fn func(f *fakeBackend)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

// get returns what is stored under key.
func (f *fakeBackend) get(key string) (fakeRecord, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.records[key]
	return r, ok
}

// set stores a record directly (test setup).
func (f *fakeBackend) set(e blockstore.Entry, data []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !e.Deleted && !e.Corrupt {
		e.Size, e.Checksum = int64(len(data)), crc32.Checksum(data, castagnoli)
	}
	f.records[e.Key] = fakeRecord{entry: e, data: data}
}

// fakeObject is an opened blob whose reads fail with ErrCorrupt at or past
// errAt (when errAt >= 0).
type fakeObject struct {
	info   blockstore.Info
	r      *bytes.Reader
	errAt  int64
	closed bool
}

func (o *fakeObject) Info() blockstore.Info { return o.info }
func (o *fakeObject) Tier() string          { return "ram" }
func (o *fakeObject) Locate() string        { return "ram" }
func (o *fakeObject) Close() error          { o.closed = true; return nil }

func (o *fakeObject) Seek(off int64, whence int) (int64, error) { return o.r.Seek(off, whence) }

func (o *fakeObject) Read(p []byte) (int, error) {
	pos, _ := o.r.Seek(0, io.SeekCurrent)
	n, err := o.ReadAt(p, pos)
	_, _ = o.r.Seek(pos+int64(n), io.SeekStart)
	return n, err
}

func (o *fakeObject) ReadAt(p []byte, off int64) (int, error) {
	if o.errAt >= 0 && off+int64(len(p)) > o.errAt {
		if off >= o.errAt {
			return 0, fmt.Errorf("fake: read at %d: %w", off, blockstore.ErrCorrupt)
		}
		n, _ := o.r.ReadAt(p[:o.errAt-off], off)
		return n, fmt.Errorf("fake: read at %d: %w", o.errAt, blockstore.ErrCorrupt)
	}
	return o.r.ReadAt(p, off)
}

// ApplyCompose concatenates the parts into key and deletes them (last
// writer wins); ErrNotFound names a missing part.
func (f *fakeBackend) ApplyCompose(ctx context.Context, key string, parts []string, opts blockstore.ComposeOptions) (blockstore.Info, error) {
	if err := f.record("compose " + key + " " + strings.Join(parts, ",")); err != nil {
		return blockstore.Info{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if cur, ok := f.records[key]; ok && cur.entry.Version >= opts.Version {
		return cur.entry.Info, nil
	}
	var data []byte
	for _, p := range parts {
		rec, ok := f.records[p]
		if !ok || rec.entry.Deleted {
			return blockstore.Info{}, fmt.Errorf("fake: part %q: %w", p, blockstore.ErrNotFound)
		}
		data = append(data, rec.data...)
	}
	info := blockstore.Info{Key: key, Size: int64(len(data)), Version: opts.Version, ModTime: modTimeOf(opts.Version),
		ContentType: opts.ContentType, Checksum: crc32.Checksum(data, castagnoli), ChunkSize: 8 << 20,
		Meta: blockstore.CloneMeta(opts.Meta)}
	f.records[key] = fakeRecord{entry: blockstore.Entry{Info: info}, data: data}
	for _, p := range parts {
		f.records[p] = fakeRecord{entry: blockstore.Entry{Info: blockstore.Info{Key: p, Version: opts.Version}, Deleted: true}}
	}
	return info, nil
}
