package main

import (
	"context"
	"log/slog"
	"sync"

	"strata/node"
)

// serviceNotify is serve's side of a Type=notify unit
// (scripts/strata.service): STATUS= and EXTEND_TIMEOUT_USEC= while the
// store recovers (extended only while the recovery scan advances),
// READY=1 once the store is attached and the listeners are up, WATCHDOG=1
// while the local store passes its liveness check (when the unit sets
// WatchdogSec=), STOPPING=1 when the signal context ends, during recovery
// too, and after the last ping. Outside systemd it does nothing.
type serviceNotify struct {
	n          *node.Notifier
	log        *slog.Logger
	progress   node.StartupProgress
	stopExtend func()
	stopSignal func() bool
	watchdog   sync.WaitGroup

	mu       sync.Mutex
	stopping bool               // STOPPING=1 was sent or is being sent: no READY=1, no pings
	stopDog  context.CancelFunc // ends the watchdog; a no-op before ready
}

// startServiceNotify begins the startup part: the extensions of the start
// timeout while recovery advances, until ready or stop; and STOPPING=1
// once ctx ends.
func startServiceNotify(ctx context.Context, log *slog.Logger) *serviceNotify {
	n, err := node.NewNotifier(node.NotifierOptions{Logger: log})
	if err != nil {
		log.Warn("systemd notify environment", "err", err)
	}
	s := &serviceNotify{n: n, log: log, stopDog: func() {}}
	s.send(n.Status("recovering the store"))
	s.stopExtend = n.ExtendStartup(ctx, &s.progress, node.ExtendOptions{})
	s.stopSignal = context.AfterFunc(ctx, s.stoppingNow)
	return s
}

// stoppingNow ends the pings, then says STOPPING=1.
func (s *serviceNotify) stoppingNow() {
	s.mu.Lock()
	s.stopping = true
	stopDog := s.stopDog
	s.mu.Unlock()
	stopDog()
	s.watchdog.Wait()
	s.send(s.n.Stopping("draining: shutdown began"))
}

// recoveryProgress is the block store's RecoveryProgress hook.
func (s *serviceNotify) recoveryProgress(bytes int64) { s.progress.Add(bytes) }

// ready says startup is done and starts the watchdog over live (the local
// store, never the cluster's), unless shutdown began already (a signal
// during recovery).
func (s *serviceNotify) ready(ctx context.Context, status string, live node.Store) {
	s.stopExtend()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping || ctx.Err() != nil {
		return
	}
	s.send(s.n.Ready(status))
	if d := s.n.WatchdogTimeout(); d > 0 {
		s.log.Info("systemd watchdog on", "timeout", d)
		dogCtx, cancel := context.WithCancel(ctx)
		s.stopDog = cancel
		s.watchdog.Go(func() { s.n.RunWatchdog(dogCtx, node.WatchdogOptions{Check: node.StoreLiveness(live)}) })
	}
}

// stop ends the startup extensions and the watchdog, and waits for them.
// serve defers it, so it runs after the store closed.
func (s *serviceNotify) stop() {
	s.stopExtend()
	s.stopSignal()
	s.mu.Lock()
	stopDog := s.stopDog
	s.mu.Unlock()
	stopDog()
	s.watchdog.Wait()
}

func (s *serviceNotify) send(err error) {
	if err != nil {
		s.log.Warn("systemd notify failed", "err", err)
	}
}
