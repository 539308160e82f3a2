//go:build !linux

package blockstore

import "errors"

// canFailIndexWrites: the descriptor swap needs Linux's /proc and dup3.
const canFailIndexWrites = false

type indexWriteFailer struct{}

func failIndexWrites(string) (*indexWriteFailer, error) {
	return nil, errors.New("failing index writes needs Linux")
}

func (*indexWriteFailer) restore() error { return nil }
