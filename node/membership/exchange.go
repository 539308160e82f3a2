package membership

import (
	"encoding/json"
	"fmt"
)

// The push/pull payload (memberlist's LocalState and MergeRemoteState) is
// JSON, versioned, and bounded by maxLeftRecords and maxDeadRecords:
//
//	{"version":1,
//	 "left":[{"id":"n9","boot":1311768467463790321,"at":1764633600000}],
//	 "dead":[{"id":"n3","boot":81985529216486895,"gossip_addr":"10.0.0.3:7946",
//	   "http_addr":"10.0.0.3:7070","zone":"b","weight":1}]}
//
// "dead" was added within version 1: a decoder that predates it ignores
// the field (JSON's unknown fields), so a rolling upgrade keeps passing
// left records both ways. A change an older decoder must not ignore
// bumps the version.
const exchangeVersion = 1

type exchange struct {
	Version int          `json:"version"`
	Left    []leftRecord `json:"left"`
	Dead    []deadRecord `json:"dead,omitempty"`
}

// encodeExchange is this node's push/pull payload.
func encodeExchange(left []leftRecord, dead []deadRecord) ([]byte, error) {
	if left == nil {
		left = []leftRecord{}
	}
	if err := validateLeftRecords(left); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadMeta, err)
	}
	if err := validateDeadRecords(dead); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadMeta, err)
	}
	return json.Marshal(exchange{Version: exchangeVersion, Left: left, Dead: dead})
}

// decodeExchange parses a peer's payload; failures wrap ErrBadMeta.
func decodeExchange(b []byte) (left []leftRecord, dead []deadRecord, err error) {
	var x exchange
	if err := json.Unmarshal(b, &x); err != nil {
		return nil, nil, fmt.Errorf("%w: push/pull state: %w", ErrBadMeta, err)
	}
	if x.Version != exchangeVersion {
		return nil, nil, fmt.Errorf("%w: push/pull state version %d", ErrBadMeta, x.Version)
	}
	if err := validateLeftRecords(x.Left); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrBadMeta, err)
	}
	if err := validateDeadRecords(x.Dead); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrBadMeta, err)
	}
	return x.Left, x.Dead, nil
}
