package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"strata/blockstore"
	"strata/ioengine/devmodel"
	"strata/node"
	"strata/tiering"
)

// embeddedTarget drives the tiered store in-process, with no HTTP in the
// way, so a run measures the disks and the caches alone.
type embeddedTarget struct {
	dir    string
	store  *tiering.Store
	device *devmodel.FS // --device-model: the HDD tier's modelled head, else nil
	opened time.Time
	out    io.Writer
}

// openEmbeddedTarget opens the store on cfg.EmbeddedDir as `strata serve
// --data DIR` would: the embedded layout and sizes, or with --config the
// file's layout and sizes, DIR replacing its data_dir.
func openEmbeddedTarget(ctx context.Context, cfg benchConfig, s stdio) (*embeddedTarget, error) {
	nc := node.EmbeddedConfig("")
	if cfg.ConfigFile != "" {
		var err error
		if nc, err = node.LoadConfig(cfg.ConfigFile); err != nil {
			return nil, err
		}
	} else {
		nc.LogLevel = "warn" // the store's startup lines would drown the figures
	}
	nc.SetDataDir(cfg.EmbeddedDir)
	if err := nc.Validate(); err != nil {
		return nil, err
	}
	log, err := newLogger(nc, s.err)
	if err != nil {
		return nil, err
	}
	if err := createDataDirs(nc); err != nil {
		return nil, err
	}
	device, err := benchDataFS(cfg)
	if err != nil {
		return nil, err
	}
	store, _, err := openStore(ctx, nc, log, fsOrNil(device), nil, nil)
	if err != nil {
		return nil, err
	}
	return &embeddedTarget{dir: cfg.EmbeddedDir, store: store, device: device, opened: time.Now(), out: s.out}, nil
}

func (t *embeddedTarget) mode() string     { return "embedded" }
func (t *embeddedTarget) describe() string { return "embedded=" + abs(t.dir) + deviceNote(t.device) }

func (t *embeddedTarget) ready(context.Context) error {
	if err := t.store.Writable(); err != nil {
		return fmt.Errorf("store on %s is not writable: %w", t.dir, err)
	}
	return nil
}

func (t *embeddedTarget) put(ctx context.Context, key string, body io.Reader, size int64, contentType string) error {
	_, err := t.store.Put(ctx, key, body, size, blockstore.PutOptions{ContentType: contentType})
	return asBenchError(err)
}

func (t *embeddedTarget) get(ctx context.Context, key string, read func(io.Reader) (int64, error)) (int64, string, error) {
	obj, err := t.store.Open(ctx, key)
	if err != nil {
		return 0, "", asBenchError(err)
	}
	n, err := read(obj)
	tier := obj.Tier() // the slowest tier that served bytes, as X-Strata-Tier says
	if cerr := obj.Close(); err == nil && cerr != nil {
		err = cerr
	}
	return n, tier, err
}

func (t *embeddedTarget) delete(ctx context.Context, key string) error {
	return asBenchError(t.store.Delete(ctx, key, blockstore.DeleteOptions{}))
}

func (t *embeddedTarget) close() error {
	reportDeviceModel(t.out, t.device, time.Since(t.opened))
	if err := t.store.Close(); err != nil {
		return fmt.Errorf("close store: %w", err)
	}
	return nil
}

// asBenchError gives a store error the kind the HTTP client gives the
// node's answer: a missing key wraps errNotFound.
func asBenchError(err error) error {
	if errors.Is(err, blockstore.ErrNotFound) {
		return fmt.Errorf("%w: %w", errNotFound, err)
	}
	return err
}
