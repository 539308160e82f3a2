package cluster

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"sync"
	"testing"
	"time"

	"strata/blockstore"
	"strata/internal/poll"
	"strata/node/replication"
)

// TestPutQuorum covers the write quorum on N=3, W=2: who acks, who gets a
// hint, when the write fails and that a failed write leaves nothing.
func TestPutQuorum(t *testing.T) {
	body := pattern(1, 300<<10) // three fan-out chunks
	tests := []struct {
		name string
		// setup switches nodes off; n1 coordinates.
		setup      func(tc *testCluster)
		timeout    time.Duration // ReplicaTimeout
		noQuorum   bool
		wantHolds  []string // nodes holding the write afterwards
		wantHinted []string // hints n1 records
		notSentTo  []string // nodes no replica write may reach
	}{
		{
			name:      "all up",
			setup:     func(tc *testCluster) {},
			wantHolds: []string{"n1", "n2", "n3"},
		},
		{
			name:      "one slow but progressing: paces the write, not cut out",
			setup:     func(tc *testCluster) { tc.node("n2").slow.Store(true) },
			wantHolds: []string{"n1", "n2", "n3"},
		},
		{
			name:       "one dead in membership: not sent to, hinted",
			setup:      func(tc *testCluster) { tc.setDead("n3") },
			wantHolds:  []string{"n1", "n2"},
			wantHinted: []string{"n3"},
			notSentTo:  []string{"n3"},
		},
		{
			name:       "one refusing connections (membership still alive): hinted",
			setup:      func(tc *testCluster) { tc.node("n2").down.Store(true) },
			wantHolds:  []string{"n1", "n3"},
			wantHinted: []string{"n2"},
		},
		{
			name:       "one failing mid-body: stores nothing, hinted",
			setup:      func(tc *testCluster) { tc.node("n3").failAfter.Store(150 << 10) },
			wantHolds:  []string{"n1", "n2"},
			wantHinted: []string{"n3"},
		},
		{
			name:       "one stalled past the replica timeout: cut out, hinted",
			setup:      func(tc *testCluster) { tc.node("n2").stall.Store(true) },
			timeout:    300 * time.Millisecond, // long enough that healthy replicas on a loaded machine never hit it
			wantHolds:  []string{"n1", "n3"},
			wantHinted: []string{"n2"},
		},
		{
			name:       "one taking the body but never answering: a straggler, hinted once it times out",
			setup:      func(tc *testCluster) { tc.node("n3").hangAfterBody.Store(true) },
			timeout:    300 * time.Millisecond, // long enough that healthy replicas on a loaded machine never hit it
			wantHolds:  []string{"n1", "n2"},
			wantHinted: []string{"n3"},
		},
		{
			name:      "two dead: no quorum, nothing sent",
			setup:     func(tc *testCluster) { tc.setDead("n2"); tc.setDead("n3") },
			noQuorum:  true,
			notSentTo: []string{"n2", "n3"},
		},
		{
			name: "two failing mid-body: no quorum, the third stopped too",
			setup: func(tc *testCluster) {
				tc.node("n2").failAfter.Store(1)
				tc.node("n3").failAfter.Store(1)
			},
			noQuorum: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tc := newTestCluster(t, 3, func(o *Options) {
				if tt.timeout > 0 {
					o.ReplicaTimeout = tt.timeout
				}
			})
			tt.setup(tc)
			info, err := tc.put(context.Background(), "n1", "k", body)
			for _, id := range tt.notSentTo {
				tc.node(id).down.Store(false) // count attempts, not refusals
				if got := tc.node(id).putReplicas.Load(); got != 0 {
					t.Errorf("%d replica writes sent to %s", got, id)
				}
			}
			if tt.noQuorum {
				if !errors.Is(err, replication.ErrNoQuorum) {
					t.Fatalf("Put = %v, want ErrNoQuorum", err)
				}
				waitStragglers(t, tc)
				if got := tc.anyHolds("k"); len(got) != 0 {
					t.Errorf("after a failed write %v hold the key", got)
				}
				if h := tc.node("n1").hinted(); len(h) != 0 {
					t.Errorf("a failed write left hints %v", h)
				}
				return
			}
			if err != nil {
				t.Fatalf("Put: %v", err)
			}
			if info.Size != int64(len(body)) || info.Version == 0 {
				t.Errorf("Put answered %+v", info)
			}
			waitStragglers(t, tc)
			if got := tc.holding("k", info.Version); !slices.Equal(got, tt.wantHolds) {
				t.Errorf("holding %v, want %v", got, tt.wantHolds)
			}
			var hinted []string
			for _, h := range tc.node("n1").hinted() {
				if h.key != "k" || h.version != info.Version || h.deleted {
					t.Errorf("hint %+v, want key k at version %d", h, info.Version)
				}
				hinted = append(hinted, h.target)
			}
			if !slices.Equal(hinted, tt.wantHinted) {
				t.Errorf("hinted %v, want %v", hinted, tt.wantHinted)
			}
			for _, id := range tt.wantHolds {
				if got, _ := tc.node(id).local.bytesOf("k"); !bytes.Equal(got, body) {
					t.Errorf("%s holds %d bytes, not the body", id, len(got))
				}
			}
		})
	}
}

