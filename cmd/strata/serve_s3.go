package main

import (
	"context"
	"log/slog"
	"net"
	"sync"

	"strata/node"
	"strata/node/s3"
)

// startS3 serves the S3 API on ln over store (the same Store the blob API
// uses, so a cluster works unchanged) until ctx is cancelled, and runs the
// multipart expiry sweep beside it. stop waits for both after ctx is done.
func startS3(ctx context.Context, cfg node.Config, srv *node.Server, store node.Store, ln net.Listener, log *slog.Logger) (stop func(), err error) {
	slog := log.With("component", "s3")
	h, err := s3.New(s3.Options{
		Store:           store,
		Verifier:        s3.NewVerifier(cfg.S3),
		Node:            srv,
		Domain:          cfg.S3.Domain,
		Region:          cfg.S3.Region,
		MaxObjectSize:   int64(cfg.MaxBlobSize),
		MultipartExpiry: cfg.S3.MultipartExpiry,
		ETag:            cfg.S3.ETag,
		Registerer:      srv.Registry(),
		Logger:          slog,
	})
	if err != nil {
		return nil, err
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := srv.ServeExtra(ctx, ln, h, "s3"); err != nil {
			slog.Warn("s3 listener stopped", "err", err)
		}
	}()
	go func() {
		defer wg.Done()
		h.RunExpiry(ctx)
	}()
	keys := make([]string, len(cfg.S3.Keys))
	for i, k := range cfg.S3.Keys {
		keys[i] = k.String() // access key and scope, never the secret
	}
	slog.Info("s3 api ready", "addr", ln.Addr().String(), "domain", cfg.S3.Domain, "region", cfg.S3.Region, "keys", keys)
	return wg.Wait, nil
}
