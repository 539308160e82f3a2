package node

import (
	"context"
	"errors"

	"strata/blockstore"
	"strata/ioengine"
	"strata/tiering"
)

// Tiered adapts the local tiered store to Store. (Go has no covariant
// return types, so *tiering.Store cannot satisfy Store directly: its Open
// returns *tiering.Object and its counters have tiering's own shapes.)
func Tiered(s *tiering.Store) Store { return tieredStore{s} }

type tieredStore struct{ *tiering.Store }

// The local store composes without copying (tiering.Store.Compose).
var _ Composer = tieredStore{}

// Healthy is readiness, "serves reads": the tiered store's Healthy less
// the failures that only stop writes (the blockstore's Healthy is nil only
// while a disk accepts writes). Writable comes from *tiering.Store as it is.
func (t tieredStore) Healthy() error { return readHealth(t.Store.Healthy()) }

// readHealth drops from a health error what only stops writes: a full or
// read-only disk still serves the blobs it holds.
func readHealth(err error) error {
	if errors.Is(err, blockstore.ErrNoSpace) || errors.Is(err, blockstore.ErrReadOnly) {
		return nil
	}
	return err
}

func (t tieredStore) Open(ctx context.Context, key string) (Object, error) {
	obj, err := t.Store.Open(ctx, key)
	if err != nil {
		return nil, err // never a typed nil inside the interface
	}
	return obj, nil
}

func (t tieredStore) Stats() []TierStats {
	st := t.Store.Stats()
	var out []TierStats
	for _, ts := range []tiering.TierStats{st.RAM, st.SSD, st.HDD} {
		if !ts.Enabled {
			continue
		}
		out = append(out, TierStats{
			Tier:          string(ts.Tier),
			Hits:          ts.Hits,
			Misses:        ts.Misses,
			Admissions:    ts.Admissions,
			Rejections:    ts.Rejections,
			Evictions:     ts.Evictions,
			Items:         ts.Items,
			Bytes:         ts.Bytes,
			CapacityBytes: ts.CapacityBytes,
			ReadLatency:   latencyOf(ts.Latency),
		})
	}
	return out
}

func (t tieredStore) Devices() []DeviceStats {
	devs := t.Store.Devices()
	out := make([]DeviceStats, 0, len(devs))
	for _, d := range devs {
		ds := DeviceStats{Name: d.Name, Dir: d.Dir, Direct: d.Direct, InFlight: d.InFlight, Queued: d.Queued, SyncLatency: latencyOf(d.SyncLatency)}
		for i, c := range d.Classes {
			ds.Classes = append(ds.Classes, DeviceClassStats{
				Class:      classLabel(ioengine.Class(i)),
				ReadOps:    c.ReadOps,
				ReadBytes:  c.ReadBytes,
				WriteOps:   c.WriteOps,
				WriteBytes: c.WriteBytes,
				SyncOps:    c.SyncOps,
				OtherOps:   c.OtherOps,
				Errors:     c.Errors,
				Latency:    latencyOf(c.Latency),
				QueueWait:  latencyOf(c.QueueWait),
			})
		}
		out = append(out, ds)
	}
	return out
}

// FailedDisks lists the HDD tier's data directories whose disks failed.
func (t tieredStore) FailedDisks() []string {
	var out []string
	for _, d := range t.Store.Stats().Backend.Disks {
		if d.Failed {
			out = append(out, d.Dir)
		}
	}
	return out
}

// Disks reports the HDD tier's data disks: health, usage and scrub.
func (t tieredStore) Disks() []DiskHealth {
	disks := t.Store.Stats().Backend.Disks
	out := make([]DiskHealth, len(disks))
	for i, d := range disks {
		out[i] = DiskHealth{
			Name: d.Name, Dir: d.Dir, Failed: d.Failed, IOErrors: d.IOErrors,
			UsedBytes: d.UsedBytes, FreeBytes: d.FreeBytes,
			ScrubBytes: d.Scrub.Bytes, ScrubCorruptions: d.Scrub.Corruptions, ScrubReadErrors: d.Scrub.ReadErrors,
			ScrubPassStarted: d.Scrub.PassStarted, ScrubLastComplete: d.Scrub.LastComplete,
			ScrubVolume: d.Scrub.Volume, ScrubOffset: d.Scrub.Offset, ScrubDone: d.Scrub.Done,
		}
	}
	return out
}

// StoreStats reports the backend's and the caches' own counters.
func (t tieredStore) StoreStats() StoreStats {
	st := t.Store.Stats()
	return StoreStats{
		CorruptRecords:      st.Backend.Corruptions,
		WriteErrors:         st.Backend.WriteErrors,
		TornTails:           st.Backend.TornTails,
		IndexErrors:         st.Backend.IndexErrors,
		PendingIndexEntries: st.Backend.PendingKeys,
		CoalescedReads:      st.Coalesced,
		GroupCommits:        st.Backend.Groups,
		GroupRecords:        st.Backend.RecordsWritten,
		Disks:               diskSpace(st.Backend.DiskUsage),
		Compaction: CompactionStats{
			Passes:            st.Backend.Compaction.Passes,
			Volumes:           st.Backend.Compaction.VolumesCompacted,
			TombstonesDropped: st.Backend.Compaction.TombstonesDropped,
			BytesCopied:       st.Backend.Compaction.BytesCopied,
			BytesReclaimed:    st.Backend.Compaction.BytesReclaimed,
		},
		SSD: SSDWrites{
			Enabled:           st.SSD.Enabled,
			BytesWritten:      st.SSDCache.BytesWritten,
			BudgetBytesPerDay: st.SSDCache.BudgetBytesPerDay,
			BudgetBytesPerSec: st.SSDCache.BudgetBytesPerSec,
			RejectedBudget:    st.SSDCache.RejectedBudget,
		},
		Fills: CacheFills{
			Applied: st.Fill.Applied, DroppedFull: st.Fill.DroppedFull, DroppedStale: st.Fill.DroppedStale,
			WriteThroughAdmitted: st.WriteThrough.Admitted, WriteThroughBig: st.WriteThrough.SkippedTooBig,
			WriteThroughSkipped: st.WriteThrough.SkippedFull + st.WriteThrough.SkippedRaced,
			WriteThroughPaced:   st.WriteThrough.SkippedPaced,
			SSDPacedWaits:       st.SSDCache.PacedWaits, SSDPacedWaitSeconds: st.SSDCache.PacedWait.Seconds(),
		},
	}
}

func diskSpace(disks []blockstore.DiskUsage) []DiskSpace {
	out := make([]DiskSpace, len(disks))
	for i, d := range disks {
		out[i] = DiskSpace{Device: d.Device, Dir: d.Dir, Live: d.Live, Garbage: d.Garbage, GarbageRatio: d.GarbageRatio}
	}
	return out
}

func classLabel(c ioengine.Class) string {
	switch c {
	case ioengine.ClassRead:
		return "read"
	case ioengine.ClassWrite:
		return "write"
	case ioengine.ClassBackground:
		return "background"
	}
	return c.String()
}

func latencyOf(l ioengine.LatencySnapshot) Latency {
	return Latency{Bounds: l.Bounds, Counts: l.Counts, Sum: l.Sum, Count: l.Count}
}
