package tiering

import (
	"context"

	"strata/blockstore"
)

// passRunner is implemented by backends that run compaction and scrub
// passes on demand (*blockstore.Store does; see its StartPass).
type passRunner interface {
	StartPass(kind blockstore.PassKind) (blockstore.PassStatus, error)
	Pass(kind blockstore.PassKind, id uint64) (blockstore.PassStatus, error)
	WaitPass(ctx context.Context, kind blockstore.PassKind, id uint64) (blockstore.PassStatus, error)
}

var _ passRunner = (*blockstore.Store)(nil)

func (s *Store) passes() (passRunner, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	p, ok := s.backend.(passRunner)
	if !ok {
		return nil, ErrNoPasses
	}
	return p, nil
}

// StartPass starts a compaction or scrub pass of the backend (see
// blockstore.Store.StartPass). The caches need none: they never hold the
// only copy, and every SSD read is verified.
func (s *Store) StartPass(kind blockstore.PassKind) (blockstore.PassStatus, error) {
	p, err := s.passes()
	if err != nil {
		return blockstore.PassStatus{}, err
	}
	return p.StartPass(kind)
}

// Pass reports a backend pass (see blockstore.Store.Pass).
func (s *Store) Pass(kind blockstore.PassKind, id uint64) (blockstore.PassStatus, error) {
	p, err := s.passes()
	if err != nil {
		return blockstore.PassStatus{}, err
	}
	return p.Pass(kind, id)
}

// WaitPass waits for a backend pass to finish (see blockstore.Store.WaitPass).
func (s *Store) WaitPass(ctx context.Context, kind blockstore.PassKind, id uint64) (blockstore.PassStatus, error) {
	p, err := s.passes()
	if err != nil {
		return blockstore.PassStatus{}, err
	}
	return p.WaitPass(ctx, kind, id)
}
