package node

import (
	"testing"
	"time"
)

func TestLeanDeadlineRenew(t *testing.T) {
	t0 := time.Unix(1000, 0)
	const d = 8 * time.Second
	var dl leanDeadline
	for _, step := range []struct {
		name    string
		now     time.Time
		d       time.Duration
		wantSet bool
		want    time.Time
	}{
		{"first", t0, d, true, t0.Add(9 * time.Second)},
		{"same instant", t0, d, false, time.Time{}},
		{"a second later: 8s left", t0.Add(time.Second), d, false, time.Time{}},
		{"just under d left", t0.Add(time.Second + 1), d, true, t0.Add(10*time.Second + 1)},
		{"a shorter timeout", t0.Add(2 * time.Second), 2 * time.Second, true, t0.Add(2*time.Second + 2250*time.Millisecond)},
		{"the longer one again", t0.Add(2 * time.Second), d, true, t0.Add(11 * time.Second)},
		{"none", t0.Add(3 * time.Second), 0, true, time.Time{}},
		{"none again", t0.Add(4 * time.Second), 0, false, time.Time{}},
		{"after none", t0.Add(5 * time.Second), d, true, t0.Add(14 * time.Second)},
	} {
		at, set := dl.renew(step.now, step.d)
		if set != step.wantSet || (set && !at.Equal(step.want)) {
			t.Fatalf("%s: renew = %v, %v; want %v, %v", step.name, at, set, step.want, step.wantSet)
		}
		if left := dl.at.Sub(step.now); step.d > 0 && (left < step.d || left > step.d+step.d/8) {
			t.Fatalf("%s: the deadline in force is %v ahead, want %v to %v", step.name, left, step.d, step.d+step.d/8)
		}
	}
	dl.forget()
	if _, set := dl.renew(t0.Add(5*time.Second), d); !set {
		t.Fatal("renew after forget did not set the deadline")
	}
}