// waitStragglers waits until every node's replica requests are over.
func waitStragglers(t *testing.T, tc *testCluster) {
	t.Helper()
	for _, n := range tc.nodes {
		done := make(chan struct{})
		go func() { n.c.stragglers.Wait(); close(done) }()
		poll.Until(t, n.id+"'s replica requests to finish", func() bool {
			select {
			case <-done:
				return true
			default:
				return false
			}
		})
	}
}

// A body that fails partway, or ends short of its declared size, stops
// every replica: nothing becomes visible anywhere, and no hints follow.
func TestPutBodyFailureLeavesNothing(t *testing.T) {
	body := pattern(2, 400<<10)
	tests := []struct {
		name string
		r    io.Reader
		size int64
		want error
	}{
		{"fails in the first chunk", &failingReader{r: bytes.NewReader(body), left: 1000, err: errClientGone}, int64(len(body)), errClientGone},
		{"fails after several chunks", &failingReader{r: bytes.NewReader(body), left: 300 << 10, err: errClientGone}, int64(len(body)), errClientGone},
		{"fails with unknown size", &failingReader{r: bytes.NewReader(body), left: 200 << 10, err: errClientGone}, -1, errClientGone},
		{"ends short of its size", bytes.NewReader(body[:100<<10]), int64(len(body)), blockstore.ErrSizeMismatch},
		// A raw net/http chunked body cut short reads as io.ErrUnexpectedEOF:
		// a truncated body, never a clean end.
		{"truncated, unknown size", &failingReader{r: bytes.NewReader(body), left: 1000, err: io.ErrUnexpectedEOF}, -1, io.ErrUnexpectedEOF},
		{"truncated at a chunk boundary, unknown size", &failingReader{r: bytes.NewReader(body), left: fanOutBufSize, err: io.ErrUnexpectedEOF}, -1, io.ErrUnexpectedEOF},
		{"truncated, known size", &failingReader{r: bytes.NewReader(body), left: 300 << 10, err: io.ErrUnexpectedEOF}, int64(len(body)), io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tc := newTestCluster(t, 3, nil)
			_, err := tc.node("n1").c.Put(context.Background(), "k", tt.r, tt.size, blockstore.PutOptions{})
			if !errors.Is(err, tt.want) {
				t.Fatalf("Put = %v, want %v", err, tt.want)
			}
			waitStragglers(t, tc)
			if got := tc.anyHolds("k"); len(got) != 0 {
				t.Errorf("%v hold the key after a failed body", got)
			}
			if h := tc.node("n1").hinted(); len(h) != 0 {
				t.Errorf("hints %v after a failed body", h)
			}
		})
	}
}

var errClientGone = errors.New("client went away")

