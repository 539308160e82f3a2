package tiering

import (
	"context"
	"reflect"
	"testing"
)

// Locate names, before a read, the tier that read then reports, through
// each step of the read path; and it reads and counts nothing.
func TestLocateMatchesRead(t *testing.T) {
	fb := newFakeBackend(64 << 10)
	e := openEnv(t, smallOpts(t, fb))
	check := func(step, key string, want []byte) {
		t.Helper()
		info, err := e.s.Stat(context.Background(), key)
		if err != nil {
			t.Fatal(err)
		}
		reads, before := fb.reads.Load(), e.s.Stats()
		located := e.s.Locate(info)
		if fb.reads.Load() != reads || !reflect.DeepEqual(e.s.Stats(), before) {
			t.Fatalf("%s: Locate read the backend or moved counters", step)
		}
		if tier := e.mustGet(key, want); tier != string(located) {
			t.Fatalf("%s: Locate said %q, the read came from %q", step, located, tier)
		}
	}
	small := randBytes(1, 8<<10)
	e.put("small", small)
	check("small, written through", "small", small)

	big := randBytes(2, 40<<10) // 3 segments, not written through
	e.put("big", big)
	check("big, first read", "big", big)
	check("big, second read", "big", big)

	info, _ := e.s.Stat(context.Background(), "big")
	k := ramKey{key: "big", version: info.Version, sum: info.Checksum, seg: 1}
	v, _ := e.s.ram.get(k)
	e.s.onRAMEvict(k, v)
	e.s.ram.invalidate(k)
	e.s.ssd.waitIdle(t)
	check("big, one segment only on the SSD", "big", big)

	e.put("empty", nil)
	check("empty", "empty", nil)
}
