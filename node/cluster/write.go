package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"strata/blockstore"
	"strata/node/membership"
)

// fanOutBufSize is the one buffer a replicated PUT streams its body
// through: each chunk read from the client is handed to every replica
// before the next is read, so memory per PUT is this, whatever the size.
const fanOutBufSize = 128 << 10

// Put streams the body to the key's home replicas in parallel and returns
// once W of them report it durable (strict: hints never count). The local
// home applies through ApplyPut, the others through Peer.PutReplica; homes
// membership calls dead are not sent to and get hints. The slowest replica
// paces the stream; one that takes no bytes or gives no answer for
// ReplicaTimeout is cut out (and hinted) so the others go on. A body that
// fails stops every replica, so nothing becomes visible anywhere. Fewer
// than W durable: an error wrapping replication.ErrNoQuorum. Replicas that
// answer after the quorum finish in the background and are hinted if they
// fail.
func (c *Cluster) Put(ctx context.Context, key string, r io.Reader, size int64, opts blockstore.PutOptions) (blockstore.Info, error) {
	if err := blockstore.ValidateKey(key); err != nil {
		return blockstore.Info{}, err
	}
	if size < -1 {
		return blockstore.Info{}, fmt.Errorf("%w: size %d", blockstore.ErrInvalidArgument, size)
	}
	v := c.currentView()
	var err error
	if opts.Version, err = c.writeVersion(ctx, opts.Version); err != nil {
		return blockstore.Info{}, err
	}
	op, send := c.newWriteOp(v, "put", key, opts.Version, false, v.homes(key, c.opts.Replicas))
	if !op.possible() {
		return blockstore.Info{}, op.noQuorum()
	}
	c.stragglers.Add(len(send) + 1)
	reps := make([]*replicaWrite, len(send))
	for i, home := range send {
		reps[i] = c.startReplicaPut(ctx, op, v.self.ID, home, key, size, opts)
	}
	go op.collect(context.WithoutCancel(ctx))

	sent, err := c.fanOut(ctx, r, reps, op)
	if err != nil {
		return blockstore.Info{}, fmt.Errorf("cluster: put %q: %w", key, err)
	}
	if err := op.wait(ctx); err != nil {
		return blockstore.Info{}, err
	}
	return op.putInfo(v.self.ID, sent, opts), nil
}

// putInfo is the Info a successful PUT answers with: an acked home's (this
// node's first) at the write's version; when every ack came from a home
// already holding something newer, the write's own.
func (op *writeOp) putInfo(self string, size int64, opts blockstore.PutOptions) blockstore.Info {
	op.mu.Lock()
	defer op.mu.Unlock()
	if info, ok := op.infos[self]; ok && info.Version == op.version {
		return info
	}
	for _, home := range op.q.Acked() {
		if info := op.infos[home]; info.Version == op.version {
			return info
		}
	}
	return blockstore.Info{Key: op.key, Size: size, Version: op.version, ModTime: versionTime(op.version), ContentType: opts.ContentType}
}

// replicaWrite is one home's stream of a replicated PUT: a pipe the
// fan-out writes chunks into (through pump) and the replica request reads.
type replicaWrite struct {
	home   membership.Member
	pw     *io.PipeWriter
	cancel context.CancelFunc
	chunks chan []byte // fan-out -> pump
	wrote  chan error  // pump -> fan-out, once per chunk

	// finished: takes no more body (returned, failed or cut out). Owned by
	// the fan-out goroutine.
	finished bool
	timedOut atomic.Bool

	mu       sync.Mutex
	returned bool
	timer    *time.Timer // answer timeout, armed when the body is complete
}

// startReplicaPut starts home's replica request and its pump. The request
// runs on a context detached from the client's (a straggler outlives the
// answer) and cancelled when the replica is cut out.
func (c *Cluster) startReplicaPut(ctx context.Context, op *writeOp, self string, home membership.Member, key string, size int64, opts blockstore.PutOptions) *replicaWrite {
	pr, pw := io.Pipe()
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	rep := &replicaWrite{home: home, pw: pw, cancel: cancel, chunks: make(chan []byte), wrote: make(chan error, 1)}
	go rep.pump()
	go func() {
		defer c.stragglers.Done()
		var info blockstore.Info
		var err error
		if home.ID == self {
			info, err = c.ApplyPut(rctx, key, pr, size, opts)
		} else {
			info, err = c.opts.Peer.PutReplica(rctx, home.HTTPAddr, key, pr, size, opts)
		}
		rep.markReturned()
		if err == nil && info.Version < opts.Version {
			err = fmt.Errorf("cluster: replica %s reported version %d for a write at %d", home.ID, info.Version, opts.Version)
		}
		// Record first, then fail the pipe: the fan-out learns that this
		// replica stopped taking the body only after its result counts.
		op.reply(replicaResult{home: home.ID, info: info, err: err, timedOut: err != nil && rep.timedOut.Load()})
		pr.CloseWithError(errReplicaDone)
		cancel()
	}()
	return rep
}

// pump writes each chunk the fan-out hands it into the replica's pipe; a
// pipe write returns once the replica has taken every byte of it, so the
// fan-out's buffer is free again when all pumps reported.
func (rep *replicaWrite) pump() {
	for chunk := range rep.chunks {
		_, err := rep.pw.Write(chunk)
		rep.wrote <- err
	}
}

