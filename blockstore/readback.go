package blockstore

import (
	"context"
	"fmt"

	"strata/ioengine"
)

// ackedGroup is where the last acknowledged group of a disk lies.
type ackedGroup struct {
	v         *volume
	off, size int64
}

// noteAcked (in the syncer) records a durable group as the disk's last
// acknowledged one.
func (d *dataDir) noteAcked(v *volume, off, size int64) {
	d.mu.Lock()
	d.lastAcked = ackedGroup{v: v, off: off, size: size}
	d.mu.Unlock()
}

// afterFailure runs in the appender before it appends on the disk again
// after a volume's write or fdatasync failed. It waits for the syncer to
// have retired the volume, then reads the disk's last acknowledged group
// back and verifies every record's checksums: a disk that cannot return
// what it acknowledged takes no more writes (read-only until restart).
func (a *appender) afterFailure(ctx context.Context, v *volume) {
	<-v.retired
	a.d.mu.Lock()
	g := a.d.lastAcked
	a.d.mu.Unlock()
	if g.v == nil {
		return // nothing acknowledged on this disk yet
	}
	if err := a.verifyGroup(ctx, g); err != nil {
		a.d.setReadOnly(a.s, fmt.Errorf("last acknowledged group (volume %d at %d) does not read back after a failed write: %w", g.v.id, g.off, err))
		return
	}
	a.s.log.Info("blockstore: last acknowledged group reads back after a failed write", "dir", a.d.dev.Dir(), "volume", g.v.id, "offset", g.off)
}

// verifyGroup reads a group and checks that it holds at least one record
// and that each record, up to the zero padding, passes its checksums.
func (a *appender) verifyGroup(ctx context.Context, g ackedGroup) error {
	buf := a.s.getBuf(int(g.size))
	defer a.s.putBuf(buf)
	b := buf.B[:g.size]
	if n, err := g.v.h.ReadAt(ctx, ioengine.ClassRead, b, g.off); err != nil || int64(n) != g.size {
		return fmt.Errorf("read %d bytes: got %d: %w", g.size, n, err)
	}
	records := 0
	for p := 0; p+recordHeaderLen <= len(b); {
		h, st, err := parseHeader(b[p : p+recordHeaderLen])
		if st == headerZero && records > 0 {
			return nil
		}
		if st != headerValid || p+h.recordLen() > len(b) {
			return fmt.Errorf("%w: record header at %d: %v", ErrCorrupt, g.off+int64(p), err)
		}
		if _, st, err := decodeRecord(b[p : p+h.recordLen()]); st != headerValid {
			return fmt.Errorf("%w: record at %d: %v", ErrCorrupt, g.off+int64(p), err)
		}
		records++
		p = span(p + h.recordLen())
	}
	if records == 0 {
		return fmt.Errorf("%w: no record in the group", ErrCorrupt)
	}
	return nil
}

// setReadOnly takes the whole disk out of service for writes.
func (d *dataDir) setReadOnly(s *Store, err error) {
	d.mu.Lock()
	d.readOnly = err
	d.mu.Unlock()
	s.stats.writeErrors.Add(1)
	s.log.Error("blockstore: data directory is now read-only", "dir", d.dev.Dir(), "err", err)
}
