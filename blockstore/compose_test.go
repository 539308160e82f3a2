package blockstore

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"strata/ioengine/errorfs"
	"strata/ioengine/memfs"
)

// composeSet is a set of parts to compose and the content they make.
type composeSet struct {
	keys []string
	data map[string][]byte
	want []byte
}

// putParts writes parts of the given sizes (testOptions: 64 KiB chunks, so
// parts above it are chunked); compressible ones every third.
func putParts(t testing.TB, s *Store, prefix string, sizes []int, seed uint64) composeSet {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, seed))
	set := composeSet{data: map[string][]byte{}}
	for i, n := range sizes {
		key := fmt.Sprintf("%s/%05d", prefix, i+1)
		d := randBytes(r, n)
		if i%3 == 2 {
			d = bytes.Repeat([]byte{byte('a' + i%26)}, n)
		}
		put(t, s, key, d)
		set.keys = append(set.keys, key)
		set.data[key] = d
		set.want = append(set.want, d...)
	}
	return set
}

// checkComposed verifies key's content by Get, by every chunk and by
// reads at offsets around the part boundaries, and that no part is left.
func checkComposed(t testing.TB, s *Store, when, key string, set composeSet) {
	t.Helper()
	ctx := context.Background()
	mustGet(t, s, key, set.want)
	info, err := s.Stat(ctx, key)
	if err != nil {
		t.Fatalf("%s: %v", when, err)
	}
	if info.Size != int64(len(set.want)) || info.Checksum != crc32c(set.want) {
		t.Fatalf("%s: size %d checksum %#x, want %d %#x", when, info.Size, info.Checksum, len(set.want), crc32c(set.want))
	}
	var got []byte
	for i := range info.NumChunks() {
		c, err := s.ReadChunk(ctx, info, i)
		if err != nil {
			t.Fatalf("%s: chunk %d: %v", when, i, err)
		}
		if off, n := info.ChunkBounds(i); int64(len(c)) != n || !bytes.Equal(c, set.want[off:off+n]) {
			t.Fatalf("%s: chunk %d: %d bytes differ", when, i, len(c))
		}
		got = append(got, c...)
	}
	if !bytes.Equal(got, set.want) {
		t.Fatalf("%s: chunks do not add up to the content", when)
	}
	rd := s.NewReader(ctx, info)
	var at int64
	for _, k := range set.keys {
		for _, off := range []int64{at - 3, at, at + 1, at + int64(len(set.data[k])) - 2} {
			if off < 0 || off >= info.Size {
				continue
			}
			p := make([]byte, min(100, info.Size-off))
			if _, err := rd.ReadAt(p, off); err != nil && !errors.Is(err, io.EOF) {
				t.Fatalf("%s: ReadAt %d: %v", when, off, err)
			}
			if !bytes.Equal(p, set.want[off:off+int64(len(p))]) {
				t.Fatalf("%s: ReadAt %d differs", when, off)
			}
		}
		at += int64(len(set.data[k]))
	}
	for _, k := range set.keys {
		if _, err := s.Stat(ctx, k); !errors.Is(err, ErrNotFound) {
			t.Fatalf("%s: part %q: Stat %v, want ErrNotFound", when, k, err)
		}
	}
	if l, err := s.List(ctx, strings.Split(set.keys[0], "/")[0]+"/", "", 100); err != nil || len(l) != 0 {
		t.Fatalf("%s: parts listed: %d, %v", when, len(l), err)
	}
}

