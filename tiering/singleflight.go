package tiering

import (
	"context"
	"errors"
	"sync"
)

// flightGroup coalesces concurrent backend reads of the same chunk: the
// first caller (the leader) reads, the others wait for its result.
type flightGroup struct {
	mu sync.Mutex
	m  map[flightKey]*flight
}

type flightKey struct {
	key     string
	version uint64
	chunk   int
}

type flight struct {
	done    chan struct{}
	data    []byte
	err     error
	waiters int
}

// do runs fn once for concurrent callers with the same key. leader reports
// whether this caller ran fn (and so should fill the caches). A follower
// whose leader gave up on its own context retries rather than failing.
func (g *flightGroup) do(ctx context.Context, k flightKey, fn func(context.Context) ([]byte, error)) (data []byte, leader bool, err error) {
	for {
		g.mu.Lock()
		if g.m == nil {
			g.m = make(map[flightKey]*flight)
		}
		if f, ok := g.m[k]; ok {
			f.waiters++
			g.mu.Unlock()
			select {
			case <-f.done:
			case <-ctx.Done():
				return nil, false, ctx.Err()
			}
			if f.err != nil && isContextErr(f.err) && ctx.Err() == nil {
				continue
			}
			return f.data, false, f.err
		}
		f := &flight{done: make(chan struct{})}
		g.m[k] = f
		g.mu.Unlock()

		f.data, f.err = fn(ctx)

		g.mu.Lock()
		delete(g.m, k)
		g.mu.Unlock()
		close(f.done)
		return f.data, true, f.err
	}
}

// waiting is the number of followers of the flight for k (tests).
func (g *flightGroup) waiting(k flightKey) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	if f, ok := g.m[k]; ok {
		return f.waiters
	}
	return 0
}

func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
