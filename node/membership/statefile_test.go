package membership

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"strata/internal/poll"
	"strata/ioengine"
)

func TestStateFileRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "members.json")
	fsys := ioengine.OSFS()
	if got, err := loadState(fsys, path); err != nil || got.members != nil || got.left != nil {
		t.Fatalf("missing file: %+v, %v; want nothing, no error", got, err)
	}
	members := []known{
		{Member{ID: "n3", GossipAddr: "10.0.0.3:7946", HTTPAddr: "10.0.0.3:7070", Zone: "b", Weight: 2, State: Dead}, 3},
		{Member{ID: "n1", GossipAddr: "10.0.0.1:7946", HTTPAddr: "10.0.0.1:7070", Zone: "a", Weight: 1, State: Alive, Draining: true}, 1},
		{Member{ID: "n2", GossipAddr: "10.0.0.2:7946", HTTPAddr: "10.0.0.2:7070", Weight: 0.5, State: Suspect}, 1 << 63},
		{Member{ID: "gone", GossipAddr: "10.0.0.9:7946", Weight: 1, State: Left}, 9},
	}
	left := []leftRecord{{ID: "n9", Boot: 1<<64 - 1, At: 1764633600000}}
	if err := saveState(fsys, path, state{members: members, left: left}); err != nil {
		t.Fatal(err)
	}
	got, err := loadState(fsys, path)
	if err != nil {
		t.Fatal(err)
	}
	want := []known{members[1], members[2], members[0]} // sorted by ID, Left dropped
	if !slices.Equal(got.members, want) || !slices.Equal(got.left, left) {
		t.Fatalf("loaded %+v\nwant %+v and %+v", got, want, left)
	}
	if _, err := os.Stat(path + ".tmp"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("temp file left behind: %v", err)
	}
}

