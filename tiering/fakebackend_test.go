package tiering

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
)

// fakeBackend is an in-memory Backend with a read counter and a hook to
// hold reads, for coalescing tests.
type fakeBackend struct {
	chunkSize int64

	mu       sync.Mutex
	live     map[string]blockstore.Info
	versions map[string][]byte // key + "@" + version -> content
	version  uint64

	reads    atomic.Int64  // ReadChunk calls
	readGate chan struct{} // when non-nil, ReadChunk waits for it to close
	closed   atomic.Bool
}

func newFakeBackend(chunkSize int64) *fakeBackend {
	return &fakeBackend{chunkSize: chunkSize, live: map[string]blockstore.Info{}, versions: map[string][]byte{}}
}

func versionKey(key string, v uint64) string { return fmt.Sprintf("%s@%d", key, v) }

func (f *fakeBackend) Put(ctx context.Context, key string, r io.Reader, size int64, opts blockstore.PutOptions) (blockstore.Info, error) {
	if key == "" {
		return blockstore.Info{}, blockstore.ErrInvalidKey
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return blockstore.Info{}, err
	}
	if size >= 0 && int64(len(data)) != size {
		return blockstore.Info{}, blockstore.ErrSizeMismatch
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.version++
	v := f.version
	if opts.Version != 0 {
		v = opts.Version
	}
	info := blockstore.Info{
		Key: key, Size: int64(len(data)), Version: v, ModTime: time.Unix(int64(v), 0),
		ContentType: opts.ContentType, Checksum: crc32.Checksum(data, castagnoli), ChunkSize: f.chunkSize,
	}
	f.live[key] = info
	f.versions[versionKey(key, v)] = bytes.Clone(data)
	return info, nil
}

func (f *fakeBackend) Stat(ctx context.Context, key string) (blockstore.Info, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	info, ok := f.live[key]
	if !ok {
		return blockstore.Info{}, fmt.Errorf("stat %q: %w", key, blockstore.ErrNotFound)
	}
	return info, nil
}

func (f *fakeBackend) ReadChunk(ctx context.Context, info blockstore.Info, idx int) ([]byte, error) {
	f.reads.Add(1)
	f.mu.Lock()
	gate := f.readGate
	data, ok := f.versions[versionKey(info.Key, info.Version)]
	f.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if !ok {
		return nil, blockstore.ErrNotFound
	}
	if idx < 0 || idx >= info.NumChunks() {
		return nil, fmt.Errorf("chunk %d of %d", idx, info.NumChunks())
	}
	off, n := info.ChunkBounds(idx)
	return bytes.Clone(data[off : off+n]), nil
}

func (f *fakeBackend) Delete(ctx context.Context, key string, opts blockstore.DeleteOptions) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.live[key]; !ok {
		return blockstore.ErrNotFound
	}
	delete(f.live, key)
	return nil
}

func (f *fakeBackend) List(ctx context.Context, prefix, startAfter string, limit int) ([]blockstore.Info, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []blockstore.Info
	for k, info := range f.live {
		if strings.HasPrefix(k, prefix) && k > startAfter {
			out = append(out, info)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func (f *fakeBackend) Healthy() error { return nil }

func (f *fakeBackend) Close() error {
	f.closed.Store(true)
	return nil
}

// Lookup sees live blobs only: the fake keeps no tombstones.
func (f *fakeBackend) Lookup(ctx context.Context, key string) (blockstore.Entry, error) {
	info, err := f.Stat(ctx, key)
	if err != nil {
		return blockstore.Entry{}, err
	}
	return blockstore.Entry{Info: info}, nil
}

func (f *fakeBackend) Scan(ctx context.Context, startAfter string, limit int) ([]blockstore.Entry, error) {
	infos, err := f.List(ctx, "", startAfter, limit)
	if err != nil {
		return nil, err
	}
	out := make([]blockstore.Entry, len(infos))
	for i, info := range infos {
		out[i] = blockstore.Entry{Info: info}
	}
	return out, nil
}

func (f *fakeBackend) NextVersion() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.version++
	return f.version
}

func (f *fakeBackend) ObserveVersion(v uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.version = max(f.version, v)
}

func (f *fakeBackend) Drop(ctx context.Context, key string, version uint64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if info, ok := f.live[key]; !ok || info.Version != version {
		return fmt.Errorf("drop %q at %d: %w", key, version, blockstore.ErrNotFound)
	}
	delete(f.live, key)
	return nil
}