func TestCompose(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		sizes []int
	}{
		{"one small part", []int{10}},
		{"small parts", []int{1, 5000, 3000, 7}},
		{"an empty part", []int{100, 0, 100}},
		{"chunked parts", []int{64<<10 + 1, 200 << 10, 64 << 10}},
		{"mixed, unaligned", []int{70000, 13, 131072, 99999, 5}},
		{"all empty", []int{0, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := testOptions(t, nil)
			s := mustOpen(t, opts)
			put(t, s, "obj", []byte("the old content"))
			set := putParts(t, s, "part", tc.sizes, 1)
			sum := md5.Sum([]byte("parts' md5s"))
			meta := map[string]string{"X-Strata-S3-Etag": "abc-3", "Content-Encoding": "gzip"}
			info, err := s.Compose(ctx, "obj", set.keys, ComposeOptions{ContentType: "a/b", Meta: meta, MD5: sum[:]})
			if err != nil {
				t.Fatal(err)
			}
			if info.Size != int64(len(set.want)) || info.Checksum != crc32c(set.want) || !maps.Equal(info.Meta, meta) || !bytes.Equal(info.MD5, sum[:]) || info.ContentType != "a/b" {
				t.Fatalf("Compose Info %+v", info)
			}
			// The Info Compose returned reads without another manifest read.
			if c, err := s.ReadChunk(ctx, info, 0); err != nil || !bytes.Equal(c, set.want[:min(len(set.want), 64<<10)]) {
				t.Fatalf("ReadChunk of the returned Info: %d bytes, %v", len(c), err)
			}
			checkComposed(t, s, "pending", "obj", set)
			if err := s.index.flush(); err != nil {
				t.Fatal(err)
			}
			checkComposed(t, s, "committed", "obj", set)
			checkGarbage(t, s, "composed")
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if cr, err := Check(ctx, opts, CheckOptions{}); err != nil || !cr.Clean() {
				t.Fatalf("fsck: %v %+v", err, cr.Problems)
			}
			s = mustOpen(t, opts)
			checkComposed(t, s, "reopened", "obj", set)
			if st, _ := s.Stat(ctx, "obj"); !maps.Equal(st.Meta, meta) || !bytes.Equal(st.MD5, sum[:]) {
				t.Fatalf("reopened: meta %v md5 %x", st.Meta, st.MD5)
			}
			s.Close()
			if err := os.Remove(filepath.Join(opts.IndexDir, IndexFileName)); err != nil {
				t.Fatal(err)
			}
			s = mustOpen(t, opts)
			defer s.Close()
			checkComposed(t, s, "rebuilt", "obj", set)
			checkGarbage(t, s, "rebuilt")
			// Deleting the composed blob makes the parts' records garbage.
			if err := s.Delete(ctx, "obj", DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
			checkGarbage(t, s, "deleted")
		})
	}
}

func TestComposeRefused(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		key     string
		parts   []string
		opts    ComposeOptions
		small   bool // MaxBlobSize below the total
		wantErr error
	}{
		{name: "no parts", key: "obj", wantErr: ErrInvalidArgument},
		{name: "part twice", key: "obj", parts: []string{"p/00001", "p/00001"}, wantErr: ErrInvalidArgument},
		{name: "key is a part", key: "p/00001", parts: []string{"p/00001", "p/00002"}, wantErr: ErrInvalidArgument},
		{name: "missing part", key: "obj", parts: []string{"p/00001", "p/00009"}, wantErr: ErrNotFound},
		{name: "deleted part", key: "obj", parts: []string{"p/00001", "gone"}, wantErr: ErrNotFound},
		{name: "composed part", key: "obj", parts: []string{"p/00001", "composed"}, wantErr: ErrInvalidArgument},
		{name: "bad key", key: "", parts: []string{"p/00001"}, wantErr: ErrInvalidKey},
		{name: "bad part key", key: "obj", parts: []string{"p/00001", "a\x00"}, wantErr: ErrInvalidKey},
		{name: "bad md5", key: "obj", parts: []string{"p/00001"}, opts: ComposeOptions{MD5: []byte{1, 2}}, wantErr: ErrInvalidArgument},
		{name: "bad meta", key: "obj", parts: []string{"p/00001"}, opts: ComposeOptions{Meta: map[string]string{"no good": "x"}}, wantErr: ErrInvalidArgument},
		{name: "bad content type", key: "obj", parts: []string{"p/00001"}, opts: ComposeOptions{ContentType: "a\nb"}, wantErr: ErrInvalidArgument},
		{name: "too large", key: "obj", parts: []string{"p/00001", "p/00002", "p/00003"}, small: true, wantErr: ErrTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := testOptions(t, nil)
			if tc.small {
				opts.MaxBlobSize = 150 << 10
			}
			s := mustOpen(t, opts)
			defer s.Close()
			put(t, s, "obj", []byte("old"))
			set := putParts(t, s, "p", []int{60 << 10, 60 << 10, 60 << 10}, 2)
			put(t, s, "gone", []byte("x"))
			if err := s.Delete(ctx, "gone", DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
			put(t, s, "c/1", []byte("c1"))
			if _, err := s.Compose(ctx, "composed", []string{"c/1"}, ComposeOptions{}); err != nil {
				t.Fatal(err)
			}
			before := s.Stats().RecordsWritten
			_, err := s.Compose(ctx, tc.key, tc.parts, tc.opts)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
			if n := s.Stats().RecordsWritten - before; n != 0 {
				t.Fatalf("a refused Compose wrote %d records", n)
			}
			mustGet(t, s, "obj", []byte("old"))
			for _, k := range set.keys {
				mustGet(t, s, k, set.data[k])
			}
		})
	}
}