func TestStateFileRefused(t *testing.T) {
	tests := []struct {
		name, text string
	}{
		{"not json", "members"},
		{"truncated", `{"version":1,"members":[{"id":"n1"`},
		{"no version", `{"members":[]}`},
		{"future version", `{"version":2,"members":[]}`},
		{"empty id", `{"version":1,"members":[{"id":"","weight":1,"state":"alive"}]}`},
		{"long id", `{"version":1,"members":[{"id":"` + strings.Repeat("x", maxIDLen+1) + `","weight":1,"state":"alive"}]}`},
		{"duplicate", `{"version":1,"members":[{"id":"a","weight":1,"state":"alive"},{"id":"a","weight":1,"state":"dead"}]}`},
		{"zero weight", `{"version":1,"members":[{"id":"a","weight":0,"state":"alive"}]}`},
		{"unknown state", `{"version":1,"members":[{"id":"a","weight":1,"state":"zombie"}]}`},
		{"left is not a member", `{"version":1,"members":[{"id":"a","weight":1,"state":"left"}]}`},
		{"control character in address", `{"version":1,"members":[{"id":"a","weight":1,"state":"dead","gossip_addr":"a\u0000"}]}`},
		{"left record without id", `{"version":1,"members":[],"left":[{"id":"","boot":1,"at":1}]}`},
		{"zone too long", `{"version":1,"members":[{"id":"a","weight":1,"state":"dead","zone":"` + strings.Repeat("z", maxZoneLen+1) + `"}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeState([]byte(tt.text))
			if !errors.Is(err, ErrBadState) {
				t.Fatalf("decodeState = %+v, %v; want ErrBadState", got, err)
			}
		})
	}
}

// TestNewRefusesBadStateFile: a state file that does not decode stops New
// (forgetting members that are down could misplace keys) with a clear
// error, and the file is left as it was.
func TestNewRefusesBadStateFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "members.json")
	if err := os.WriteFile(path, []byte("{garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := New(Options{NodeID: "n1", BindAddr: "127.0.0.1:0", Secret: []byte("s"), StatePath: path})
	if !errors.Is(err, ErrBadState) {
		t.Fatalf("New over a bad state file: %v, want ErrBadState", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "{garbage" {
		t.Fatalf("state file changed to %q", b)
	}
}

func FuzzDecodeState(f *testing.F) {
	good, err := encodeState(state{members: []known{
		{Member{ID: "n1", GossipAddr: "10.0.0.1:7946", HTTPAddr: "10.0.0.1:7070", Zone: "a", Weight: 1, State: Alive}, 5},
		{Member{ID: "n2", GossipAddr: "10.0.0.2:7946", Weight: 2, State: Dead, Draining: true}, 6},
	}, left: []leftRecord{{ID: "n3", Boot: 7, At: 8}}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"version":1,"members":[]}`))
	f.Add([]byte(`{"version":1,"members":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := decodeState(b)
		if err != nil {
			if !errors.Is(err, ErrBadState) {
				t.Fatalf("error %v does not wrap ErrBadState", err)
			}
			return
		}
		again, err := encodeState(st)
		if err != nil {
			t.Fatal(err)
		}
		back, err := decodeState(again)
		if err != nil {
			t.Fatalf("re-encoded state does not decode: %v", err)
		}
		slices.SortFunc(st.members, func(a, b known) int { return strings.Compare(a.ID, b.ID) })
		if !slices.Equal(back.members, st.members) || !slices.Equal(back.left, st.left) && len(st.left)+len(back.left) > 0 {
			t.Fatalf("round trip: %+v, want %+v", back, st)
		}
	})
}

func FuzzDecodeExchange(f *testing.F) {
	good, err := encodeExchange([]leftRecord{{ID: "n3", Boot: 7, At: 8}}, []deadRecord{
		{ID: "n4", Boot: 9, GossipAddr: "10.0.0.4:7946", HTTPAddr: "10.0.0.4:7070", Zone: "b", Weight: 2, Draining: true},
		{ID: "n5", Boot: 10, GossipAddr: "10.0.0.5:7946", Weight: 1},
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"version":1,"left":null}`))
	f.Add([]byte(`{"version":1,"left":[],"dead":[{"id":"n1","weight":1},{"id":"n1","weight":1}]}`))
	f.Add([]byte(`{"version":1,"left":[],"dead":[{"id":"n1","weight":0}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		left, dead, err := decodeExchange(b)
		if err != nil {
			if !errors.Is(err, ErrBadMeta) {
				t.Fatalf("error %v does not wrap ErrBadMeta", err)
			}
			return
		}
		again, err := encodeExchange(left, dead)
		if err != nil {
			t.Fatal(err)
		}
		backLeft, backDead, err := decodeExchange(again)
		if err != nil || len(backLeft) != len(left) || len(left) > 0 && !slices.Equal(backLeft, left) ||
			len(backDead) != len(dead) || len(dead) > 0 && !slices.Equal(backDead, dead) {
			t.Fatalf("round trip: %+v %+v, %v; want %+v %+v", backLeft, backDead, err, left, dead)
		}
	})
}

// renameCounter counts renames: one per state file write.
type renameCounter struct {
	ioengine.FS
	renames atomic.Int64
}

func (c *renameCounter) Rename(oldname, newname string) error {
	c.renames.Add(1)
	return c.FS.Rename(oldname, newname)
}

// TestStateFileWritesAreThrottled: many changes within PersistInterval
// make one write, and Close writes once more.
func TestStateFileWritesAreThrottled(t *testing.T) {
	fsys := &renameCounter{FS: ioengine.OSFS()}
	m, err := New(Options{NodeID: "n1", BindAddr: "127.0.0.1:0", Secret: []byte("s"), FS: fsys,
		StatePath: filepath.Join(t.TempDir(), "members.json"), Timing: Timing{PersistInterval: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	m.markDirty()
	poll.Until(t, "the first write", func() bool { return fsys.renames.Load() == 1 })
	for range 100 {
		m.markDirty()
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if got := fsys.renames.Load(); got != 2 {
		t.Fatalf("%d writes, want 2 (one for the changes, one at Close)", got)
	}
}
