// Package devmodel wraps an ioengine.FS so that its files behave like one
// spinning disk: every read, write and sync waits for a single modelled
// head, and pays seek, rotation and transfer time on it. Benchmarks and
// tests use it to see what a real HDD would do to Strata (reads queued
// behind uploads, seeks between volumes) on a machine whose disk is an SSD
// or RAM.
//
// # Basics
//
//	m, err := devmodel.ParseModel("hdd:seek=8ms,rpm=7200,mbps=180")
//	fsys, err := devmodel.Wrap(ioengine.OSFS(), m, devmodel.Options{})
//	// pass fsys as blockstore.Options.FS; fsys.Stats() tells what the head did
//
// A request of n bytes at position p costs, on the head:
//
//   - seek: nothing if p is where the previous request ended (sequential),
//     else Settle + (FullStroke-Settle)*sqrt(distance/Span), capped at
//     FullStroke; FullStroke follows from the average Seek, so requests at
//     uniformly random positions average exactly Seek;
//   - rotation: for a non-sequential request, half a revolution (or, with
//     a Seed, a uniform draw from one revolution);
//   - transfer: n / MBps.
//
// A Sync waits for everything queued before it and then costs Flush.
//
// The head serves one request at a time, in arrival order: a request
// starts when the head is free and completes after its cost. Reads and
// writes share that one budget, as on a real disk (the cgroup io.max
// throttle counts them separately, so reads never feel uploads there), and
// queue depth adds no throughput: N requests in flight take as long as N
// in a row. Each file lies contiguously from a place on the platter
// derived from its name, the same in every run.
//
// Everything is deterministic given the order requests arrive in: with
// Options.Clock a test reads exact figures and nothing sleeps.
//
// # Caveats
//
// The model is a lower bound on latency: the wrapped file's own I/O runs
// first, and the request returns at the later of its real end and its
// modelled completion. Run it over a fast device (an SSD, tmpfs, memfs).
//
// There is no page cache and no reordering (no elevator, no NCQ): a
// buffered read that the kernel would serve from memory still pays the
// head, and a deep queue is served first come, first served. Directory
// operations, Allocate, Truncate, Size and Close are free.
//
// A request cannot be cancelled once booked: File has no context, and the
// caller waits out the queue ahead of it (ioengine.Device bounds how many
// requests a device has in flight).
package devmodel