// Coordinators writing one key at once: every write is acknowledged, and
// afterwards every home holds the same version, the highest acknowledged
// one, with its bytes (last writer wins in every order of arrival). The
// bodies span several chunks, so the replica applies overlap.
func TestConcurrentCoordinatorsLastWriterWins(t *testing.T) {
	tc := newTestCluster(t, 3, func(o *Options) { o.ReplicaTimeout = time.Minute })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for round := range 5 {
		var wg sync.WaitGroup
		var mu sync.Mutex
		bodies := map[uint64][]byte{}
		for i, n := range tc.nodes {
			body := pattern(byte(10*round+i), 300<<10+i)
			wg.Add(1)
			go func() {
				defer wg.Done()
				info, err := tc.put(ctx, n.id, "k", body)
				if err != nil {
					t.Errorf("round %d: Put via %s: %v", round, n.id, err)
					return
				}
				mu.Lock()
				bodies[info.Version] = body
				mu.Unlock()
			}()
		}
		wg.Wait()
		waitStragglers(t, tc)
		if t.Failed() {
			return
		}
		var newest uint64
		for v := range bodies {
			newest = max(newest, v)
		}
		if got := tc.holding("k", newest); len(got) != 3 {
			t.Fatalf("round %d: %v hold the newest version %x, want all three", round, got, newest)
		}
		for _, n := range tc.nodes {
			if got, _ := n.local.bytesOf("k"); !bytes.Equal(got, bodies[newest]) {
				t.Fatalf("round %d: %s holds other bytes than the newest write's", round, n.id)
			}
		}
		data, _, err := tc.readAll(ctx, "n2", "k")
		if err != nil || !bytes.Equal(data, bodies[newest]) {
			t.Fatalf("round %d: read back %d bytes, %v", round, len(data), err)
		}
	}
}

// A replica that already holds a newer version acks at once without
// taking the body: that is durable too, and the write still succeeds.
func TestPutOlderThanReplicasStillAcks(t *testing.T) {
	tc := newTestCluster(t, 3, nil)
	newer, err := tc.put(context.Background(), "n1", "k", []byte("newer"))
	if err != nil {
		t.Fatal(err)
	}
	waitStragglers(t, tc)
	old := pattern(3, 200<<10)
	info, err := tc.node("n2").c.Put(context.Background(), "k", bytes.NewReader(old), int64(len(old)), blockstore.PutOptions{Version: newer.Version - 1})
	if err != nil {
		t.Fatalf("Put of an older version: %v", err)
	}
	if info.Version != newer.Version-1 {
		t.Errorf("answered version %x, want the write's %x", info.Version, newer.Version-1)
	}
	waitStragglers(t, tc)
	if got := tc.holding("k", newer.Version); len(got) != 3 {
		t.Errorf("the newer version is on %v only", got)
	}
}

// failsAtEnd is a body that hands out data, then fails where it would end
// (a verifying body whose digest does not match). Its first Read waits for
// wait, so the test decides what happened before the body is read.
type failsAtEnd struct {
	data []byte
	wait func()
	read int
}

var errDigestAtEnd = errors.New("test: digest mismatch at the end of the body")

func (f *failsAtEnd) Read(p []byte) (int, error) {
	if f.wait != nil {
		f.wait()
		f.wait = nil
	}
	if f.read == len(f.data) {
		return 0, errDigestAtEnd
	}
	n := copy(p, f.data[f.read:])
	f.read += n
	return n, nil
}

// When every replica answered before the body ended (each holds a newer
// version), the coordinator still reads the body to its end: one failing
// there (a bad digest) fails the write instead of being acknowledged.
func TestPutOlderThanReplicasStillChecksTheBody(t *testing.T) {
	tc := newTestCluster(t, 3, nil)
	newer, err := tc.put(context.Background(), "n1", "k", []byte("newer"))
	if err != nil {
		t.Fatal(err)
	}
	waitStragglers(t, tc)
	body := &failsAtEnd{data: pattern(5, 4*fanOutBufSize)}
	// The replicas answer from the version check alone: the body is read
	// only once all of them have (their requests are the stragglers).
	body.wait = func() { waitStragglers(t, tc) }
	_, err = tc.node("n2").c.Put(context.Background(), "k", body, int64(len(body.data)), blockstore.PutOptions{Version: newer.Version - 1})
	if !errors.Is(err, errDigestAtEnd) {
		t.Fatalf("Put whose body fails at its end, every replica newer: %v, want the body's error", err)
	}
	if body.read != len(body.data) {
		t.Fatalf("read %d of %d body bytes", body.read, len(body.data))
	}
}

