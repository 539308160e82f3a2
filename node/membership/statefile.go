package membership

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"strata/ioengine"
)

// The state file is JSON, small and rare to write (once per membership
// change), so an operator can read it:
//
//	{"version":1,"members":[{"id":"n2","gossip_addr":"10.0.0.2:7946",
//	  "http_addr":"10.0.0.2:7070","zone":"a","weight":1,"draining":false,
//	  "state":"dead","boot":81985529216486895}],
//	 "left":[{"id":"n9","boot":1311768467463790321,"at":1764633600000}]}
//
// It lists every known member but this node, sorted by ID, and the left
// records (see leftRecord). It is written
// with ioengine.WriteFileAtomic (temp file, fsync, rename, fsync of the
// directory), so a crash leaves the old file or the new one, never a mix.
const (
	stateVersion = 1
	// maxStateFileSize bounds what New reads: ~600 bytes per member
	// leaves room for thousands.
	maxStateFileSize = 4 << 20
)

type stateFile struct {
	Version int           `json:"version"`
	Members []stateMember `json:"members"`
	Left    []leftRecord  `json:"left"`
}

// state is what the file holds, decoded.
type state struct {
	members []known
	left    []leftRecord
}

type stateMember struct {
	ID         string  `json:"id"`
	GossipAddr string  `json:"gossip_addr"`
	HTTPAddr   string  `json:"http_addr"`
	Zone       string  `json:"zone"`
	Weight     float64 `json:"weight"`
	Draining   bool    `json:"draining"`
	State      string  `json:"state"`
	Boot       uint64  `json:"boot"`
}

// encodeState returns the file's bytes for st (members in any order;
// Left ones are not members and are skipped).
func encodeState(st state) ([]byte, error) {
	sf := stateFile{Version: stateVersion, Members: []stateMember{}, Left: st.left}
	if sf.Left == nil {
		sf.Left = []leftRecord{}
	}
	for _, m := range st.members {
		if m.State == Left {
			continue
		}
		sf.Members = append(sf.Members, stateMember{
			ID: m.ID, GossipAddr: m.GossipAddr, HTTPAddr: m.HTTPAddr, Zone: m.Zone,
			Weight: m.Weight, Draining: m.Draining, State: m.State.String(), Boot: m.boot,
		})
	}
	slices.SortFunc(sf.Members, func(a, b stateMember) int { return strings.Compare(a.ID, b.ID) })
	return json.Marshal(sf)
}

// decodeState parses the file. Every failure wraps ErrBadState. The
// members keep the state they were last seen in; New turns them Dead.
func decodeState(b []byte) (state, error) {
	var sf stateFile
	if err := json.Unmarshal(b, &sf); err != nil {
		return state{}, fmt.Errorf("%w: %w", ErrBadState, err)
	}
	if sf.Version != stateVersion {
		return state{}, fmt.Errorf("%w: version %d, want %d", ErrBadState, sf.Version, stateVersion)
	}
	if err := validateLeftRecords(sf.Left); err != nil {
		return state{}, fmt.Errorf("%w: %w", ErrBadState, err)
	}
	out := make([]known, 0, len(sf.Members))
	seen := make(map[string]bool, len(sf.Members))
	for i, sm := range sf.Members {
		if err := validateID(sm.ID); err != nil {
			return state{}, fmt.Errorf("%w: member %d: %w", ErrBadState, i, err)
		}
		if seen[sm.ID] {
			return state{}, fmt.Errorf("%w: member %q listed twice", ErrBadState, sm.ID)
		}
		seen[sm.ID] = true
		meta := nodeMeta{HTTPAddr: sm.HTTPAddr, Zone: sm.Zone, Weight: sm.Weight, Draining: sm.Draining}
		if err := meta.validate(); err != nil {
			return state{}, fmt.Errorf("%w: member %q: %w", ErrBadState, sm.ID, err)
		}
		if len(sm.GossipAddr) > maxHTTPAddrLen || !printable(sm.GossipAddr) {
			return state{}, fmt.Errorf("%w: member %q: bad gossip address %q", ErrBadState, sm.ID, sm.GossipAddr)
		}
		var st State
		switch sm.State {
		case "alive":
			st = Alive
		case "suspect":
			st = Suspect
		case "dead":
			st = Dead
		default:
			return state{}, fmt.Errorf("%w: member %q: state %q", ErrBadState, sm.ID, sm.State)
		}
		out = append(out, known{Member: Member{
			ID: sm.ID, GossipAddr: sm.GossipAddr, HTTPAddr: sm.HTTPAddr, Zone: sm.Zone,
			Weight: sm.Weight, Draining: sm.Draining, State: st,
		}, boot: sm.Boot})
	}
	return state{members: out, left: sf.Left}, nil
}

// loadState reads the state file at path; a missing file is no members.
func loadState(fsys ioengine.FS, path string) (state, error) {
	size, err := fsys.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return state{}, nil
	}
	if err != nil {
		return state{}, fmt.Errorf("membership: state file %s: %w", path, err)
	}
	if size > maxStateFileSize {
		return state{}, fmt.Errorf("%w: %s is %d bytes, at most %d", ErrBadState, path, size, maxStateFileSize)
	}
	f, err := fsys.OpenFile(path, ioengine.FlagReadOnly)
	if err != nil {
		return state{}, fmt.Errorf("membership: state file: %w", err)
	}
	defer f.Close()
	buf := make([]byte, size)
	if n, err := f.ReadAt(buf, 0); n != len(buf) {
		return state{}, fmt.Errorf("membership: read %s: %d of %d bytes: %w", path, n, size, err)
	}
	st, err := decodeState(buf)
	if err != nil {
		return state{}, fmt.Errorf("%s: %w", path, err)
	}
	return st, nil
}

// saveState replaces the state file at path with st.
func saveState(fsys ioengine.FS, path string, st state) error {
	b, err := encodeState(st)
	if err != nil {
		return fmt.Errorf("membership: encode state: %w", err)
	}
	if err := ioengine.WriteFileAtomic(fsys, path, b, ioengine.FlagCreate); err != nil {
		return fmt.Errorf("membership: state file: %w", err)
	}
	return nil
}
