package node

import (
	"strata/blockstore"
	"strata/tiering"
)

// Per-part estimates of the memory budget (docs/config.md explains them).
const (
	// requestChunks is how many chunk-sized buffers one admitted request
	// holds at most: the record or read buffer and the copy on its way in
	// or out.
	requestChunks = 2
	// connectionBytes is what an open connection costs besides its
	// request: goroutine stack and the HTTP server's read and write buffers.
	connectionBytes = 32 << 10
	// diskBatches is how many group-commit batches one data directory may
	// hold: the one being cut, the one being written, the one syncing.
	diskBatches = 3
	// baseBytes is the runtime, the binary's data, the pending index at a
	// normal backlog and everything else no setting scales.
	baseBytes = 64 << 20
	// collectorShare is the share added for the garbage collector to work
	// in without running back to back (1/10).
	collectorShare = 10
)

// MemoryBudget is what a node with this configuration holds in RAM at
// most, by part. The index file's mmap is not counted: its pages are file
// backed, and the kernel drops them under pressure.
type MemoryBudget struct {
	Caches      int64 // tiering.Options.MemoryBytes: RAM cache, SSD region buffers, queue, index, sketch
	Requests    int64 // (max_uploads + max_reads) * 2 * chunk_size
	Connections int64 // (http.max_connections, plus each split listener's) * 32 KiB
	Disks       int64 // len(hdd_dirs) * 3 * the blockstore's group-commit batch (4 MiB)
	Base        int64 // 64 MiB
	Total       int64 // the sum plus 1/10 for the garbage collector, rounded up to a MiB
}

// MemoryBudget computes the budget of c; `strata serve` sets the Go memory
// limit to its Total unless memory_limit or GOMEMLIMIT says otherwise.
func (c Config) MemoryBudget() MemoryBudget {
	var caches tiering.Options
	c.ApplyCacheOptions(&caches)
	caches.RAMCacheBytes, caches.SSDCacheBytes = max(caches.RAMCacheBytes, 0), max(caches.SSDCacheBytes, 0)
	b := MemoryBudget{
		Caches:      caches.MemoryBytes(),
		Requests:    int64(max(c.Limits.MaxUploads, 0)+max(c.Limits.MaxReads, 0)) * requestChunks * int64(max(c.ChunkSize, 0)),
		Connections: int64(c.maxOpenConnections()) * connectionBytes,
		Disks:       int64(len(c.HDDDirs)) * diskBatches * blockstore.DefaultMaxBatchBytes,
		Base:        baseBytes,
	}
	sum := b.Caches + b.Requests + b.Connections + b.Disks + b.Base
	const mib = 1 << 20
	b.Total = (sum + sum/collectorShare + mib - 1) / mib * mib // whole MiB, so logs read well
	return b
}

// Sources of the Go memory limit, as GoMemoryLimit reports them.
const (
	MemoryLimitFromEnv      = "GOMEMLIMIT"
	MemoryLimitFromConfig   = "memory_limit"
	MemoryLimitFromComputed = "computed"
)

// GoMemoryLimit decides the Go memory limit for c. gomemlimit is the
// GOMEMLIMIT environment variable: when set, the Go runtime has applied it
// already and it wins (limit 0: leave the runtime's value alone). Else an
// explicit memory_limit wins, else the budget's Total.
func (c Config) GoMemoryLimit(gomemlimit string) (limit int64, source string) {
	switch {
	case gomemlimit != "":
		return 0, MemoryLimitFromEnv
	case c.MemoryLimit > 0:
		return int64(c.MemoryLimit), MemoryLimitFromConfig
	default:
		return c.MemoryBudget().Total, MemoryLimitFromComputed
	}
}

// maxOpenConnections is how many connections the blob listeners hold at
// most together: listen's limit plus those of the split listeners that are on.
func (c Config) maxOpenConnections() int {
	n := max(c.HTTP.MaxConnections, 0)
	if c.ListenRead != "" {
		n += max(c.ReadHTTP().MaxConnections, 0)
	}
	if c.ListenWrite != "" {
		n += max(c.WriteHTTP().MaxConnections, 0)
	}
	return n
}