// Deletes: tombstones on W homes, then reads say not found everywhere;
// deleting a missing key is not found; a dead home is hinted a tombstone.
func TestDelete(t *testing.T) {
	ctx := context.Background()
	tc := newTestCluster(t, 3, nil)
	if _, err := tc.put(ctx, "n1", "k", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	waitStragglers(t, tc)
	tc.setDead("n3")
	if err := tc.node("n2").c.Delete(ctx, "k", blockstore.DeleteOptions{}); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	waitStragglers(t, tc)
	for _, id := range []string{"n1", "n2"} {
		if _, err := tc.node(id).c.Stat(ctx, "k"); !errors.Is(err, blockstore.ErrNotFound) {
			t.Errorf("Stat via %s after delete = %v, want ErrNotFound", id, err)
		}
		if _, err := tc.node(id).c.Open(ctx, "k"); !errors.Is(err, blockstore.ErrNotFound) {
			t.Errorf("Open via %s after delete = %v, want ErrNotFound", id, err)
		}
	}
	hints := tc.node("n2").hinted()
	if len(hints) != 1 || hints[0].target != "n3" || !hints[0].deleted {
		t.Errorf("hints %+v, want one tombstone hint for n3", hints)
	}
	if err := tc.node("n1").c.Delete(ctx, "never", blockstore.DeleteOptions{}); !errors.Is(err, blockstore.ErrNotFound) {
		t.Errorf("Delete of a missing key = %v, want ErrNotFound", err)
	}
	tc.setDead("n2")
	if err := tc.node("n1").c.Delete(ctx, "k", blockstore.DeleteOptions{}); !errors.Is(err, replication.ErrNoQuorum) {
		t.Errorf("Delete with two homes dead = %v, want ErrNoQuorum", err)
	}
}

// The replica-side lock is taken only once the body is complete: while a
// replica apply streams, another apply of the same key can start and
// finish (a lock held across the stream would deadlock two coordinators).
func TestApplyPutLocksOnlyOnceTheBodyIsIn(t *testing.T) {
	tc := newTestCluster(t, 1, func(o *Options) { o.Replicas, o.WriteQuorum, o.ReadQuorum = 1, 1, 1 })
	c := tc.nodes[0].c
	pr, pw := io.Pipe()
	first := make(chan error, 1)
	go func() {
		_, err := c.ApplyPut(context.Background(), "k", pr, 10, blockstore.PutOptions{Version: 5 << 16})
		first <- err
	}()
	if _, err := pw.Write([]byte("01234")); err != nil { // half the body: the apply is streaming
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.ApplyPut(ctx, "k", bytes.NewReader([]byte("newer")), 5, blockstore.PutOptions{Version: 6 << 16}); err != nil {
		pw.CloseWithError(err)
		<-first
		t.Fatalf("a second apply waited on the streaming one: %v", err)
	}
	pw.Write([]byte("56789"))
	pw.Close()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	e, _ := c.Lookup(context.Background(), "k")
	if e.Version != 6<<16 {
		t.Errorf("version %x after both applies, want the newer %x", e.Version, 6<<16)
	}
}

// noteApplied sees every change of a replica's entry, old and new, in
// order, so digests can follow them; an apply that changes nothing (an
// older version) notes nothing.
func TestApplyNotesEveryChange(t *testing.T) {
	tc := newTestCluster(t, 1, func(o *Options) { o.Replicas, o.WriteQuorum, o.ReadQuorum = 1, 1, 1 })
	c := tc.nodes[0].c
	type note struct {
		old, cur   uint64
		curDeleted bool
	}
	var notes []note
	c.watch.applied = func(key string, old, cur blockstore.Entry) {
		notes = append(notes, note{old.Version, cur.Version, cur.Deleted})
	}
	ctx := context.Background()
	put := func(v uint64, body string) func() error {
		return func() error {
			_, err := c.ApplyPut(ctx, "k", bytes.NewReader([]byte(body)), int64(len(body)), blockstore.PutOptions{Version: v})
			return err
		}
	}
	steps := []struct {
		name  string
		apply func() error
		want  []note // notes added by this step
	}{
		{"first put", put(10, "a"), []note{{0, 10, false}}},
		{"newer delete", func() error { return c.ApplyDelete(ctx, "k", 12) }, []note{{10, 12, true}}},
		{"older put: nothing changes", put(11, "old"), nil},
		{"empty newer put", put(14, ""), []note{{12, 14, false}}},
		{"delete of an empty blob", func() error { return c.ApplyDelete(ctx, "k", 16) }, []note{{14, 16, true}}},
	}
	for _, s := range steps {
		before := len(notes)
		if err := s.apply(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got := notes[before:]; !slices.Equal(got, s.want) {
			t.Errorf("%s: noted %v, want %v", s.name, got, s.want)
		}
	}
}

// Versions a coordinator stamps carry its tag in the low bits, increase
// strictly, and differ between coordinators ticking in the same
// millisecond.
func TestWriteVersionTagged(t *testing.T) {
	tests := []struct{ tick, tag, want uint64 }{
		{0x10000, 0x05, 0x10005},
		{0x10005, 0x05, 0x10005},
		{0x10006, 0x05, 0x10105},
		{0x100ff, 0x00, 0x10100},
	}
	for _, tt := range tests {
		if got := tagVersion(tt.tick, tt.tag); got != tt.want {
			t.Errorf("tagVersion(%#x, %#x) = %#x, want %#x", tt.tick, tt.tag, got, tt.want)
		}
	}
	tc := newTestCluster(t, 3, nil)
	seen := map[uint64]string{}
	for _, n := range tc.nodes {
		var last uint64
		for range 300 {
			v, err := n.c.writeVersion(context.Background(), 0)
			if err != nil {
				t.Fatal(err)
			}
			if v <= last {
				t.Fatalf("%s: version %#x after %#x", n.id, v, last)
			}
			if v&0xff != n.c.versionTag {
				t.Fatalf("%s: version %#x without its tag %#x", n.id, v, n.c.versionTag)
			}
			if other, dup := seen[v]; dup {
				t.Fatalf("version %#x stamped by %s and %s", v, other, n.id)
			}
			seen[v] = n.id
			last = v
		}
	}
}

// TestWriteAfterAheadCoordinatorWins: a coordinator whose clock runs ahead
// of the wall clock (as after a restart, which starts it at the persisted
// ceiling) holds its write until the wall clock passes the version, so a
// later write through a coordinator that never saw it (n4 is no home of
// the key) stamps a higher version and wins, as a linearizable register
// must. Without the wait the earlier write would win for the lead's time.
func TestWriteAfterAheadCoordinatorWins(t *testing.T) {
	tc := newTestCluster(t, 4, nil)
	ctx := context.Background()
	key := tc.keyWithHomes("ahead/", true, "n1", "n2", "n3")
	ahead := uint64(time.Now().Add(300*time.Millisecond).UnixMilli()) << 16
	tc.node("n1").store.ObserveVersion(ahead)
	first, err := tc.put(ctx, "n1", key, []byte("first"))
	if err != nil {
		t.Fatal(err)
	}
	if first.Version < ahead {
		t.Fatalf("version %#x below the clock's %#x", first.Version, ahead)
	}
	second, err := tc.put(ctx, "n4", key, []byte("second"))
	if err != nil {
		t.Fatal(err)
	}
	if second.Version <= first.Version {
		t.Fatalf("the later write got version %#x, not above the earlier %#x", second.Version, first.Version)
	}
	for _, id := range []string{"n1", "n4"} {
		if got, _, err := tc.readAll(ctx, id, key); err != nil || string(got) != "second" {
			t.Fatalf("read through %s = %q, %v; want the later write", id, got, err)
		}
	}
}

// A lead past maxVersionLead (a wall clock set back) is not waited out,
// and a cancelled context ends the wait.
func TestWaitVersionTimeBounds(t *testing.T) {
	far := uint64(time.Now().Add(time.Hour).UnixMilli()) << 16
	if err := waitVersionTime(context.Background(), far); err != nil {
		t.Fatalf("far ahead: %v, want no wait", err)
	}
	near := uint64(time.Now().Add(2*time.Second).UnixMilli()) << 16
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := waitVersionTime(ctx, near); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled wait: %v, want context.Canceled", err)
	}
}