// TestComposeVersioned: with a version, a key at least as new is kept and
// the parts too; a repeat at the same version is a no-op.
func TestComposeVersioned(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, testOptions(t, nil))
	defer s.Close()
	set := putParts(t, s, "p", []int{10, 20}, 3)
	v := s.NextVersion()
	info, err := s.Compose(ctx, "obj", set.keys, ComposeOptions{Version: v})
	if err != nil || info.Version != v {
		t.Fatalf("compose: %+v %v", info, err)
	}
	again, err := s.Compose(ctx, "obj", set.keys, ComposeOptions{Version: v})
	if err != nil || again.Version != v || again.Size != 30 {
		t.Fatalf("repeat: %+v %v", again, err)
	}
	set2 := putParts(t, s, "q", []int{5}, 4)
	if old, err := s.Compose(ctx, "obj", set2.keys, ComposeOptions{Version: v - 1}); err != nil || old.Version != v {
		t.Fatalf("older compose: %+v %v", old, err)
	}
	mustGet(t, s, set2.keys[0], set2.data[set2.keys[0]])
	checkComposed(t, s, "after an older compose", "obj", set)
}

// TestComposeOverwrittenPart: a part overwritten after the Compose keeps
// its new blob (the Compose removed only the version it took).
func TestComposeOverwrittenPart(t *testing.T) {
	ctx := context.Background()
	opts := testOptions(t, nil)
	s := mustOpen(t, opts)
	set := putParts(t, s, "p", []int{10, 20}, 5)
	if _, err := s.Compose(ctx, "obj", set.keys, ComposeOptions{}); err != nil {
		t.Fatal(err)
	}
	put(t, s, set.keys[0], []byte("new part"))
	mustGet(t, s, set.keys[0], []byte("new part"))
	mustGet(t, s, "obj", set.want)
	s.Close()
	if err := os.Remove(filepath.Join(opts.IndexDir, IndexFileName)); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, opts)
	defer s.Close()
	mustGet(t, s, set.keys[0], []byte("new part"))
	mustGet(t, s, "obj", set.want)
	if _, err := s.Stat(ctx, set.keys[1]); !errors.Is(err, ErrNotFound) {
		t.Fatalf("rebuilt: part 2: %v", err)
	}
}

