package replication

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

func TestHintEncodingRoundTripsOldestFirst(t *testing.T) {
	hints := []Hint{
		{Key: "b", Version: 1 << 20},
		{Key: "a", Version: 2 << 20, Deleted: true},
		{Key: "a/very/long/key", Version: 3 << 20},
	}
	for i, h := range hints {
		got, err := DecodeHint(HintKey(h), HintValue(h))
		if err != nil || got != h {
			t.Errorf("round trip of %+v: %+v, %v", h, got, err)
		}
		if i > 0 && bytes.Compare(HintKey(hints[i-1]), HintKey(h)) >= 0 {
			t.Errorf("hint %d does not sort after hint %d", i, i-1)
		}
	}
}

func TestDecodeHintRejects(t *testing.T) {
	good := Hint{Key: "k", Version: 5}
	for _, c := range []struct {
		name string
		k, v []byte
	}{
		{"short key", []byte{0, 0, 0, 0, 0, 0, 0, 5}, HintValue(good)},
		{"empty value", HintKey(good), nil},
		{"unknown format", HintKey(good), []byte{2, 0}},
		{"unknown flag", HintKey(good), []byte{hintFormat, 4}},
		{"version 0", HintKey(Hint{Key: "k"}), HintValue(good)},
	} {
		if _, err := DecodeHint(c.k, c.v); !errors.Is(err, ErrBadHint) {
			t.Errorf("%s: %v, want ErrBadHint", c.name, err)
		}
	}
}

func FuzzDecodeHint(f *testing.F) {
	h := Hint{Key: "photos/1", Version: 77, Deleted: true}
	f.Add(HintKey(h), HintValue(h))
	f.Add([]byte{}, []byte{})
	f.Fuzz(func(t *testing.T, k, v []byte) {
		got, err := DecodeHint(k, v)
		if err != nil {
			if !errors.Is(err, ErrBadHint) {
				t.Fatalf("error %v does not wrap ErrBadHint", err)
			}
			return
		}
		if !bytes.Equal(HintKey(got), k) || !bytes.Equal(HintValue(got), v) {
			t.Fatalf("decoded %+v does not encode back to the input", got)
		}
	})
}

func TestHintBudget(t *testing.T) {
	b := HintBudget{Max: 2 * HintBytes("key")}
	steps := []struct {
		admit int64 // < 0: release -admit
		ok    bool
		used  int64
	}{
		{HintBytes("key"), true, HintBytes("key")},
		{HintBytes("key"), true, 2 * HintBytes("key")},
		{HintBytes("k"), false, 2 * HintBytes("key")}, // full: dropped, nothing taken
		{-HintBytes("key"), true, HintBytes("key")},
		{HintBytes("k"), true, HintBytes("key") + HintBytes("k")},
		{-10 * HintBytes("key"), true, 0}, // never below zero
	}
	for i, s := range steps {
		ok := true
		if s.admit < 0 {
			b.Release(-s.admit)
		} else {
			ok = b.Admit(s.admit)
		}
		if ok != s.ok || b.Used() != s.used {
			t.Errorf("step %d: ok %v used %d, want %v %d", i, ok, b.Used(), s.ok, s.used)
		}
	}
	if HintBytes("key") != 35 {
		t.Errorf("HintBytes(key) = %d: a hint costs the key plus 32 bytes", HintBytes("key"))
	}
}

func TestPacer(t *testing.T) {
	t0 := time.Unix(1000, 0)
	p := NewPacer(100, 10) // 100/s, 10 saved up
	steps := []struct {
		at   time.Duration
		n    float64
		wait time.Duration
	}{
		{0, 10, 0},                                 // the burst
		{0, 1, 10 * time.Millisecond},              // one over: 1/100 s
		{0, 1, 20 * time.Millisecond},              // debt accumulates
		{time.Second, 5, 0},                        // refilled to the burst, not beyond
		{time.Second, 100, 950 * time.Millisecond}, // a large request goes into debt
	}
	for i, s := range steps {
		if got := p.Reserve(t0.Add(s.at), s.n); got != s.wait {
			t.Errorf("step %d: wait %v, want %v", i, got, s.wait)
		}
	}
	if got := NewPacer(0, 0).Reserve(t0, 1e9); got != 0 {
		t.Errorf("rate 0 (unlimited) waits %v", got)
	}
}
