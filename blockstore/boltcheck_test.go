package blockstore

import (
	"encoding/binary"
	"hash/fnv"
	"os"
	"path/filepath"
	"testing"
)

// boltMetaPage builds a meta page as bbolt writes one.
func boltMetaPage(pageSize uint32, highPgid, txid uint64) []byte {
	page := make([]byte, pageSize)
	b := page[boltPageHeaderSize:]
	le := binary.LittleEndian
	le.PutUint32(b[0:], boltMagic)
	le.PutUint32(b[4:], boltVersion)
	le.PutUint32(b[8:], pageSize)
	le.PutUint64(b[40:], highPgid)
	le.PutUint64(b[48:], txid)
	h := fnv.New64a()
	h.Write(b[:boltMetaSumLen])
	le.PutUint64(b[boltMetaSumLen:], h.Sum64())
	return page
}

func TestCheckBoltLength(t *testing.T) {
	const ps = 4096
	cases := []struct {
		name    string
		file    func() []byte
		corrupt bool
	}{
		{"empty", func() []byte { return nil }, false},
		{"fits", func() []byte {
			return append(append(boltMetaPage(ps, 4, 1), boltMetaPage(ps, 4, 2)...), make([]byte, 2*ps)...)
		}, false},
		{"newer meta past the end", func() []byte {
			return append(append(boltMetaPage(ps, 4, 1), boltMetaPage(ps, 9, 2)...), make([]byte, 2*ps)...)
		}, true},
		{"older meta past the end is not used", func() []byte {
			return append(append(boltMetaPage(ps, 9, 1), boltMetaPage(ps, 4, 2)...), make([]byte, 2*ps)...)
		}, false},
		{"first meta damaged, second past the end", func() []byte {
			first := boltMetaPage(ps, 4, 3)
			first[boltPageHeaderSize+20] ^= 1
			return append(append(first, boltMetaPage(ps, 9, 2)...), make([]byte, 2*ps)...)
		}, true},
		{"huge high-water mark", func() []byte {
			return append(append(boltMetaPage(ps, 1<<62, 2), boltMetaPage(ps, 4, 1)...), make([]byte, 2*ps)...)
		}, true},
		{"no valid meta is left to bbolt", func() []byte { return make([]byte, 4*ps) }, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), IndexFileName)
			if err := os.WriteFile(path, c.file(), 0o600); err != nil {
				t.Fatal(err)
			}
			err := checkBoltLength(path)
			if got := err != nil; got != c.corrupt {
				t.Fatalf("checkBoltLength = %v, want corrupt %v", err, c.corrupt)
			}
		})
	}
	if err := checkBoltLength(filepath.Join(t.TempDir(), "missing")); err != nil {
		t.Fatalf("missing file: %v", err)
	}
}

func FuzzDecodeBoltMeta(f *testing.F) {
	f.Add(boltMetaPage(4096, 4, 1)[:128])
	f.Add(make([]byte, 100))
	f.Fuzz(func(t *testing.T, page []byte) {
		m, ok := decodeBoltMeta(page)
		if ok && (m.pageSize < 512 || m.pageSize&(m.pageSize-1) != 0) {
			t.Fatalf("accepted page size %d", m.pageSize)
		}
	})
}
