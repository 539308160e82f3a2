package seek

import (
	"errors"
	"io"
	"testing"
)

func TestResolve(t *testing.T) {
	for _, tc := range []struct {
		offset    int64
		whence    int
		pos, size int64
		want      int64
		err       error
	}{
		{5, io.SeekStart, 3, 10, 5, nil},
		{2, io.SeekCurrent, 3, 10, 5, nil},
		{-2, io.SeekEnd, 3, 10, 8, nil},
		{4, io.SeekEnd, 3, 10, 14, nil},
		{-4, io.SeekCurrent, 3, 10, 0, ErrNegative},
		{-11, io.SeekEnd, 3, 10, 0, ErrNegative},
		{0, 7, 3, 10, 0, ErrWhence},
	} {
		got, err := Resolve(tc.offset, tc.whence, tc.pos, tc.size)
		if !errors.Is(err, tc.err) || (err == nil && got != tc.want) {
			t.Errorf("Resolve(%d, %d, %d, %d) = %d, %v; want %d, %v", tc.offset, tc.whence, tc.pos, tc.size, got, err, tc.want, tc.err)
		}
	}
}
