package tiering

import (
	"sync/atomic"

	"strata/blockstore"
)

// Write-through is an admission decision like any other: a blob Put
// writes enters RAM only when that displaces nothing read, so a stream of
// uploads (each a one-hit wonder until someone reads it) cannot push a hot
// read set out of RAM. A written blob of at most RAMMaxItemBytes in one
// segment is put in RAM when
//
//   - it replaces a version readers were using: the previous version is in
//     RAM now and was read there (a version that is in RAM only because a
//     Put wrote it through and nobody read it does not count: a stream of
//     overwrites of unread keys would otherwise copy every body into RAM),
//     or the admission sketch saw it read at least minFreq times recently
//     (the sketch counts reads only with the SSD tier on); the new version
//     takes the place of the old one, which Put invalidates; or
//   - RAM has room for it without evicting anything, counting the room
//     that Puts still streaming have reserved: free RAM costs no hit;
//     but not while uploads are being backed off for read latency
//     (Options.UploadsBackedOff): the copy is CPU the reads are short of,
//     spent on a blob nobody has read.
//
// Otherwise the blob is not cached on write; its first read misses and the
// read path's fill (fill.go) offers it to RAM, whose W-TinyLFU admission
// weighs it against its victim. The decision is taken before the body
// streams when the size is known, so a skipped blob costs no copy.

// writeAdmitCounters count Put's write-through decisions.
type writeAdmitCounters struct {
	admitted, skippedFull, skippedTooBig, skippedRaced, skippedBackedOff atomic.Uint64
	// reserved is the RAM weight of Puts that decided to write through
	// and are still streaming: taken from the free RAM the next decides on.
	reserved atomic.Int64
}

func (c *writeAdmitCounters) snapshot() WriteThroughStats {
	return WriteThroughStats{
		Admitted:      c.admitted.Load(),
		SkippedFull:   c.skippedFull.Load(),
		SkippedTooBig: c.skippedTooBig.Load(),
		SkippedRaced:  c.skippedRaced.Load(),
		SkippedPaced:  c.skippedBackedOff.Load(),
	}
}

// count counts a decision not to write through.
func (c *writeAdmitCounters) count(v writeVerdict) {
	switch v {
	case writeSkipBig:
		c.skippedTooBig.Add(1)
	case writeSkipFull:
		c.skippedFull.Add(1)
	case writeSkipPaced:
		c.skippedBackedOff.Add(1)
	}
}

// writeVerdict is the write-through decision for one Put.
type writeVerdict uint8

const (
	writeAdmit     writeVerdict = iota
	writeSkipFull               // RAM is full and the key was not being read
	writeSkipBig                // larger than one RAM item
	writeSkipPaced              // RAM has room, but uploads are being backed off
)

// writeThroughInput is what the decision looks at, gathered by the Store.
type writeThroughInput struct {
	size     int64 // bytes of the blob (-1: not known yet)
	maxItem  int64 // RAMMaxItemBytes
	weight   int64 // RAM weight the item would take (size known)
	free     int64 // RAM capacity minus its weighted size now
	oldInRAM bool  // the previous version's first segment is in RAM and was read there
	oldReads uint8 // sketch estimate of the previous version's recent reads
	minFreq  uint8
	// backedOff: uploads are being held back for read latency now
	// (Options.UploadsBackedOff).
	backedOff bool
}

// decideWriteThrough is the write-through policy, without I/O or state.
func decideWriteThrough(in writeThroughInput) writeVerdict {
	if in.size > in.maxItem {
		return writeSkipBig
	}
	if in.oldInRAM || (in.minFreq > 0 && in.oldReads >= in.minFreq) {
		return writeAdmit
	}
	if in.size >= 0 && in.weight <= in.free {
		if in.backedOff {
			return writeSkipPaced
		}
		return writeAdmit
	}
	return writeSkipFull
}

// writeThroughInput gathers the decision's inputs for a Put of key with
// size bytes (-1: unknown) whose previous version is old (hadOld false:
// none).
func (s *Store) writeThroughInput(key string, size int64, old blockstore.Info, hadOld bool) writeThroughInput {
	in := writeThroughInput{size: size, maxItem: s.opts.RAMMaxItemBytes, minFreq: s.adm.minFreq}
	if s.opts.UploadsBackedOff != nil {
		in.backedOff = s.opts.UploadsBackedOff()
	}
	if size >= 0 {
		in.weight = int64(ramWeight(ramKey{key: key}, ramValue{size: size}))
		in.free = s.ram.capacity - s.ram.weightedSize()
	}
	if hadOld {
		in.oldInRAM = s.ram.containsRead(ramKey{key: old.Key, version: old.Version, sum: old.Checksum})
		if s.ssd != nil {
			in.oldReads = s.adm.recentReads(objectHash(old.Key, old.Version, old.Checksum))
		}
	}
	return in
}

// recentReads is the admission sketch's estimate of recent reads of the
// object whose objectHash is h (a few lines kept here, beside their only
// caller, rather than in admission.go).
func (a *admissionPolicy) recentReads(h uint64) uint8 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.sketch.estimate(h)
}
