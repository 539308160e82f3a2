// Package seek holds the one io.Seeker rule the readers share: where a
// Seek(offset, whence) lands from the current position in a blob of a
// given size.
package seek

import (
	"errors"
	"fmt"
	"io"
)

// ErrNegative: the seek would land before the start.
var ErrNegative = errors.New("seek: negative position")

// ErrWhence: whence is none of io.SeekStart, io.SeekCurrent, io.SeekEnd.
var ErrWhence = errors.New("seek: invalid whence")

// Resolve returns the absolute position Seek(offset, whence) names, from
// position pos in a blob of size bytes. A position past the end is allowed
// (reads there return io.EOF), as for files.
func Resolve(offset int64, whence int, pos, size int64) (int64, error) {
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = pos + offset
	case io.SeekEnd:
		abs = size + offset
	default:
		return 0, fmt.Errorf("%w %d", ErrWhence, whence)
	}
	if abs < 0 {
		return 0, fmt.Errorf("%w: %d", ErrNegative, abs)
	}
	return abs, nil
}