func (rep *replicaWrite) markReturned() {
	rep.mu.Lock()
	defer rep.mu.Unlock()
	rep.returned = true
	if rep.timer != nil {
		rep.timer.Stop()
	}
}

// armAnswerTimeout bounds the wait for the replica's answer once it has
// the whole body.
func (rep *replicaWrite) armAnswerTimeout(d time.Duration) {
	rep.mu.Lock()
	defer rep.mu.Unlock()
	if rep.returned {
		return
	}
	rep.timer = time.AfterFunc(d, func() {
		rep.timedOut.Store(true)
		rep.cancel()
	})
}

// cut stops a replica that made no progress: its body fails (so it stores
// nothing) and its request is cancelled.
func (rep *replicaWrite) cut(reason error) {
	rep.timedOut.Store(errors.Is(reason, errReplicaStalled))
	rep.pw.CloseWithError(reason)
	rep.cancel()
}

// fanOut reads the body chunk by chunk into one buffer and hands each
// chunk to every replica still taking it, waiting (at most ReplicaTimeout
// per chunk) until all took it before reading the next: the slowest paces.
// At EOF it closes the pipes (the replicas see EOF and commit) and arms
// their answer timeouts. On a body error or cancellation it fails every
// pipe with the error, so no replica commits, and returns it (also when
// every replica answered early: the rest of the body is read, so a body
// failing at its end still fails the write); when the
// quorum can no longer be reached (checked after every chunk and before
// the EOF that lets replicas commit) it stops the rest the same way. It
// returns the body bytes handed on.
func (c *Cluster) fanOut(ctx context.Context, body io.Reader, reps []*replicaWrite, op *writeOp) (int64, error) {
	bufp := c.bufs.Get().(*[fanOutBufSize]byte)
	defer c.bufs.Put(bufp)
	defer func() {
		for _, rep := range reps {
			close(rep.chunks)
		}
	}()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()

	var sent int64
	for {
		if err := ctx.Err(); err != nil {
			c.abandon(op, reps, err)
			return sent, err
		}
		n, eof, err := readChunk(body, bufp[:])
		if n > 0 {
			sent += int64(n)
			c.offer(bufp[:n], reps, timer)
		}
		if err != nil {
			err = fmt.Errorf("reading the body: %w", err)
			c.abandon(op, reps, err)
			return sent, err
		}
		if !op.reachableWith(streaming(reps)) {
			c.abandon(op, reps, errQuorumLost)
			return sent, nil
		}
		if eof {
			for _, rep := range reps {
				if !rep.finished {
					rep.pw.Close()
					rep.armAnswerTimeout(c.opts.ReplicaTimeout)
				}
			}
			return sent, nil
		}
		if streaming(reps) == 0 {
			// Every replica already answered (a newer version held). The
			// rest of the body is still read: a verifying body (S3's
			// digests) fails only at its end, and a write whose body fails
			// must not be acknowledged even when nothing was stored.
			if err := drainBody(ctx, body, bufp[:]); err != nil {
				op.abandon()
				return sent, fmt.Errorf("reading the body: %w", err)
			}
			return sent, nil
		}
	}
}

// drainBody reads body to its end through buf; an error other than the
// clean end (or ctx's) is the body's failure.
func drainBody(ctx context.Context, body io.Reader, buf []byte) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		_, eof, err := readChunk(body, buf)
		if err != nil || eof {
			return err
		}
	}
}

// readChunk fills buf from r as far as it can. eof reports that r itself
// returned io.EOF (the body ended cleanly). Any other error is a failed
// body, io.ErrUnexpectedEOF included: that is what a chunked HTTP body cut
// short returns, so it must never pass for a clean end (io.ReadFull's
// error cannot tell the two apart).
func readChunk(r io.Reader, buf []byte) (n int, eof bool, err error) {
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err == io.EOF {
			return n, true, nil
		}
		if err != nil {
			return n, false, err
		}
	}
	return n, false, nil
}

// offer hands chunk to every replica still taking the body and waits until
// each took it, cutting out those that did not within ReplicaTimeout.
func (c *Cluster) offer(chunk []byte, reps []*replicaWrite, timer *time.Timer) {
	for _, rep := range reps {
		if !rep.finished {
			rep.chunks <- chunk
		}
	}
	timer.Reset(c.opts.ReplicaTimeout)
	expired := false
	for _, rep := range reps {
		if rep.finished {
			continue
		}
		if !expired {
			select {
			case err := <-rep.wrote:
				rep.finished = err != nil
				continue
			case <-timer.C:
				expired = true
			}
		}
		select {
		case err := <-rep.wrote:
			rep.finished = err != nil
		default:
			rep.cut(errReplicaStalled)
			<-rep.wrote // the closed pipe returns the write at once
			rep.finished = true
		}
	}
	timer.Stop()
}

// abandon gives the write up: every replica still streaming gets reason as
// its body error (so it stores nothing) and no hints follow.
func (c *Cluster) abandon(op *writeOp, reps []*replicaWrite, reason error) {
	op.abandon()
	for _, rep := range reps {
		if !rep.finished {
			rep.cut(reason)
			rep.finished = true
		}
	}
}

// streaming counts the replicas still taking the body.
func streaming(reps []*replicaWrite) int {
	n := 0
	for _, rep := range reps {
		if !rep.finished {
			n++
		}
	}
	return n
}
