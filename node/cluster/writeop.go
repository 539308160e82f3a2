package cluster

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"strata/blockstore"
	"strata/internal/mix"
	"strata/node/membership"
	"strata/node/replication"
)

// writeOp is one replicated write (PUT or DELETE) in flight: the quorum
// bookkeeping shared by the replica requests, which report into results,
// the collector, which records them and hints whoever missed the write,
// and the caller, which waits until the quorum is decided.
type writeOp struct {
	c       *Cluster
	what    string // "put" or "delete", for errors
	key     string
	version uint64
	deleted bool
	sent    int           // replica requests started
	replied chan struct{} // one send per replica, after its result is recorded

	mu        sync.Mutex
	q         *replication.WriteQuorum
	decided   chan struct{} // closed once q.Done()
	closed    bool
	aborted   bool // abandoned (body failed, quorum lost): nothing to hint
	infos     map[string]blockstore.Info
	hadLive   bool // an acked home had a live blob (delete's 404)
	errs      []error
	needed    int
	homeCount int
}

// replicaResult is one home's answer to its replica request.
type replicaResult struct {
	home     string
	info     blockstore.Info
	hadLive  bool
	err      error
	timedOut bool
}

// newWriteOp sets up the bookkeeping for a write of key at version to
// homes and returns the homes to send to: every reachable one (this node
// always is), the others being recorded unreachable at once.
func (c *Cluster) newWriteOp(v *view, what, key string, version uint64, deleted bool, homes []membership.Member) (*writeOp, []membership.Member) {
	ids := make([]string, len(homes))
	for i, h := range homes {
		ids[i] = h.ID
	}
	op := &writeOp{
		c: c, what: what, key: key, version: version, deleted: deleted,
		q:         replication.NewWriteQuorum(ids, c.opts.WriteQuorum),
		decided:   make(chan struct{}),
		infos:     make(map[string]blockstore.Info),
		needed:    c.opts.WriteQuorum,
		homeCount: len(homes),
	}
	var send []membership.Member
	for _, h := range homes {
		if h.ID != v.self.ID && !h.Reachable() {
			op.q.Unreachable(h.ID)
			continue
		}
		send = append(send, h)
	}
	op.sent = len(send)
	op.replied = make(chan struct{}, len(send))
	op.checkDecidedLocked()
	return op, send
}

// possible reports whether the quorum can still be reached.
func (op *writeOp) possible() bool {
	op.mu.Lock()
	defer op.mu.Unlock()
	return op.q.Possible()
}

// reachableWith reports whether the acks so far plus streaming replicas
// (still taking the body) can make the quorum. A replica that stopped
// taking the body has recorded its result before its pipe failed the
// fan-out's write (reply orders the two), so it is counted exactly once.
func (op *writeOp) reachableWith(streaming int) bool {
	op.mu.Lock()
	defer op.mu.Unlock()
	return op.q.Acks()+streaming >= op.needed
}

// abandon marks the write given up by the coordinator: no hints follow.
func (op *writeOp) abandon() {
	op.mu.Lock()
	defer op.mu.Unlock()
	op.aborted = true
}

// reply records one replica's result and tells the collector.
func (op *writeOp) reply(r replicaResult) {
	op.record(r)
	op.replied <- struct{}{}
}

func (op *writeOp) record(r replicaResult) {
	op.mu.Lock()
	defer op.mu.Unlock()
	switch {
	case r.err == nil:
		if op.q.Ack(r.home) {
			op.infos[r.home] = r.info
			op.hadLive = op.hadLive || r.hadLive
		}
	case r.timedOut:
		op.q.TimeOut(r.home)
		op.errs = append(op.errs, fmt.Errorf("%s: %w", r.home, r.err))
	default:
		op.q.Fail(r.home)
		op.errs = append(op.errs, fmt.Errorf("%s: %w", r.home, r.err))
	}
	op.checkDecidedLocked()
}

func (op *writeOp) checkDecidedLocked() {
	if !op.closed && op.q.Done() {
		op.closed = true
		close(op.decided)
	}
}

// collect records every replica's answer, then hints the homes that missed
// a write some home made durable. It runs as a straggler: the caller may
// have been answered long before the last replica answers.
func (op *writeOp) collect(ctx context.Context) {
	defer op.c.stragglers.Done()
	for range op.sent {
		<-op.replied
	}
	op.mu.Lock()
	var hints []string
	if !op.aborted {
		hints = op.q.ToHint()
	}
	op.mu.Unlock()
	for _, home := range hints {
		op.c.hint(ctx, home, op.key, op.version, op.deleted)
	}
}

