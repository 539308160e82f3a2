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
//	  "state":"dead"}]}
//
// It lists every known member but this node, sorted by ID. It is written
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
}

type stateMember struct {
	ID         string  `json:"id"`
	GossipAddr string  `json:"gossip_addr"`
	HTTPAddr   string  `json:"http_addr"`
	Zone       string  `json:"zone"`
	Weight     float64 `json:"weight"`
	Draining   bool    `json:"draining"`
	State      string  `json:"state"`
}

// encodeState returns the file's bytes for members (any order; Left ones
// are not members and are skipped).
func encodeState(members []Member) ([]byte, error) {
	sf := stateFile{Version: stateVersion, Members: []stateMember{}}
	for _, m := range members {
		if m.State == Left {
			continue
		}
		sf.Members = append(sf.Members, stateMember{
			ID: m.ID, GossipAddr: m.GossipAddr, HTTPAddr: m.HTTPAddr, Zone: m.Zone,
			Weight: m.Weight, Draining: m.Draining, State: m.State.String(),
		})
	}
	slices.SortFunc(sf.Members, func(a, b stateMember) int { return strings.Compare(a.ID, b.ID) })
	return json.Marshal(sf)
}

// decodeState parses the file. Every failure wraps ErrBadState. The
// members keep the state they were last seen in; New turns them Dead.
func decodeState(b []byte) ([]Member, error) {
	var sf stateFile
	if err := json.Unmarshal(b, &sf); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadState, err)
	}
	if sf.Version != stateVersion {
		return nil, fmt.Errorf("%w: version %d, want %d", ErrBadState, sf.Version, stateVersion)
	}
	out := make([]Member, 0, len(sf.Members))
	seen := make(map[string]bool, len(sf.Members))
	for i, sm := range sf.Members {
		if err := validateID(sm.ID); err != nil {
			return nil, fmt.Errorf("%w: member %d: %w", ErrBadState, i, err)
		}
		if seen[sm.ID] {
			return nil, fmt.Errorf("%w: member %q listed twice", ErrBadState, sm.ID)
		}
		seen[sm.ID] = true
		meta := nodeMeta{HTTPAddr: sm.HTTPAddr, Zone: sm.Zone, Weight: sm.Weight, Draining: sm.Draining}
		if err := meta.validate(); err != nil {
			return nil, fmt.Errorf("%w: member %q: %w", ErrBadState, sm.ID, err)
		}
		if len(sm.GossipAddr) > maxHTTPAddrLen || !printable(sm.GossipAddr) {
			return nil, fmt.Errorf("%w: member %q: bad gossip address %q", ErrBadState, sm.ID, sm.GossipAddr)
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
			return nil, fmt.Errorf("%w: member %q: state %q", ErrBadState, sm.ID, sm.State)
		}
		out = append(out, Member{
			ID: sm.ID, GossipAddr: sm.GossipAddr, HTTPAddr: sm.HTTPAddr, Zone: sm.Zone,
			Weight: sm.Weight, Draining: sm.Draining, State: st,
		})
	}
	return out, nil
}

// loadState reads the state file at path; a missing file is no members.
func loadState(fsys ioengine.FS, path string) ([]Member, error) {
	size, err := fsys.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("membership: state file %s: %w", path, err)
	}
	if size > maxStateFileSize {
		return nil, fmt.Errorf("%w: %s is %d bytes, at most %d", ErrBadState, path, size, maxStateFileSize)
	}
	f, err := fsys.OpenFile(path, ioengine.FlagReadOnly)
	if err != nil {
		return nil, fmt.Errorf("membership: state file: %w", err)
	}
	defer f.Close()
	buf := make([]byte, size)
	if n, err := f.ReadAt(buf, 0); n != len(buf) {
		return nil, fmt.Errorf("membership: read %s: %d of %d bytes: %w", path, n, size, err)
	}
	members, err := decodeState(buf)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return members, nil
}

// saveState replaces the state file at path with members.
func saveState(fsys ioengine.FS, path string, members []Member) error {
	b, err := encodeState(members)
	if err != nil {
		return fmt.Errorf("membership: encode state: %w", err)
	}
	if err := ioengine.WriteFileAtomic(fsys, path, b, ioengine.FlagCreate); err != nil {
		return fmt.Errorf("membership: state file: %w", err)
	}
	return nil
}
