package tiering

import (
	"fmt"
	"io"
)

// WriteRange writes bytes [off, off+n) of the blob to w, segment by
// segment, handing w the fetched bytes themselves: a RAM hit is written
// straight from the cached item, with no copy through a buffer. The bytes
// are the ones ReadAt would return (the same tiers, checksums and Tier
// accounting); w must not modify or retain them (the io.Writer contract).
// A range reaching past the end stops there, with io.EOF.
//
// It returns the bytes written and the first error: w's own, unchanged, or
// a read failure (which comes before w sees any byte of the failed
// segment). It does not move the Read position.
func (o *Object) WriteRange(w io.Writer, off, n int64) (int64, error) {
	if off < 0 || n < 0 {
		return 0, errNegativeOffset
	}
	var written int64
	for written < n {
		pos := off + written
		if pos >= o.info.Size {
			return written, io.EOF
		}
		b, bOff, err := o.bytesAt(pos, n-written)
		if err != nil {
			return written, err
		}
		p := b[pos-bOff:]
		if int64(len(p)) > n-written {
			p = p[:n-written]
		}
		m, err := w.Write(p)
		written += int64(m)
		if err != nil {
			return written, err
		}
		if m != len(p) {
			return written, fmt.Errorf("tiering: write of %q: %w", o.info.Key, io.ErrShortWrite)
		}
	}
	return written, nil
}