// wait blocks until the quorum is decided or ctx ends, then returns nil
// when W homes acked, else the reason.
func (op *writeOp) wait(ctx context.Context) error {
	select {
	case <-op.decided:
	case <-ctx.Done():
		return fmt.Errorf("cluster: %s %q: waiting for the write quorum: %w", op.what, op.key, ctx.Err())
	}
	op.mu.Lock()
	defer op.mu.Unlock()
	if op.q.Succeeded() {
		return nil
	}
	// The client's own mistake (a short body, a refused content type)
	// explains the failure better than the quorum does.
	for _, err := range op.errs {
		if clientFault(err) {
			return err
		}
	}
	return fmt.Errorf("%w: %s %q: %d of %d homes durable, %d needed: %v",
		replication.ErrNoQuorum, op.what, op.key, op.q.Acks(), op.homeCount, op.needed, errors.Join(op.errs...))
}

// noQuorum is the error of a write whose quorum was out of reach before
// anything was sent.
func (op *writeOp) noQuorum() error {
	return fmt.Errorf("%w: %s %q: %d of %d homes reachable, %d needed",
		replication.ErrNoQuorum, op.what, op.key, op.sent, op.homeCount, op.needed)
}

// clientFault reports errors that say the request itself was bad, so they
// keep their own status rather than becoming a 503.
func clientFault(err error) bool {
	return errors.Is(err, blockstore.ErrSizeMismatch) || errors.Is(err, blockstore.ErrTooLarge) ||
		errors.Is(err, blockstore.ErrInvalidArgument) || errors.Is(err, blockstore.ErrInvalidKey)
}

// versionTagBits is how many low bits of a version the coordinator sets to
// its tag.
const versionTagBits = 8

// writeVersion is the version a write carries: the caller's when it set
// one (observed, so the clock moves past it), else a fresh tick of the
// local hybrid logical clock with its low bits set to this node's tag.
//
// The tag keeps two coordinators that tick in the same millisecond from
// stamping two different writes of one key with one version: replicas
// keep the first of equal versions they see, so such a pair would leave
// homes disagreeing for good (and anti-entropy, comparing versions, would
// never notice). The tagged version is the smallest one at or above the
// tick with those low bits, and the clock is moved past it, so this node's
// versions still increase strictly.
//
// A fresh version ahead of the wall clock is held until the wall clock
// has passed it (commit wait), so a write that starts on another
// coordinator after this one is acknowledged stamps a higher version even
// if that coordinator never saw this one's: otherwise last-writer-wins
// would let the earlier write win. A clock runs ahead after a restart
// (blockstore starts it at its persisted ceiling, up to 2 s ahead of the
// wall clock) or after observing a peer whose clock runs ahead; a lead
// beyond maxVersionLead (a wall clock set back) is not waited out.
func (c *Cluster) writeVersion(ctx context.Context, v uint64) (uint64, error) {
	if v != 0 {
		c.opts.Local.ObserveVersion(v)
		return v, nil
	}
	v = tagVersion(c.opts.Local.NextVersion(), c.versionTag)
	c.opts.Local.ObserveVersion(v)
	if err := waitVersionTime(ctx, v); err != nil {
		return 0, err
	}
	return v, nil
}

// maxVersionLead is the longest commit wait writeVersion takes: above the
// 2 s lead a restart can give the clock.
const maxVersionLead = 3 * time.Second

// waitVersionTime returns once the wall clock is past the millisecond of
// version (at once when it already is, or when the lead is beyond
// maxVersionLead), or with ctx's error.
func waitVersionTime(ctx context.Context, version uint64) error {
	lead := time.Until(versionTime(version).Add(time.Millisecond))
	if lead <= 0 || lead > maxVersionLead {
		return nil
	}
	t := time.NewTimer(lead)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("cluster: waiting for the wall clock to pass version %d: %w", version, ctx.Err())
	}
}

// tagVersion returns the smallest version >= tick whose low versionTagBits
// are tag.
func tagVersion(tick uint64, tag uint64) uint64 {
	const mask = 1<<versionTagBits - 1
	v := tick&^mask | tag&mask
	if v < tick {
		v += mask + 1
	}
	return v
}

// versionTagOf derives a node's version tag from its ID (stable across
// restarts; two nodes share one with probability 1/256).
func versionTagOf(id string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(id))
	return mix.Mix64(h.Sum64()) & (1<<versionTagBits - 1)
}

// versionTime is the wall time a version stamp carries (hlc: ms << 16).
func versionTime(version uint64) time.Time {
	return time.UnixMilli(int64(version >> 16)).UTC()
}
