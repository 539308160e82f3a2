package blockstore

import (
	"encoding/binary"
	"fmt"
	"time"
)

// location is where a record lies: volume id, byte offset of the record
// start and its length without padding.
type location struct {
	volume uint32
	offset int64
	length int64
}

func (l location) String() string {
	return fmt.Sprintf("vol %d @%d+%d", l.volume, l.offset, l.length)
}

// Index entry flags.
const (
	entryTombstone uint8 = 1 << iota // deleted: kept so an older write cannot resurrect the key
	entryChunked                     // loc is a manifest record
	// entryCorrupt: recovery found the key's record at this version with a
	// readable header but a failed body checksum. The key answers ErrCorrupt
	// (never an older version) until a write at least as new replaces it.
	entryCorrupt
	// entryDropped marks a pending entry that stands for "no entry": Drop
	// forgot the key at this version and the indexer has not yet deleted
	// it from bbolt. Only in memory; never encoded.
	entryDropped uint8 = 1 << 7
)

// indexEntry is what the index keeps per key: enough to answer Stat without
// a device read and to read a single-record blob with one read.
type indexEntry struct {
	flags       uint8
	loc         location
	size        int64
	version     uint64
	modTime     int64 // unix nanoseconds, millisecond precision
	checksum    uint32
	chunkSize   int64
	contentType string
	// tail is what bbolt keeps beyond format 1 (see garbage.go): the
	// volumes that may hold older records of the key and, for a chunked
	// blob, its chunk bytes per volume. A string so entries compare with ==.
	tail string
	// ext is the blob's extension block (meta.go: metadata and MD5) as its
	// record holds it; "" when it has neither.
	ext string
}

func (e *indexEntry) tombstone() bool { return e.flags&entryTombstone != 0 }

func (e *indexEntry) corrupt() bool { return e.flags&entryCorrupt != 0 }

func (e *indexEntry) dropped() bool { return e.flags&entryDropped != 0 }

// live reports whether the entry is a readable blob (not deleted, not
// known corrupt, not dropped).
func (e *indexEntry) live() bool { return e.flags&(entryTombstone|entryCorrupt|entryDropped) == 0 }

// newer reports whether e replaces cur under last-writer-wins: a higher
// version wins. At equal versions a tombstone beats a blob so replays of
// one history converge on every replica, and anything beats a corrupt
// entry so a repair can bring the same version back. Two blobs at one
// version (two coordinators that stamped the same version) are ordered by
// content checksum, so every replica keeps the same one whatever order
// they arrive in; of two copies of one manifest (same checksum) the one
// compaction rewrote last wins.
func (e *indexEntry) newer(cur *indexEntry) bool {
	if e.version != cur.version {
		return e.version > cur.version
	}
	if er, cr := e.rank(), cur.rank(); er != cr {
		return er > cr
	}
	if e.rank() == rankBlob && e.checksum != cur.checksum {
		return e.checksum > cur.checksum
	}
	if e.rank() == rankTombstone && (e.loc.length > 0) != (cur.loc.length > 0) {
		// A part's tombstone that Compose's record carries (no record of
		// its own) gives way to the tombstone record written after it.
		return e.loc.length > 0
	}
	// Two copies of one manifest: compaction's later rewrite wins.
	return e.tail != cur.tail && tailOf(e).gen > tailOf(cur).gen
}

// Ranks order entries of equal version: corrupt, blob, tombstone.
const (
	rankCorrupt = iota
	rankBlob
	rankTombstone
)

func (e *indexEntry) rank() int {
	switch {
	case e.corrupt():
		return rankCorrupt
	case e.tombstone():
		return rankTombstone
	}
	return rankBlob
}

func (e *indexEntry) info(key string) Info {
	var mt time.Time
	if e.modTime != 0 {
		mt = time.Unix(0, e.modTime).UTC()
	}
	var man *manifestCache
	if e.flags&entryChunked != 0 {
		man = &manifestCache{}
	}
	var meta map[string]string
	var md5 []byte
	if e.ext != "" {
		// decodeEntry and the writers validated it.
		meta, md5, _, _ = decodeExt([]byte(e.ext))
	}
	return Info{
		Meta:        meta,
		MD5:         md5,
		man:         man,
		Key:         key,
		Size:        e.size,
		Version:     e.version,
		ModTime:     mt,
		ContentType: e.contentType,
		Checksum:    e.checksum,
		ChunkSize:   e.chunkSize,
		loc:         e.loc,
		chunked:     e.flags&entryChunked != 0,
	}
}

