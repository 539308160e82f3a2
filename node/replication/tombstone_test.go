package replication

import (
	"testing"
	"time"
)

func TestTombstoneDroppable(t *testing.T) {
	deleted := time.UnixMilli(1_700_000_000_000)
	version := uint64(deleted.UnixMilli())<<16 | 3
	grace := 10 * 24 * time.Hour
	for _, c := range []struct {
		name string
		now  time.Time
		held bool
		want bool
	}{
		{"within grace, all hold it", deleted.Add(grace - time.Millisecond), true, false},
		{"past grace, a home lacks it", deleted.Add(grace + 365*24*time.Hour), false, false},
		{"at grace, all hold it", deleted.Add(grace), true, true},
		{"past grace, all hold it", deleted.Add(2 * grace), true, true},
	} {
		if got := TombstoneDroppable(c.now, version, grace, c.held); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	if TombstoneDroppable(deleted.Add(2*grace), 0, grace, true) {
		t.Error("version 0 droppable")
	}
	if got := VersionTime(version); !got.Equal(deleted) {
		t.Errorf("VersionTime = %v, want %v", got, deleted)
	}
}
