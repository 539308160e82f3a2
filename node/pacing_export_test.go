package node

import (
	"context"
	"time"

	"strata/node/pace"
)

// SetPacingClock rebuilds the Server's pacing controller (from its
// config) on a test's clock and sleep, before the Server serves anything.
func SetPacingClock(s *Server, now func() time.Time, sleep func(context.Context, time.Duration) error) (*pace.Controller, error) {
	p, err := newPacing(s.cfg.Pacing, pace.Options{Now: now, Sleep: sleep})
	if err != nil || p == nil {
		return nil, err
	}
	s.pacing = p
	return p.ctl, nil
}
