package ioengine

import "sync/atomic"

// DeviceStats is a point-in-time copy of a device's counters.
type DeviceStats struct {
	Name      string
	Dir       string
	Direct    bool // direct I/O in effect (false: buffered + fdatasync fallback)
	Alignment int
	Classes   [3]ClassStats // indexed by Class
	InFlight  int           // syscalls running now
	Queued    int           // callers waiting for a slot now
	// SyncLatency is every fdatasync's latency, all classes together,
	// queue wait included: the cost of durability on this device.
	SyncLatency LatencySnapshot
}

// ClassStats counts the operations of one class on one device. Errors counts
// failed syscalls (io.EOF on reads and context cancellation while queued are
// not errors). Latency is measured from the call to its return, queue wait
// included; QueueWait is the part spent waiting for a slot.
type ClassStats struct {
	ReadOps, ReadBytes, WriteOps, WriteBytes, SyncOps, OtherOps, Errors uint64

	Latency   LatencySnapshot
	QueueWait LatencySnapshot
}

// classCounters is the live, atomically updated form of ClassStats.
type classCounters struct {
	readOps, readBytes, writeOps, writeBytes, syncOps, otherOps, errors atomic.Uint64

	latency   latencyHistogram
	queueWait latencyHistogram
}

func (c *classCounters) snapshot() ClassStats {
	return ClassStats{
		ReadOps:    c.readOps.Load(),
		ReadBytes:  c.readBytes.Load(),
		WriteOps:   c.writeOps.Load(),
		WriteBytes: c.writeBytes.Load(),
		SyncOps:    c.syncOps.Load(),
		OtherOps:   c.otherOps.Load(),
		Errors:     c.errors.Load(),
		Latency:    c.latency.snapshot(),
		QueueWait:  c.queueWait.snapshot(),
	}
}
