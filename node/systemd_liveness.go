package node

import (
	"context"
	"errors"
	"fmt"

	"strata/blockstore"
)

// LivenessProbeKey is the key the watchdog's liveness check looks up. It
// need not exist: a lookup that answers "not found" went through the
// caches and the index like any read, which is what the check asks of the
// store.
const LivenessProbeKey = ".strata-liveness-probe"

// StoreLiveness is the watchdog's liveness check over a local store: it
// passes while store.Healthy is nil (it serves reads) and a Stat of
// LivenessProbeKey answers, found or not, within the check's deadline. A
// store whose index or locks hang fails it by the deadline (RunWatchdog
// enforces it even when Stat ignores its context). Give it the local
// store, never a cluster coordinator: an unreachable peer must not get
// this node restarted.
func StoreLiveness(store Store) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		if err := store.Healthy(); err != nil {
			return fmt.Errorf("store unhealthy: %w", err)
		}
		if _, err := store.Stat(ctx, LivenessProbeKey); err != nil && !errors.Is(err, blockstore.ErrNotFound) {
			return fmt.Errorf("index lookup: %w", err)
		}
		return nil
	}
}
