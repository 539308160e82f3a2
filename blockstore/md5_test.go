package blockstore

import (
	"bytes"
	"context"
	"crypto/md5"
	"hash"
	"math/rand/v2"
	"testing"
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