// Index value encoding (bbolt value of a key):
//
//	byte     format (1)
//	byte     flags
//	uvarint  volume, offset, length, size, version
//	varint   modtime in unix ms minus the version's wall ms (version >> 16):
//	         usually 0 or 1 byte, as store-assigned versions are HLC stamps
//	uint32   checksum (little endian)
//	uvarint  chunk size
//	         format 2 and 3: uvarint tail length, tail (see entryTail);
//	         in format 3 the length may be 0
//	         format 3 only: uvarint extension length, extension block (meta.go)
//	rest     content type
//
// Format 2 is written only for entries with a tail and no extension,
// format 3 for entries with an extension; all three decode.
const (
	entryFormat     = 1
	entryFormatTail = 2
	entryFormatExt  = 3
)

func (e *indexEntry) encode(dst []byte) []byte {
	format := byte(entryFormat)
	switch {
	case e.ext != "":
		format = entryFormatExt
	case e.tail != "":
		format = entryFormatTail
	}
	dst = append(dst, format, e.flags)
	dst = binary.AppendUvarint(dst, uint64(e.loc.volume))
	dst = binary.AppendUvarint(dst, uint64(e.loc.offset))
	dst = binary.AppendUvarint(dst, uint64(e.loc.length))
	dst = binary.AppendUvarint(dst, uint64(e.size))
	dst = binary.AppendUvarint(dst, e.version)
	dst = binary.AppendVarint(dst, floorDiv(e.modTime, 1e6)-int64(e.version>>16))
	dst = binary.LittleEndian.AppendUint32(dst, e.checksum)
	dst = binary.AppendUvarint(dst, uint64(e.chunkSize))
	if format >= entryFormatTail {
		dst = binary.AppendUvarint(dst, uint64(len(e.tail)))
		dst = append(dst, e.tail...)
	}
	if format == entryFormatExt {
		dst = binary.AppendUvarint(dst, uint64(len(e.ext)))
		dst = append(dst, e.ext...)
	}
	dst = append(dst, e.contentType...)
	return dst
}

func decodeEntry(b []byte) (indexEntry, error) {
	var e indexEntry
	if len(b) < 2 || b[0] < entryFormat || b[0] > entryFormatExt {
		return e, fmt.Errorf("%w: index entry format", ErrCorrupt)
	}
	e.flags = b[1]
	p := b[2:]
	var vals [5]uint64
	for i := range vals {
		v, n := binary.Uvarint(p)
		if n <= 0 {
			return e, fmt.Errorf("%w: index entry field %d", ErrCorrupt, i)
		}
		vals[i] = v
		p = p[n:]
	}
	mt, n := binary.Varint(p)
	if n <= 0 {
		return e, fmt.Errorf("%w: index entry modtime", ErrCorrupt)
	}
	p = p[n:]
	if len(p) < 4 {
		return e, fmt.Errorf("%w: index entry checksum", ErrCorrupt)
	}
	e.checksum = binary.LittleEndian.Uint32(p)
	p = p[4:]
	cs, n := binary.Uvarint(p)
	if n <= 0 {
		return e, fmt.Errorf("%w: index entry chunk size", ErrCorrupt)
	}
	p = p[n:]
	if b[0] >= entryFormatTail {
		tl, n := binary.Uvarint(p)
		if n <= 0 || (tl == 0 && b[0] == entryFormatTail) || tl > uint64(len(p)-n) {
			return e, fmt.Errorf("%w: index entry tail", ErrCorrupt)
		}
		e.tail = string(p[n : n+int(tl)])
		if _, err := decodeTail(e.tail); err != nil {
			return e, err
		}
		p = p[n+int(tl):]
	}
	if b[0] == entryFormatExt {
		xl, n := binary.Uvarint(p)
		if n <= 0 || xl == 0 || xl > uint64(len(p)-n) {
			return e, fmt.Errorf("%w: index entry extension", ErrCorrupt)
		}
		ext := p[n : n+int(xl)]
		if _, _, rest, err := decodeExt(ext); err != nil || len(rest) != 0 {
			return e, fmt.Errorf("%w: index entry extension (%v, %d trailing bytes)", ErrCorrupt, err, len(rest))
		}
		e.ext = string(ext)
		p = p[n+int(xl):]
	}
	if vals[0] > 1<<32-1 || vals[1] > 1<<62 || vals[2] > 1<<40 || vals[3] > 1<<62 || cs > 1<<40 || len(p) > MaxContentTypeLen {
		return e, fmt.Errorf("%w: index entry out of range", ErrCorrupt)
	}
	e.loc = location{volume: uint32(vals[0]), offset: int64(vals[1]), length: int64(vals[2])}
	e.size = int64(vals[3])
	e.version = vals[4]
	e.modTime = (mt + int64(e.version>>16)) * 1e6
	e.chunkSize = int64(cs)
	e.contentType = string(p)
	return e, nil
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}
