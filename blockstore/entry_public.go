package blockstore

// Entry is the index's record of a key as replication sees it: a live
// blob, a tombstone or a version known corrupt. Info carries the key,
// version and mod time in every case; size, checksum and content type only
// for a blob.
type Entry struct {
	Info
	Deleted bool // a tombstone: the key was deleted at Info.Version
	Corrupt bool // the record at Info.Version failed its checksum
}
