package blockstore

// TEMPORARY contract stub so dependents compile while the real store is built.
// The blockstore helper deletes this file when store.go lands.

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"strata/ioengine"
)

type Options struct {
	FS            ioengine.FS
	DataDirs      []string
	IndexDir      string
	VolumeSize    int64
	ChunkSize     int64
	MaxBlobSize   int64
	MaxBatchBytes int
	Logger        *slog.Logger
	Now           func() time.Time
	MaxInFlight   int
}

type PutOptions struct {
	ContentType string
	Version     uint64
}

type DeleteOptions struct{ Version uint64 }

type Info struct {
	Key         string
	Size        int64
	Version     uint64
	ModTime     time.Time
	ContentType string
	Checksum    uint32
	ChunkSize   int64
}

func (i Info) ETag() string { return fmt.Sprintf("\"%016x\"", i.Version) }

func (i Info) NumChunks() int {
	if i.Size <= i.ChunkSize || i.ChunkSize <= 0 {
		return 1
	}
	return int((i.Size + i.ChunkSize - 1) / i.ChunkSize)
}

func (i Info) ChunkBounds(idx int) (off, n int64) {
	if i.ChunkSize <= 0 {
		return 0, i.Size
	}
	off = int64(idx) * i.ChunkSize
	return off, min(i.ChunkSize, i.Size-off)
}

type Store struct{}

type Reader struct{}

var errStub = fmt.Errorf("blockstore: not built yet")

func Open(ctx context.Context, opts Options) (*Store, error) { return nil, errStub }
func (s *Store) Close() error                                { return errStub }
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64, opts PutOptions) (Info, error) {
	return Info{}, errStub
}
func (s *Store) Stat(ctx context.Context, key string) (Info, error)        { return Info{}, errStub }
func (s *Store) Get(ctx context.Context, key string) (Info, []byte, error) { return Info{}, nil, errStub }
func (s *Store) ReadChunk(ctx context.Context, info Info, idx int) ([]byte, error) {
	return nil, errStub
}
func (s *Store) Delete(ctx context.Context, key string, opts DeleteOptions) error { return errStub }
func (s *Store) List(ctx context.Context, prefix, startAfter string, limit int) ([]Info, error) {
	return nil, errStub
}
func (s *Store) Healthy() error { return errStub }
