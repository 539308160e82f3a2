package blockstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
)

// bbolt maps its file and trusts the meta page's high-water mark: a file
// shorter than that mark (a truncated copy, a damaged filesystem) makes
// bbolt touch pages past the end of the file, and the process dies of
// SIGBUS, which no recover catches. checkBoltLength reads the meta pages
// the way bbolt does and refuses such a file first, so Open rebuilds the
// index from the volumes instead of crashing.
//
// The layout (bbolt's internal/common): each meta page starts with a
// 16-byte page header, then magic u32, version u32, pageSize u32, flags
// u32, root bucket (pgid u64, sequence u64), freelist pgid u64, high-water
// pgid u64, txid u64 and an FNV-64a checksum of the 56 bytes before it, in
// the host's byte order (little endian on every platform we build for).
const (
	boltPageHeaderSize = 16
	boltMetaSumLen     = 56
	boltMagic          = 0xED0CDAED
	boltVersion        = 2
)

// boltMeta is the part of a meta page checkBoltLength needs.
type boltMeta struct {
	pageSize uint32
	highPgid uint64
	txid     uint64
}

// decodeBoltMeta decodes the meta page at the start of page; ok is false
// when the page is not a valid meta page (bbolt then uses the other one).
func decodeBoltMeta(page []byte) (m boltMeta, ok bool) {
	if len(page) < boltPageHeaderSize+boltMetaSumLen+8 {
		return m, false
	}
	b := page[boltPageHeaderSize:]
	le := binary.LittleEndian
	if le.Uint32(b[0:]) != boltMagic || le.Uint32(b[4:]) != boltVersion {
		return m, false
	}
	h := fnv.New64a()
	h.Write(b[:boltMetaSumLen])
	if h.Sum64() != le.Uint64(b[boltMetaSumLen:]) {
		return m, false
	}
	m = boltMeta{pageSize: le.Uint32(b[8:]), highPgid: le.Uint64(b[40:]), txid: le.Uint64(b[48:])}
	if m.pageSize < 512 || m.pageSize > 1<<20 || m.pageSize&(m.pageSize-1) != 0 {
		return m, false
	}
	return m, true
}

// errIndexTruncated: index.db is shorter than its own metadata says.
var errIndexTruncated = errors.New("index file is shorter than its metadata says (truncated or damaged)")

// checkBoltLength returns an error wrapping ErrCorrupt when the file at
// path holds a valid meta page whose high-water mark lies past the end of
// the file. A missing file, or one without any valid meta page, is left to
// bbolt (which creates the first and reports the second as an error).
func checkBoltLength(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	size := fi.Size()
	if size == 0 {
		return nil // bbolt initialises an empty file
	}
	var first [4096]byte
	n, err := f.ReadAt(first[:], 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	metas := make([]boltMeta, 0, 2)
	if m, ok := decodeBoltMeta(first[:n]); ok {
		metas = append(metas, m)
	}
	// The second meta page sits one page in; without a readable first
	// meta, try every page size bbolt could have used.
	sizes := []int64{}
	if len(metas) == 1 {
		sizes = append(sizes, int64(metas[0].pageSize))
	} else {
		for ps := int64(512); ps <= 1<<16; ps *= 2 {
			sizes = append(sizes, ps)
		}
	}
	for _, ps := range sizes {
		var page [boltPageHeaderSize + boltMetaSumLen + 8]byte
		if _, err := f.ReadAt(page[:], ps); err != nil {
			continue
		}
		if m, ok := decodeBoltMeta(page[:]); ok && int64(m.pageSize) == ps {
			metas = append(metas, m)
			break
		}
	}
	if len(metas) == 0 {
		return nil
	}
	// bbolt uses the valid meta with the higher txid.
	use := metas[0]
	for _, m := range metas[1:] {
		if m.txid > use.txid {
			use = m
		}
	}
	if use.highPgid > uint64(size)/uint64(use.pageSize) {
		return fmt.Errorf("%w: %s: %w: %d bytes, its metadata needs %d pages of %d",
			ErrCorrupt, path, errIndexTruncated, size, use.highPgid, use.pageSize)
	}
	return nil
}
