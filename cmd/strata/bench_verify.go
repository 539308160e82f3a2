package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
)

// With --verify every PUT writes content derived from (seed, key, generation)
// and every GET checks what it read. A body starts with a header naming
// what it is, so a GET can tell which generation it got without the client
// remembering every write:
//
//	offset 0  8 bytes  key index, little endian
//	offset 8  8 bytes  generation (1 = first write of the key in this run)
//	offset 16 8 bytes  body size
//	offset 24          ChaCha8 stream seeded from (seed, key index, generation)

// verifyHeaderSize is the header every verified body starts with; sizes
// below it cannot carry one.
const verifyHeaderSize = 24

// maxVerifyKeys bounds the per-key state --verify keeps (32 bytes a key).
const maxVerifyKeys = 1 << 22

// Verification failures: their own error kinds, counted apart from
// transport and status errors.
var (
	// errVerifyMismatch: the bytes are not what any write of this key in
	// this run produced (a flipped byte, a torn or misdirected read).
	errVerifyMismatch = errors.New("verify: content mismatch")
	// errVerifyStale: the bytes are an intact generation superseded by a
	// write acknowledged before the GET started, or the key is missing
	// although a write of it was acknowledged.
	errVerifyStale = errors.New("verify: stale read")
)

// keyGenerations is the per-key state of a verified run.
//
// Generations are numbered in the order their PUTs are sent, but PUTs of
// one key that overlap may commit in any order, so the highest acknowledged
// generation is not necessarily the current one. What is certain: a PUT
// sent while no other PUT of the key was in flight ("clean") comes after
// every lower generation, so once it is acknowledged every lower generation
// is stale. cleanAcked is the highest such generation; without overlapping
// writers (one client, or a large key space) every PUT is clean and the
// check is exact.
type keyGenerations struct {
	mu         sync.Mutex
	issued     uint64 // highest generation a PUT was sent for
	inFlight   uint64 // PUTs sent and not yet returned
	cleanAcked uint64 // highest clean generation whose PUT was acknowledged
}

// benchVerifier tracks, per key, which generations a GET may return.
type benchVerifier struct {
	seed uint64
	keys []keyGenerations
}

func newBenchVerifier(keys int, seed uint64) *benchVerifier {
	return &benchVerifier{seed: seed, keys: make([]keyGenerations, keys)}
}

// putGeneration is a PUT about to be sent: its generation and whether no
// other PUT of the key was in flight.
type putGeneration struct {
	gen   uint64
	clean bool
}

// nextGeneration claims a new generation of key for a PUT about to be sent;
// the caller must call finish when the PUT returns.
func (v *benchVerifier) nextGeneration(key uint64) putGeneration {
	k := &v.keys[key]
	k.mu.Lock()
	defer k.mu.Unlock()
	k.issued++
	k.inFlight++
	return putGeneration{gen: k.issued, clean: k.inFlight == 1}
}

// finish records that the PUT of p returned, acknowledged or not.
func (v *benchVerifier) finish(key uint64, p putGeneration, acked bool) {
	k := &v.keys[key]
	k.mu.Lock()
	defer k.mu.Unlock()
	k.inFlight--
	if acked && p.clean {
		k.cleanAcked = max(k.cleanAcked, p.gen)
	}
}

// oldestAllowed is what a GET starting now must return at least: the newest
// generation known to supersede all lower ones.
func (v *benchVerifier) oldestAllowed(key uint64) uint64 {
	k := &v.keys[key]
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.cleanAcked
}

// written reports whether any PUT of key was sent in this run.
func (v *benchVerifier) written(key uint64) bool {
	return v.issuedGenerations(key) > 0
}

func (v *benchVerifier) issuedGenerations(key uint64) uint64 {
	k := &v.keys[key]
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.issued
}

// body returns the content of generation gen of key, size bytes long.
func (v *benchVerifier) body(key, gen uint64, size int64) io.Reader {
	var h [verifyHeaderSize]byte
	binary.LittleEndian.PutUint64(h[0:], key)
	binary.LittleEndian.PutUint64(h[8:], gen)
	binary.LittleEndian.PutUint64(h[16:], uint64(size))
	return io.MultiReader(bytes.NewReader(h[:]), io.LimitReader(v.stream(key, gen), size-verifyHeaderSize))
}

func (v *benchVerifier) stream(key, gen uint64) *rand.ChaCha8 {
	var k [32]byte
	binary.LittleEndian.PutUint64(k[0:], v.seed)
	binary.LittleEndian.PutUint64(k[8:], key)
	binary.LittleEndian.PutUint64(k[16:], gen)
	binary.LittleEndian.PutUint64(k[24:], 0x7665726966790000) // "verify"
	return rand.NewChaCha8(k)
}

// check reads body to the end and returns its length and nil, or
// errVerifyMismatch or errVerifyStale. oldest is oldestAllowed(key) taken
// before the GET was sent. A generation whose PUT is still in flight (or
// failed) is accepted: the node may commit and serve it before the client
// sees the acknowledgement.
func (v *benchVerifier) check(key, oldest uint64, body io.Reader) (int64, error) {
	var h [verifyHeaderSize]byte
	n, err := io.ReadFull(body, h[:])
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return int64(n), fmt.Errorf("%w: body of %d bytes is shorter than the header", errVerifyMismatch, n)
		}
		return int64(n), err
	}
	gotKey := binary.LittleEndian.Uint64(h[0:])
	gen := binary.LittleEndian.Uint64(h[8:])
	size := binary.LittleEndian.Uint64(h[16:])
	issued := v.issuedGenerations(key)
	switch {
	case gotKey != key:
		return verifyHeaderSize, fmt.Errorf("%w: header names key %d", errVerifyMismatch, gotKey)
	case gen == 0 || gen > issued:
		return verifyHeaderSize, fmt.Errorf("%w: header names generation %d, only %d written", errVerifyMismatch, gen, issued)
	}
	want := io.LimitReader(v.stream(key, gen), int64(size)-verifyHeaderSize)
	var got, exp [32 << 10]byte
	total := int64(verifyHeaderSize)
	for {
		n, rerr := io.ReadFull(body, got[:])
		if n > 0 {
			m, _ := io.ReadFull(want, exp[:n])
			if m < n || !bytes.Equal(got[:n], exp[:n]) {
				return total + int64(n), fmt.Errorf("%w: generation %d differs within bytes %d..%d (header says %d bytes)", errVerifyMismatch, gen, total, total+int64(n), size)
			}
			total += int64(n)
		}
		if errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF) {
			break
		}
		if rerr != nil {
			return total, rerr
		}
	}
	if uint64(total) != size {
		return total, fmt.Errorf("%w: generation %d is %d bytes, header says %d", errVerifyMismatch, gen, total, size)
	}
	if gen < oldest {
		return total, fmt.Errorf("%w: got generation %d, generation %d superseded it before the GET", errVerifyStale, gen, oldest)
	}
	return total, nil
}
