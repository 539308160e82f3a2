package ioengine

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"testing"

	"strata/internal/poll"
)

// waitQueued waits until q has want waiters. It waits on a state change, not
// on time, so it is not a timed assertion; it has a deadline all the same.
func waitQueued(t *testing.T, q *queue, want int) {
	t.Helper()
	poll.Until(t, fmt.Sprintf("%d waiters queued", want), func() bool {
		_, queued := q.depth()
		return queued == want
	})
}

func TestQueuePriority(t *testing.T) {
	q := newQueue(1)
	ctx := context.Background()
	if _, err := q.acquire(ctx, ClassBackground); err != nil {
		t.Fatal(err)
	}
	// Enqueue in the worst order for reads: background, write, read, then a
	// second read and write to check FIFO within a class.
	order := []Class{ClassBackground, ClassWrite, ClassRead, ClassWrite, ClassRead}
	type grant struct {
		class Class
		idx   int
	}
	granted := make(chan grant, len(order))
	proceed := make(chan struct{})
	for i, c := range order {
		go func() {
			if _, err := q.acquire(ctx, c); err != nil {
				t.Error(err)
				return
			}
			granted <- grant{c, i}
			<-proceed
			q.release()
		}()
		waitQueued(t, q, i+1)
	}
	q.release() // the slot held since the start
	want := []grant{{ClassRead, 2}, {ClassRead, 4}, {ClassWrite, 1}, {ClassWrite, 3}, {ClassBackground, 0}}
	for i, w := range want {
		got := <-granted
		if got != w {
			t.Fatalf("grant %d: got %v #%d, want %v #%d", i, got.class, got.idx, w.class, w.idx)
		}
		if inFlight, _ := q.depth(); inFlight != 1 {
			t.Fatalf("grant %d: in flight %d, want 1", i, inFlight)
		}
		proceed <- struct{}{}
	}
	waitQueued(t, q, 0)
	poll.Until(t, "no operation in flight", func() bool {
		inFlight, _ := q.depth()
		return inFlight == 0
	})
}

func TestQueueCancelWhileQueued(t *testing.T) {
	q := newQueue(1)
	if _, err := q.acquire(context.Background(), ClassWrite); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := q.acquire(ctx, ClassRead)
		done <- err
	}()
	waitQueued(t, q, 1)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("acquire after cancel: %v, want context.Canceled", err)
	}
	if inFlight, queued := q.depth(); inFlight != 1 || queued != 0 {
		t.Fatalf("after cancel: inFlight %d queued %d, want 1 0", inFlight, queued)
	}
	// A cancelled waiter must not have kept the slot: release frees it.
	q.release()
	if inFlight, _ := q.depth(); inFlight != 0 {
		t.Fatalf("in flight %d after release, want 0", inFlight)
	}
	// An already cancelled context fails at once when it would have to wait.
	if _, err := q.acquire(context.Background(), ClassWrite); err != nil {
		t.Fatal(err)
	}
	if _, err := q.acquire(ctx, ClassRead); !errors.Is(err, context.Canceled) {
		t.Fatalf("acquire with dead ctx: %v", err)
	}
	q.release()
}

// TestQueueCancelRace cancels waiters while slots are being released, to
// exercise the granted-and-cancelled path: no slot may leak.
func TestQueueCancelRace(t *testing.T) {
	q := newQueue(2)
	const workers, rounds = 8, 200
	done := make(chan struct{})
	for w := range workers {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range rounds {
				ctx, cancel := context.WithCancel(context.Background())
				if (i+w)%3 == 0 {
					cancel()
				}
				if _, err := q.acquire(ctx, Class((i+w)%numClasses)); err == nil {
					runtime.Gosched()
					q.release()
				}
				cancel()
			}
		}()
	}
	for range workers {
		<-done
	}
	if inFlight, queued := q.depth(); inFlight != 0 || queued != 0 {
		t.Fatalf("leaked: inFlight %d queued %d", inFlight, queued)
	}
}

func TestQueueFastPathAllocatesNothing(t *testing.T) {
	q := newQueue(4)
	ctx := context.Background()
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := q.acquire(ctx, ClassRead); err != nil {
			t.Fatal(err)
		}
		q.release()
	})
	if allocs != 0 {
		t.Fatalf("fast path allocates %.1f per op", allocs)
	}
}

func TestWaiterRingRemoveKeepsOrder(t *testing.T) {
	var r waiterRing
	ws := make([]*waiter, 20)
	for i := range ws {
		ws[i] = &waiter{}
	}
	// Wrap the ring around before removing from the middle.
	for _, w := range ws[:6] {
		r.push(w)
	}
	for range 5 {
		r.pop()
	}
	for _, w := range ws[6:] {
		r.push(w)
	}
	r.remove(ws[10])
	r.remove(ws[5])
	r.remove(&waiter{}) // absent: no-op
	var got []*waiter
	for w := r.pop(); w != nil; w = r.pop() {
		got = append(got, w)
	}
	var want []*waiter
	for i := 6; i < 20; i++ {
		if i != 10 {
			want = append(want, ws[i])
		}
	}
	if len(got) != len(want) {
		t.Fatalf("got %d waiters, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("position %d: wrong waiter", i)
		}
	}
}
