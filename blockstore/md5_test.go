package blockstore

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"hash"
	"math/rand/v2"
	"testing"

	"strata/internal/poll"
)

// countedMD5 is an Options.NewMD5 that counts the hashes it made, the
// bytes they were fed and the ones closed.
type countedMD5 struct {
	made, closed int
	fed          int64
}

type countedHash struct {
	hash.Hash
	c *countedMD5
}

func (h countedHash) Write(p []byte) (int, error) { h.c.fed += int64(len(p)); return h.Hash.Write(p) }
func (h countedHash) Close()                      { h.c.closed++ }

func (c *countedMD5) New() hash.Hash { c.made++; return countedHash{Hash: md5.New(), c: c} }

// TestPutUsesOptionsMD5: a Put asking for an MD5 hashes with Options.NewMD5
// (single records and chunked blobs), closes the hash, also when the Put
// fails; a Put not asking makes none.
func TestPutUsesOptionsMD5(t *testing.T) {
	var c countedMD5
	opts := testOptions(t, nil)
	opts.NewMD5 = c.New
	s := mustOpen(t, opts)
	defer s.Close()
	r := rand.New(rand.NewPCG(9, 9))
	ctx := context.Background()
	for _, n := range []int{0, 100, int(opts.ChunkSize), 3*int(opts.ChunkSize) + 5} {
		data := randBytes(r, n)
		before := c
		info, err := s.Put(ctx, "md5/k", bytes.NewReader(data), int64(n), PutOptions{WantMD5: true})
		if err != nil {
			t.Fatalf("Put %d bytes: %v", n, err)
		}
		if want := md5.Sum(data); !bytes.Equal(info.MD5, want[:]) {
			t.Fatalf("%d bytes: MD5 %x, want %x", n, info.MD5, want)
		}
		if c.made != before.made+1 || c.closed != before.closed+1 || c.fed != before.fed+int64(n) {
			t.Fatalf("%d bytes: hashes made %d closed %d fed %d, before %+v", n, c.made, c.closed, c.fed, before)
		}
	}
	before := c
	if _, err := s.Put(ctx, "md5/short", bytes.NewReader(make([]byte, 10)), 20, PutOptions{WantMD5: true}); err == nil {
		t.Fatal("a short body was stored")
	}
	if c.made != before.made+1 || c.closed != before.closed+1 {
		t.Fatalf("failed Put: hashes made %d closed %d, before %+v", c.made, c.closed, before)
	}
	put(t, s, "md5/none", []byte("no md5 asked"))
	if c.made != before.made+1 {
		t.Fatalf("a Put without WantMD5 made a hash")
	}
}

// gatedHash is an MD5 whose first Write waits until the store has written
// a record more than it had when the hash was made.
type gatedHash struct {
	hash.Hash
	t     *testing.T
	s     *Store
	start uint64
	once  bool
}

func (g *gatedHash) Write(p []byte) (int, error) {
	if !g.once {
		g.once = true
		poll.Until(g.t, "the chunk's record to be written while its MD5 is computed", func() bool {
			return g.s.Stats().RecordsWritten > g.start
		})
	}
	return g.Hash.Write(p)
}

// TestChunkMD5OverlapsItsWrite: a chunked Put hashes each chunk while the
// chunk's record is written and synced, not before: a hash that waits for
// the first chunk's record before it takes that chunk's bytes still
// finishes, with the right digest.
func TestChunkMD5OverlapsItsWrite(t *testing.T) {
	var s *Store
	opts := testOptions(t, nil)
	opts.NewMD5 = func() hash.Hash { return &gatedHash{Hash: md5.New(), t: t, s: s, start: s.Stats().RecordsWritten} }
	s = mustOpen(t, opts)
	defer s.Close()
	data := randBytes(rand.New(rand.NewPCG(4, 4)), 3*int(opts.ChunkSize)+1)
	info, err := s.Put(context.Background(), "md5/gated", bytes.NewReader(data), int64(len(data)), PutOptions{WantMD5: true})
	if err != nil {
		t.Fatal(err)
	}
	if want := md5.Sum(data); !bytes.Equal(info.MD5, want[:]) {
		t.Fatalf("MD5 %x, want %x", info.MD5, want)
	}
}

// TestPutKnownMD5: PutOptions.MD5 is kept as the blob's MD5 without hashing
// (Options.NewMD5 is not asked), single record or chunked, across a
// reopen; it wins over WantMD5; one not 16 bytes long is refused.
func TestPutKnownMD5(t *testing.T) {
	var c countedMD5
	opts := testOptions(t, nil)
	opts.NewMD5 = c.New
	s := mustOpen(t, opts)
	ctx := context.Background()
	given := md5.Sum([]byte("what the caller verified"))
	r := rand.New(rand.NewPCG(5, 5))
	sizes := map[string]int{"md5/known-small": 100, "md5/known-chunked": 2*int(opts.ChunkSize) + 3}
	for key, n := range sizes {
		data := randBytes(r, n)
		info, err := s.Put(ctx, key, bytes.NewReader(data), int64(n), PutOptions{MD5: given[:], WantMD5: true})
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		if !bytes.Equal(info.MD5, given[:]) {
			t.Fatalf("%s: MD5 %x, want the given %x", key, info.MD5, given)
		}
	}
	if c.made != 0 {
		t.Fatalf("%d hashes made for Puts that gave their MD5", c.made)
	}
	if _, err := s.Put(ctx, "md5/bad", bytes.NewReader([]byte("x")), 1, PutOptions{MD5: []byte{1, 2, 3}}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("an MD5 of 3 bytes: %v, want ErrInvalidArgument", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, opts)
	defer s.Close()
	for key := range sizes {
		info, err := s.Stat(ctx, key)
		if err != nil || !bytes.Equal(info.MD5, given[:]) {
			t.Fatalf("%s after reopen: MD5 %x, %v", key, info.MD5, err)
		}
	}
}