// TestComposeCompaction: compaction moves the records a composed manifest
// names (they belong to the parts' keys) and rewrites the manifest; the
// content, the garbage counts and a rebuild agree afterwards.
func TestComposeCompaction(t *testing.T) {
	ctx := context.Background()
	opts := compactOptions(t) // 16 KiB chunks
	s := mustOpen(t, opts)
	filler := bytes.Repeat([]byte("f"), 8<<10)
	r := rand.New(rand.NewPCG(9, 9))
	set := composeSet{data: map[string][]byte{}}
	for i, n := range []int{5000, 40 << 10, 16 << 10, 33333, 1} {
		key := fmt.Sprintf("p/%d", i)
		d := randBytes(r, n)
		put(t, s, key, d)
		set.keys, set.data[key], set.want = append(set.keys, key), d, append(set.want, d...)
		for range 30 {
			put(t, s, "filler", filler)
		}
	}
	if _, err := s.Compose(ctx, "obj", set.keys, ComposeOptions{Meta: map[string]string{"A": "b"}}); err != nil {
		t.Fatal(err)
	}
	for range 60 {
		put(t, s, "filler", filler)
	}
	before, _, _ := s.index.lookup("obj")
	mb, err := s.manifestOf(ctx, before.info("obj"))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := s.Compact(ctx)
	if err != nil {
		t.Fatal(err)
	}
	after, _, _ := s.index.lookup("obj")
	if len(rep.Volumes) == 0 || len(rep.Failed) != 0 || rep.ManifestsRewritten == 0 || after.loc == before.loc {
		t.Fatalf("report %+v: the composed manifest was not rewritten", rep)
	}
	ma, err := s.manifestOf(ctx, after.info("obj"))
	if err != nil {
		t.Fatal(err)
	}
	moved := 0
	for i := range ma.chunks {
		if ma.chunks[i].loc != mb.chunks[i].loc {
			moved++
		}
	}
	if moved == 0 {
		t.Fatalf("compaction moved none of the %d records the composed manifest names", len(ma.chunks))
	}
	checkComposed(t, s, "compacted", "obj", set)
	checkGarbage(t, s, "compacted")
	if st, _ := s.Stat(ctx, "obj"); st.Meta["A"] != "b" {
		t.Fatalf("meta lost: %v", st.Meta)
	}
	s.Close()
	if cr, err := Check(ctx, opts, CheckOptions{}); err != nil || !cr.Clean() {
		t.Fatalf("fsck: %v %+v", err, cr.Problems)
	}
	if err := os.Remove(filepath.Join(opts.IndexDir, IndexFileName)); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, opts)
	defer s.Close()
	checkComposed(t, s, "compacted and rebuilt", "obj", set)
	checkGarbage(t, s, "compacted and rebuilt")
}

// TestComposeCorruptPartRecord: a damaged record of a part is never served
// through the composed blob.
func TestComposeCorruptPartRecord(t *testing.T) {
	ctx := context.Background()
	mfs := memfs.New(memfs.Options{})
	opts := testOptions(t, mfs)
	s := mustOpen(t, opts)
	defer s.Close()
	set := putParts(t, s, "p", []int{100 << 10, 3000}, 6)
	info, err := s.Compose(ctx, "obj", set.keys, ComposeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.manifestOf(ctx, info)
	if err != nil {
		t.Fatal(err)
	}
	last := m.chunks[len(m.chunks)-1]
	f := volumeFile(t, mfs, "/data0", last.loc.volume)
	at := last.loc.offset + last.loc.length - 10
	pokeFile(t, f, at, func(b []byte) []byte { b[at%4096] ^= 0x40; return b })
	f.Close()
	if _, _, err := s.Get(ctx, "obj"); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Get: %v, want ErrCorrupt", err)
	}
	if _, err := s.ReadChunk(ctx, info, info.NumChunks()-1); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("ReadChunk: %v, want ErrCorrupt", err)
	}
	if c, err := s.ReadChunk(ctx, info, 0); err != nil || !bytes.Equal(c, set.want[:64<<10]) {
		t.Fatalf("an undamaged chunk: %v", err)
	}
	// The failed read indexed the composed blob as corrupt, so a replica
	// can repair it (a write at its version replaces it).
	if _, err := s.Stat(ctx, "obj"); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Stat after the failed read: %v, want ErrCorrupt", err)
	}
	if _, err := s.Put(ctx, "obj", bytes.NewReader(set.want), int64(len(set.want)), PutOptions{Version: info.Version}); err != nil {
		t.Fatal(err)
	}
	mustGet(t, s, "obj", set.want)
}

