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
// WatchdogSec=), STOPPING=1 when the signal context ends. Outside systemd
// it does nothing.
type serviceNotify struct {
	n          *node.Notifier
	log        *slog.Logger
	progress   node.StartupProgress
	stopExtend func()
	stopSignal func() bool
	stopDog    context.CancelFunc
	watchdog   sync.WaitGroup
}

// startServiceNotify begins the startup part: the extensions of the start
// timeout while recovery advances, until ready or stop.
func startServiceNotify(ctx context.Context, log *slog.Logger) *serviceNotify {
	n, err := node.NewNotifier(node.NotifierOptions{Logger: log})
	if err != nil {
		log.Warn("systemd notify environment", "err", err)
	}
	s := &serviceNotify{n: n, log: log, stopSignal: func() bool { return false }, stopDog: func() {}}
	s.send(n.Status("recovering the store"))
	s.stopExtend = n.ExtendStartup(ctx, &s.progress, node.ExtendOptions{})
	return s
}

// recoveryProgress is the block store's RecoveryProgress hook.
func (s *serviceNotify) recoveryProgress(bytes int64) { s.progress.Add(bytes) }

// ready says startup is done (unless ctx already ended: a signal came
// during recovery), starts the watchdog over live (the local store, never
// the cluster's) and arranges STOPPING=1 for when ctx ends.
func (s *serviceNotify) ready(ctx context.Context, status string, live node.Store) {
	s.stopExtend()
	if ctx.Err() != nil {
		return
	}
	s.send(s.n.Ready(status))
	if d := s.n.WatchdogTimeout(); d > 0 {
		s.log.Info("systemd watchdog on", "timeout", d)
		dogCtx, cancel := context.WithCancel(ctx)
		s.stopDog = cancel
		s.watchdog.Go(func() { s.n.RunWatchdog(dogCtx, node.WatchdogOptions{Check: node.StoreLiveness(live)}) })
	}
	// The pings end before STOPPING=1 goes out, so none follows it.
	s.stopSignal = context.AfterFunc(ctx, func() {
		s.stopDog()
		s.watchdog.Wait()
		s.send(s.n.Stopping("draining: shutdown began"))
	})
}

// stop ends the startup extensions and the watchdog, and waits for them.
// serve defers it, so it runs after the store closed.
func (s *serviceNotify) stop() {
	s.stopExtend()
	s.stopSignal()
	s.stopDog()
	s.watchdog.Wait()
}

func (s *serviceNotify) send(err error) {
	if err != nil {
		s.log.Warn("systemd notify failed", "err", err)
	}
}
