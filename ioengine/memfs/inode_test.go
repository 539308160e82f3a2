package memfs_test

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"strata/ioengine"
	"strata/ioengine/memfs"
)

func TestSparseAllocate(t *testing.T) {
	m := memfs.New(memfs.Options{})
	f, err := m.OpenFile("/vol", ioengine.FlagCreate|ioengine.FlagDirect)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const size = 4 << 30 // must not cost 4 GiB of RAM
	if err := f.Allocate(0, size); err != nil {
		t.Fatal(err)
	}
	buf := ioengine.AlignedBytes(8192, 4096)
	for i := range buf {
		buf[i] = 0xff
	}
	if _, err := f.ReadAt(buf, size-8192); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf, make([]byte, 8192)) {
		t.Fatal("unwritten allocated bytes are not zero")
	}
	if n, err := f.ReadAt(buf, size-4096); n != 4096 || !errors.Is(err, io.EOF) {
		t.Fatalf("read across EOF: %d %v", n, err)
	}
}

// model is the obvious dense implementation memfs's sparse copy-on-write
// inode must agree with.
type model struct{ cur, synced []byte }

func (m *model) write(p []byte, off int) {
	if end := off + len(p); end > len(m.cur) {
		m.cur = append(m.cur, make([]byte, end-len(m.cur))...)
	}
	copy(m.cur[off:], p)
}

// randomWrite writes up to two pages of random bytes at a random offset
// below maxSize, to f and to the model.
func (m *model) randomWrite(t *testing.T, r *rand.Rand, f ioengine.File, maxSize int) {
	t.Helper()
	off := r.IntN(maxSize)
	p := make([]byte, 1+r.IntN(2*4096))
	for i := range p {
		p[i] = byte(r.Uint32())
	}
	if _, err := f.WriteAt(p, int64(off)); err != nil {
		t.Fatal(err)
	}
	m.write(p, off)
}

// randomTruncate truncates f and the model to a random size below maxSize.
func (m *model) randomTruncate(t *testing.T, r *rand.Rand, f ioengine.File, maxSize int) {
	t.Helper()
	size := r.IntN(maxSize)
	if err := f.Truncate(int64(size)); err != nil {
		t.Fatal(err)
	}
	m.truncate(size)
}

func (m *model) truncate(size int) {
	if size <= len(m.cur) {
		m.cur = m.cur[:size]
		return
	}
	m.cur = append(m.cur, make([]byte, size-len(m.cur))...)
}

// TestAgainstModel runs random writes, truncates, syncs and crashes against
// memfs and the dense model and compares every file state.
func TestAgainstModel(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	fsys := memfs.New(memfs.Options{})
	create("/f")(t, fsys)
	syncDir("/")(t, fsys)
	f, err := fsys.OpenFile("/f", 0)
	if err != nil {
		t.Fatal(err)
	}
	var want model
	check := func(step int, f ioengine.File, expect []byte) {
		t.Helper()
		size, err := f.Size()
		if err != nil || size != int64(len(expect)) {
			t.Fatalf("step %d: size %d %v, want %d", step, size, err, len(expect))
		}
		got := make([]byte, size)
		if _, err := f.ReadAt(got, 0); err != nil && !errors.Is(err, io.EOF) {
			t.Fatal(err)
		}
		if !bytes.Equal(got, expect) {
			t.Fatalf("step %d: contents differ from the model", step)
		}
	}
	const maxSize = 5 * 4096
	for step := range 3000 {
		switch op := r.IntN(10); {
		case op < 6:
			want.randomWrite(t, r, f, maxSize)
		case op < 7:
			want.randomTruncate(t, r, f, maxSize)
		case op < 9:
			if err := f.Sync(); err != nil {
				t.Fatal(err)
			}
			want.synced = bytes.Clone(want.cur)
		default:
			crashed := fsys.CrashClone()
			cf, err := crashed.OpenFile("/f", 0)
			if err != nil {
				t.Fatal(err)
			}
			check(step, cf, want.synced)
			if r.IntN(2) == 0 {
				// Continue on the crashed state, like a restarted process.
				f.Close()
				fsys, f = crashed, cf
				want.cur = bytes.Clone(want.synced)
				break
			}
			// Writing to the clone must not disturb the original.
			if _, err := cf.WriteAt([]byte("clone"), int64(r.IntN(maxSize))); err != nil {
				t.Fatal(err)
			}
			cf.Close()
		}
		check(step, f, want.cur)
	}
	f.Close()
}

