package blockstore

import "context"

// tombstoneDroppable reports whether compaction of volume vol may drop the
// tombstone e of key instead of copying it. All of these must hold:
//
//   - the index's shadows are complete (an index created by this code;
//     an older one keeps every tombstone until a rebuild);
//   - the tombstone is older than Options.TombstoneGrace, by its version's
//     time (version>>16 is milliseconds since the epoch);
//   - no older record of the key can resurface: every volume in the
//     entry's shadow (where the records it replaced, or that lost to it,
//     were written) is vol itself, whose records go with the tombstone,
//     or a volume already compacted away; a key Drop forgot, or whose
//     shadow overflowed, never qualifies;
//   - Options.TombstoneDroppable, when set, agrees (the cluster checks
//     every home replica holds the tombstone).
//
// A record elsewhere that is older than the tombstone would otherwise come
// back as the key's newest version when the index is rebuilt from the
// volumes, or when the volume is replayed.
func (s *Store) tombstoneDroppable(ctx context.Context, key string, e *indexEntry, vol uint32) bool {
	ix := s.index
	ix.garbage.mu.Lock()
	complete := ix.garbage.shadows
	ix.garbage.mu.Unlock()
	if !complete {
		return false
	}
	ageMs := s.opts.Now().UnixMilli() - int64(e.version>>16)
	if ageMs < s.opts.TombstoneGrace.Milliseconds() {
		return false
	}
	for _, id := range tailOf(e).shadow {
		if id == shadowUnknown || (id != vol && !ix.volumeGone(id)) {
			return false
		}
	}
	if hook := s.opts.TombstoneDroppable; hook != nil && !hook(ctx, e.entry(key)) {
		return false
	}
	return true
}
