package membership

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/hashicorp/memberlist"
)

func TestMetaRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		meta nodeMeta
	}{
		{"plain", nodeMeta{HTTPAddr: "127.0.0.1:7001", Weight: 1, Boot: 42}},
		{"zone and draining", nodeMeta{HTTPAddr: "[::1]:7070", Zone: "eu-west-1a", Weight: 2.5, Draining: true}},
		{"empty address", nodeMeta{Weight: 0.001}},
		{"largest", nodeMeta{HTTPAddr: strings.Repeat("h", maxHTTPAddrLen), Zone: strings.Repeat("z", maxZoneLen), Weight: math.MaxFloat64}},
		{"utf-8 zone", nodeMeta{HTTPAddr: "a:1", Zone: "zürich-ä", Weight: 1}},
		{"leaving", nodeMeta{HTTPAddr: "a:1", Weight: 1, Leaving: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := encodeMeta(tt.meta)
			if err != nil {
				t.Fatal(err)
			}
			if len(b) > memberlist.MetaMaxSize {
				t.Fatalf("encoded %d bytes, memberlist allows %d", len(b), memberlist.MetaMaxSize)
			}
			got, err := decodeMeta(b)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.meta {
				t.Fatalf("decoded %+v, want %+v", got, tt.meta)
			}
		})
	}
}

// TestMetaLayout pins the version-1 bytes, so a change of the encoding
// (which other nodes decode) is a deliberate one.
func TestMetaLayout(t *testing.T) {
	b, err := encodeMeta(nodeMeta{HTTPAddr: "h:1", Zone: "z", Weight: 1, Boot: 0x0102030405060708, Draining: true, Leaving: true})
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{1, 3, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 8, 7, 6, 5, 4, 3, 2, 1, 3, 'h', ':', '1', 1, 'z'}
	if !bytes.Equal(b, want) {
		t.Fatalf("encoded % x, want % x", b, want)
	}
}

func TestMetaRefused(t *testing.T) {
	good, err := encodeMeta(nodeMeta{HTTPAddr: "h:1", Zone: "z", Weight: 1})
	if err != nil {
		t.Fatal(err)
	}
	with := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	tests := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"short", good[:metaFixedSize-1]},
		{"version 0", with(func(b []byte) []byte { b[0] = 0; return b })},
		{"unknown flag in version 1", with(func(b []byte) []byte { b[1] = 0x80; return b })},
		{"zero weight", with(func(b []byte) []byte { clear(b[2:10]); return b })},
		{"NaN weight", with(func(b []byte) []byte { copy(b[2:10], []byte{1, 0, 0, 0, 0, 0, 0xf8, 0x7f}); return b })},
		{"negative weight", with(func(b []byte) []byte { b[9] |= 0x80; return b })},
		{"address length past the end", with(func(b []byte) []byte { b[metaFixedSize] = 100; return b })},
		{"truncated zone", good[:len(good)-1]},
		{"trailing bytes in version 1", append(append([]byte(nil), good...), 0)},
		{"address too long", append(append(append(append([]byte(nil), good[:metaFixedSize]...), 0x80, 0x02), strings.Repeat("h", 256)...), 0)},
		{"control character", with(func(b []byte) []byte { b[metaFixedSize+1] = '\n'; return b })},
		{"bad utf-8", with(func(b []byte) []byte { b[metaFixedSize+1] = 0xff; return b })},
		{"bad varint", append(append([]byte(nil), good[:metaFixedSize]...), 0x80)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := decodeMeta(tt.b)
			if !errors.Is(err, ErrBadMeta) {
				t.Fatalf("decodeMeta(% x) = %+v, %v; want ErrBadMeta", tt.b, m, err)
			}
		})
	}
	if _, err := encodeMeta(nodeMeta{HTTPAddr: "h:1", Weight: -1}); !errors.Is(err, ErrBadMeta) {
		t.Fatalf("encodeMeta with weight -1: %v, want ErrBadMeta", err)
	}
}

// TestMetaForwardCompatible: a newer node's metadata (higher version,
// appended fields, new flags) still decodes here.
func TestMetaForwardCompatible(t *testing.T) {
	b, err := encodeMeta(nodeMeta{HTTPAddr: "h:1", Zone: "z", Weight: 3, Draining: true})
	if err != nil {
		t.Fatal(err)
	}
	b[0] = 2
	b[1] |= 0x40
	b = append(b, "new field"...)
	got, err := decodeMeta(b)
	if err != nil {
		t.Fatal(err)
	}
	if want := (nodeMeta{HTTPAddr: "h:1", Zone: "z", Weight: 3, Draining: true}); got != want {
		t.Fatalf("decoded %+v, want %+v", got, want)
	}
}

func FuzzDecodeMeta(f *testing.F) {
	for _, m := range []nodeMeta{{HTTPAddr: "127.0.0.1:7001", Weight: 1}, {HTTPAddr: "h:1", Zone: "z", Weight: 2, Draining: true}} {
		b, err := encodeMeta(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{2, 0xff, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMeta(b)
		if err != nil {
			if !errors.Is(err, ErrBadMeta) {
				t.Fatalf("error %v does not wrap ErrBadMeta", err)
			}
			return
		}
		again, err := encodeMeta(m)
		if err != nil {
			t.Fatalf("decoded %+v does not encode: %v", m, err)
		}
		if len(again) > memberlist.MetaMaxSize {
			t.Fatalf("re-encoded %d bytes, over memberlist's %d", len(again), memberlist.MetaMaxSize)
		}
		if back, err := decodeMeta(again); err != nil || back != m {
			t.Fatalf("round trip: %+v, %v; want %+v", back, err, m)
		}
	})
}