// TestFailedSyncAgainstModel mixes failed fdatasyncs into random writes,
// truncates, syncs and crashes. Reads must always show the current bytes;
// with FailedSyncKeepsDirty a crash leaves exactly the bytes of the last
// Sync; with FailedSyncMarksClean every page of a crash state is that page
// as of some successful Sync (a failed one may have left it older), and the
// size is the size of the last Sync. Every crash clone must stay as it was
// taken while the origin goes on.
func TestFailedSyncAgainstModel(t *testing.T) {
	for _, mode := range []memfs.FailedSync{memfs.FailedSyncKeepsDirty, memfs.FailedSyncMarksClean} {
		t.Run(mode.String(), func(t *testing.T) {
			r := rand.New(rand.NewPCG(11, uint64(mode)))
			fsys := memfs.New(memfs.Options{FailedSync: mode})
			create("/f")(t, fsys)
			syncDir("/")(t, fsys)
			f, err := fsys.OpenFile("/f", 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			var want model
			syncedHistory := [][]byte{nil}
			type taken struct {
				fs   *memfs.FS
				data []byte
			}
			var clones []taken
			read := func(f ioengine.File) []byte {
				size, err := f.Size()
				if err != nil {
					t.Fatal(err)
				}
				got := make([]byte, size)
				if _, err := f.ReadAt(got, 0); err != nil && !errors.Is(err, io.EOF) {
					t.Fatal(err)
				}
				return got
			}
			const maxSize = 6 * 4096
			for step := range 3000 {
				switch op := r.IntN(12); {
				case op < 6:
					want.randomWrite(t, r, f, maxSize)
				case op < 7:
					want.randomTruncate(t, r, f, maxSize)
				case op < 9:
					if err := f.Sync(); err != nil {
						t.Fatal(err)
					}
					want.synced = bytes.Clone(want.cur)
					syncedHistory = append(syncedHistory, want.synced)
				case op < 11:
					f.(interface{ SyncFailed() }).SyncFailed()
				default:
					c := fsys.CrashClone()
					cf, err := c.OpenFile("/f", ioengine.FlagReadOnly)
					if err != nil {
						t.Fatal(err)
					}
					got := read(cf)
					cf.Close()
					clones = append(clones, taken{c, got})
					if len(got) != len(want.synced) {
						t.Fatalf("step %d: crash size %d, want the last Sync's %d", step, len(got), len(want.synced))
					}
					if mode == memfs.FailedSyncKeepsDirty && !bytes.Equal(got, want.synced) {
						t.Fatalf("step %d: crash state differs from the last Sync", step)
					}
					for off := 0; off < len(got); off += 4096 {
						end := min(off+4096, len(got))
						ok := false
						for _, h := range syncedHistory {
							pg := make([]byte, end-off)
							if off < len(h) {
								copy(pg, h[off:min(end, len(h))])
							}
							if bytes.Equal(pg, got[off:end]) {
								ok = true
								break
							}
						}
						if !ok {
							t.Fatalf("step %d: crash page at %d is no page any Sync wrote", step, off)
						}
					}
				}
				if got := read(f); !bytes.Equal(got, want.cur) {
					t.Fatalf("step %d: reads differ from the written bytes", step)
				}
			}
			for i, c := range clones {
				cf, err := c.fs.OpenFile("/f", ioengine.FlagReadOnly)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(read(cf), c.data) {
					t.Fatalf("crash clone %d changed after it was taken", i)
				}
				cf.Close()
			}
		})
	}
}