// TestComposeCrash crashes around a Compose: before it, while its record
// is written but not synced (torn or not), after it is durable but before
// the index commits, and after. A reopen, and a rebuild of the index from
// the volumes, find either the old key with every part, or the new key
// (its bytes verified) with no part.
func TestComposeCrash(t *testing.T) {
	ctx := context.Background()
	mfs := memfs.New(memfs.Options{})
	var armed atomic.Bool
	var states []crashState
	var s *Store
	snap := func(step string) {
		for _, mode := range []memfs.Unsynced{memfs.LoseUnsynced, memfs.KeepUnsyncedRandom, memfs.KeepUnsyncedPrefix} {
			dir := t.TempDir()
			if err := snapshotIndex(s, dir); err != nil {
				t.Error(err)
				return
			}
			clone := mfs.CrashCloneWith(memfs.CrashOptions{Unsynced: mode, Rand: rand.New(rand.NewPCG(uint64(len(states)), 11))})
			states = append(states, crashState{step: fmt.Sprintf("%s (unsynced %v)", step, mode), fs: clone, indexDir: dir})
		}
	}
	inj := errorfs.InjectorFunc(func(op errorfs.Op) errorfs.Fault {
		if op.Kind == errorfs.OpSync && armed.Load() && strings.HasSuffix(op.Path, volumeSuffix) {
			snap("written, not synced")
		}
		return errorfs.Fault{}
	})
	opts := testOptions(t, errorfs.Wrap(mfs, inj))
	s = mustOpen(t, opts)
	put(t, s, "obj", []byte("old"))
	set := putParts(t, s, "p", []int{3000, 100 << 10, 10}, 7)
	if err := s.index.flush(); err != nil {
		t.Fatal(err)
	}
	snap("before")
	hook := func(batch []indexOp) {
		for _, op := range batch {
			if op.key == "obj" {
				snap("durable, index not committed")
			}
		}
	}
	s.index.commitHook.Store(&hook)
	armed.Store(true)
	if _, err := s.Compose(ctx, "obj", set.keys, ComposeOptions{}); err != nil {
		t.Fatal(err)
	}
	armed.Store(false)
	if err := s.index.flush(); err != nil {
		t.Fatal(err)
	}
	s.index.commitHook.Store(nil)
	snap("after")
	s.Close()
	outcomes := map[string]int{}
	for _, st := range states {
		copts := opts
		copts.FS, copts.IndexDir = st.fs, st.indexDir
		var first string
		for _, how := range []string{"reopen", "rebuild"} {
			if how == "rebuild" {
				if err := os.Remove(filepath.Join(st.indexDir, IndexFileName)); err != nil {
					t.Fatal(err)
				}
			}
			c, err := Open(ctx, copts)
			if err != nil {
				t.Fatalf("%s, %s: %v", st.step, how, err)
			}
			got := composeOutcome(t, c, set)
			c.Close()
			if got == "" {
				t.Fatalf("%s, %s: neither the old state nor the composed one", st.step, how)
			}
			if first == "" {
				first = got
			} else if got != first {
				t.Fatalf("%s: reopen found %s, rebuild %s", st.step, first, got)
			}
			if strings.HasPrefix(st.step, "before") && got != "old" || (strings.HasPrefix(st.step, "durable") || strings.HasPrefix(st.step, "after")) && got != "new" {
				t.Fatalf("%s, %s: %s", st.step, how, got)
			}
		}
		outcomes[first]++
	}
	if outcomes["old"] == 0 || outcomes["new"] == 0 || len(states) < 12 {
		t.Fatalf("outcomes %v over %d states: the test did not crash at every step", outcomes, len(states))
	}
}

