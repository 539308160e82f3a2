package membership

import (
	"fmt"
	"testing"
	"time"

	"strata/internal/poll"
)

// BenchmarkConvergence measures, on loopback, how long n fresh nodes
// (each joining through the first) take until every node sees every
// other alive, and how long after one stops without a leave until every
// other sees it dead. Reported as ms per event, with LoopbackTiming and
// with the production defaults (memberlist's LAN settings).
//
//	go test ./node/membership -run '^$' -bench Convergence -benchtime 3x
func BenchmarkConvergence(b *testing.B) {
	for _, tm := range []struct {
		name   string
		timing Timing
	}{{"loopback", LoopbackTiming()}, {"lan", Timing{}}} {
		for _, n := range []int{3, 10} {
			b.Run(fmt.Sprintf("timing=%s/nodes=%d", tm.name, n), func(b *testing.B) {
				var joined, detected time.Duration
				for range b.N {
					j, d := convergeOnce(b, n, tm.timing)
					joined += j
					detected += d
				}
				b.ReportMetric(float64(joined.Milliseconds())/float64(b.N), "join-ms")
				b.ReportMetric(float64(detected.Milliseconds())/float64(b.N), "dead-ms")
			})
		}
	}
}

func convergeOnce(b *testing.B, n int, timing Timing) (joined, detected time.Duration) {
	var nodes []*Membership
	defer func() {
		for _, m := range nodes {
			m.Close()
		}
	}()
	start := time.Now()
	for i := range n {
		opts := Options{NodeID: fmt.Sprintf("n%02d", i), BindAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:1",
			Secret: testSecret, Timing: timing}
		if i > 0 {
			opts.Seeds = []string{nodes[0].Self().GossipAddr}
		}
		m, err := New(opts)
		if err != nil {
			b.Fatal(err)
		}
		nodes = append(nodes, m)
		if err := m.Start(b.Context()); err != nil {
			b.Fatal(err)
		}
	}
	poll.Until(b, "all alive", func() bool { return allAlive(nodes...) })
	joined = time.Since(start)
	victim := nodes[n-1]
	nodes = nodes[:n-1]
	id := victim.Self().ID
	start = time.Now()
	victim.Close()
	poll.Until(b, id+" dead everywhere", func() bool {
		for _, m := range nodes {
			if !sees(m, id, Dead) {
				return false
			}
		}
		return true
	})
	return joined, time.Since(start)
}
