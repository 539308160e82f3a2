package blockstore

import (
	"errors"
	"fmt"
	"time"
)

// startClock starts the version clock above its persisted ceiling (the
// versions the previous run may have issued, whether or not anything was
// committed after them), writes a new ceiling and starts the refresher
// that keeps it ahead of the clock. A failed ceiling write is logged, not
// fatal: the store still opens (an index on a full disk, say), and the
// clock falls back to what the index commits store.
func (s *Store) startClock() error {
	ceiling, err := s.index.loadClockCeiling()
	if err != nil {
		return fmt.Errorf("blockstore: reading the clock ceiling: %w", err)
	}
	s.clock.observe(ceiling)
	s.clock.persist = s.persistClockCeiling
	s.clock.onFail = func(err error) {
		if !errors.Is(err, ErrClosed) {
			s.log.Warn("blockstore: cannot persist the version clock's ceiling; after a crash the clock may issue versions again that it issued since", "err", err)
		}
	}
	s.clock.refresh()
	s.clockStop, s.clockDone = make(chan struct{}), make(chan struct{})
	go s.runClockRefresh(clockRefresh)
	return nil
}

// runClockRefresh rewrites the clock ceiling about once every interval,
// whether or not the store has ops, so NextVersion rarely waits for it.
func (s *Store) runClockRefresh(interval time.Duration) {
	defer close(s.clockDone)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-s.clockStop:
			return
		case <-t.C:
			s.clock.refresh()
		}
	}
}

func (s *Store) stopClock() {
	if s.clockStop == nil {
		return
	}
	close(s.clockStop)
	<-s.clockDone
}

// persistClockCeiling is the clock's persist: a bbolt write of its own.
func (s *Store) persistClockCeiling(v uint64) error {
	if s.closed.Load() {
		return ErrClosed
	}
	return s.index.putClockCeiling(v)
}