// composeOutcome is "old" when obj is old and every part is there, "new"
// when obj is the composed content and no part is visible, else "".
func composeOutcome(t *testing.T, s *Store, set composeSet) string {
	ctx := context.Background()
	_, obj, err := s.Get(ctx, "obj")
	if err != nil {
		t.Errorf("obj: %v", err)
		return ""
	}
	visible := 0
	for _, k := range set.keys {
		if _, d, err := s.Get(ctx, k); err == nil && bytes.Equal(d, set.data[k]) {
			visible++
		}
	}
	switch {
	case string(obj) == "old" && visible == len(set.keys):
		return "old"
	case bytes.Equal(obj, set.want) && visible == 0:
		return "new"
	}
	t.Errorf("obj is %d bytes, %d of %d parts visible", len(obj), visible, len(set.keys))
	return ""
}

// TestComposePartsStayDeletedAfterCompaction: once the composed key is
// deleted, compaction may drop the compose record while the parts'
// records still lie in a volume it keeps; the parts' tombstone records
// must keep a rebuild from bringing the parts back.
func TestComposePartsStayDeletedAfterCompaction(t *testing.T) {
	ctx := context.Background()
	opts := compactOptions(t)
	s := mustOpen(t, opts)
	set := putParts(t, s, "p", []int{3000, 20 << 10, 10}, 8)
	live := bytes.Repeat([]byte("L"), 8<<10)
	for i := 0; s.Stats().Volumes < 2; i++ { // the parts' volume, sealed full of live blobs
		put(t, s, fmt.Sprintf("live/%03d", i), live)
	}
	partVol := func() uint32 { e, _, _ := s.index.lookup("live/000"); return e.loc.volume }()
	if _, err := s.Compose(ctx, "obj", set.keys, ComposeOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "obj", DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	filler := bytes.Repeat([]byte("f"), 8<<10)
	for s.Stats().Volumes < 4 {
		put(t, s, "filler", filler)
	}
	rep, err := s.Compact(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Volumes) == 0 || slices.Contains(rep.Volumes, partVol) {
		t.Fatalf("report %+v: want the compose record's volume compacted and not the parts' (%d)", rep, partVol)
	}
	s.Close()
	if err := os.Remove(filepath.Join(opts.IndexDir, IndexFileName)); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, opts)
	defer s.Close()
	for _, k := range set.keys {
		if _, err := s.Stat(ctx, k); !errors.Is(err, ErrNotFound) {
			t.Fatalf("part %q after compaction and a rebuild: %v, want ErrNotFound", k, err)
		}
	}
	if _, err := s.Stat(ctx, "obj"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("obj: %v", err)
	}
}

// TestComposePinnedVersions: PartVersions pins each part; a part held at
// another version fails the Compose with ErrNotFound and changes nothing.
func TestComposePinnedVersions(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, testOptions(t, nil))
	defer s.Close()
	set := putParts(t, s, "p", []int{10, 20}, 5)
	var versions []uint64
	for _, k := range set.keys {
		info, err := s.Stat(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		versions = append(versions, info.Version)
	}
	stale := []uint64{versions[0], versions[1] - 1}
	if _, err := s.Compose(ctx, "obj", set.keys, ComposeOptions{PartVersions: stale}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("compose pinned to a version the part is not at: %v, want ErrNotFound", err)
	}
	if _, err := s.Stat(ctx, "obj"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a refused compose made the key: %v", err)
	}
	for _, k := range set.keys {
		if _, err := s.Stat(ctx, k); err != nil {
			t.Fatalf("a refused compose touched part %q: %v", k, err)
		}
	}
	if _, err := s.Compose(ctx, "obj", set.keys, ComposeOptions{PartVersions: versions[:1]}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("one version for two parts: %v, want ErrInvalidArgument", err)
	}
	if _, err := s.Compose(ctx, "obj", set.keys, ComposeOptions{PartVersions: versions}); err != nil {
		t.Fatal(err)
	}
	mustGet(t, s, "obj", set.want)
}
