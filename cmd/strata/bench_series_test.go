package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"strata/blockstore"
)

// TestBenchRecorderSeries records outcomes from several clients into two
// intervals and checks each point and the total.
func TestBenchRecorderSeries(t *testing.T) {
	origin := time.Unix(1700000000, 0)
	start := origin.Add(2 * time.Second) // a later phase: t counts from origin
	rec := newBenchRecorder(8, "reads", origin, start, true)
	ms := time.Millisecond
	for i := range 10 {
		rec.record(i, benchOutcome{read: true, bytes: 100, tier: "ram", latency: ms, done: start})
	}
	rec.record(3, benchOutcome{read: true, err: errNotFound, latency: 2 * ms, done: start})
	rec.record(4, benchOutcome{read: false, bytes: 1e6, latency: 10 * ms, done: start})
	rec.record(5, benchOutcome{read: false, err: &statusError{code: 503}, done: start})
	p1 := rec.sample(start.Add(time.Second))
	rec.record(1, benchOutcome{read: true, bytes: 100, tier: "hdd", latency: 5 * ms, done: start.Add(1500 * ms)})
	rec.record(2, benchOutcome{read: true, err: fmt.Errorf("GET: %w", errVerifyMismatch), done: start.Add(1500 * ms)})
	p2 := rec.sample(start.Add(1500 * ms))

	if p1.TSec != 3 || p1.IntervalSec != 1 || p1.Phase != "reads" {
		t.Errorf("point 1 at t=%g interval %g phase %q", p1.TSec, p1.IntervalSec, p1.Phase)
	}
	if p1.Read.Ops != 11 || p1.Read.Errors != 0 || p1.Read.OpsPerSec != 11 || p1.Read.MBPerSec != 1000e-6 {
		t.Errorf("point 1 reads %+v", p1.Read)
	}
	if p1.Write.Ops != 1 || p1.Write.Errors != 1 || p1.Write.MBPerSec != 1 || p1.Write.P50Us < 9990 || p1.Write.P50Us > 10010 {
		t.Errorf("point 1 writes %+v", p1.Write)
	}
	if p1.TierReads["ram"] != 10 || len(p1.TierReads) != 1 {
		t.Errorf("point 1 tiers %v", p1.TierReads)
	}
	if p2.TSec != 3.5 || p2.IntervalSec != 0.5 || p2.Read.Ops != 1 || p2.Read.Errors != 1 || p2.Read.OpsPerSec != 2 || p2.TierReads["hdd"] != 1 || p2.TierReads["ram"] != 0 {
		t.Errorf("point 2 %+v", p2)
	}
	tot := rec.total
	if tot.readOps != 11 || tot.notFound != 1 || tot.writeOps != 1 || tot.writeErrs != 1 || tot.mismatches != 1 || tot.verified != 11 {
		t.Errorf("total reads %d not found %d writes %d write errors %d mismatches %d verified %d",
			tot.readOps, tot.notFound, tot.writeOps, tot.writeErrs, tot.mismatches, tot.verified)
	}
	if tot.writeErrKinds["http_503"] != 1 || tot.readErrKinds[errKindVerifyMismatch] != 1 {
		t.Errorf("error kinds read %v write %v", tot.readErrKinds, tot.writeErrKinds)
	}
	if len(rec.series) != 2 {
		t.Errorf("%d points kept", len(rec.series))
	}
}

func TestErrorKind(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&statusError{code: 503}, "http_503"},
		{fmt.Errorf("PUT k: %w", &statusError{code: 507}), "http_507"},
		{fmt.Errorf("GET k: %w", errVerifyMismatch), errKindVerifyMismatch},
		{fmt.Errorf("GET k: %w", errVerifyStale), errKindVerifyStale},
		{fmt.Errorf("put: %w", blockstore.ErrNoSpace), errKindNoSpace},
		{blockstore.ErrReadOnly, errKindReadOnly},
		{blockstore.ErrCorrupt, errKindCorrupt},
		{context.DeadlineExceeded, errKindTimeout},
		{&net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}, errKindTimeout},
		{&net.OpError{Op: "dial", Err: errors.New("connection refused")}, errKindConnection},
		{errors.New("something else"), errKindOther},
	} {
		if got := errorKind(tc.err); got != tc.want {
			t.Errorf("errorKind(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

// BenchmarkBenchRecorder measures what recording one outcome costs a
// client: through the recorder's locked shards, against counting into a
// client's own stats with no lock (how the run counted before the
// series). go test -run '^$' -bench BenchRecorder ./cmd/strata/
func BenchmarkBenchRecorder(b *testing.B) {
	o := benchOutcome{read: true, bytes: 4096, tier: "ram", latency: 3 * time.Microsecond}
	b.Run("recorder", func(b *testing.B) {
		rec := newBenchRecorder(16, phaseMixed, time.Now(), time.Now(), false)
		var next atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			id := int(next.Add(1))
			for pb.Next() {
				rec.record(id, o)
			}
		})
	})
	b.Run("unshared", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			st := newBenchStats(false)
			for pb.Next() {
				st.add(o)
			}
		})
	})
}
