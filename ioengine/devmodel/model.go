package devmodel

import (
	"fmt"
	"math"
	"time"
)

// Model holds the figures of one disk. The zero Model is invalid; start
// from a preset (HDD) or ParseModel.
type Model struct {
	// Name labels the model in output ("hdd").
	Name string
	// Seek is the average seek time between two positions drawn uniformly
	// over Span: the figure a datasheet gives as "average seek".
	Seek time.Duration
	// Settle is the shortest seek (track to track): any move at all costs
	// at least this.
	Settle time.Duration
	// RPM is the spindle speed; a non-sequential request waits on average
	// half a revolution for its sector.
	RPM int
	// MBps is the media transfer rate in MB/s (10^6 bytes per second).
	MBps float64
	// Span is how many bytes the full stroke covers. A production disk is
	// full, so random reads of its data cross the whole stroke; mapping a
	// benchmark's few GiB onto the full stroke makes them pay the same
	// seeks. Set it to about the data a run touches.
	Span int64
	// Flush is what a Sync costs the head on top of waiting for the
	// requests queued before it (the model is write-through, so 0 is a disk
	// whose cache holds nothing unwritten).
	Flush time.Duration
	// Seed, when not zero, draws each request's rotational latency
	// uniformly from one revolution with a PCG seeded by it; zero charges
	// exactly half a revolution every time.
	Seed uint64
}

// HDD is a 7200 rpm data disk: 8 ms average seek, 1 ms track to track,
// 180 MB/s at the media, full stroke over 1 GiB. A 4 KiB random read costs
// about 12.2 ms (82 IOPS); a 1 MiB sequential read about 5.8 ms.
func HDD() Model {
	return Model{Name: "hdd", Seek: 8 * time.Millisecond, Settle: time.Millisecond, RPM: 7200, MBps: 180, Span: 1 << 30}
}

// meanSqrtDistance is E[sqrt(|x-y|)] for x, y uniform on [0, 1]: the mean
// of the seek curve's distance term over uniformly random requests.
const meanSqrtDistance = 8.0 / 15.0

// Bounds keep a model's arithmetic in range and reject typos.
const (
	maxModelDuration = 10 * time.Second
	maxRPM           = 100_000
	maxMBps          = 1e6
	maxSpan          = 1 << 60
)

// Validate reports a model whose figures are missing or out of range.
func (m Model) Validate() error {
	switch {
	case m.Settle <= 0 || m.Settle > maxModelDuration:
		return fmt.Errorf("%w: settle %v must be in (0, %v]", ErrInvalidModel, m.Settle, maxModelDuration)
	case m.Seek < m.Settle || m.Seek > maxModelDuration:
		return fmt.Errorf("%w: seek %v must be in [settle %v, %v]", ErrInvalidModel, m.Seek, m.Settle, maxModelDuration)
	case m.RPM <= 0 || m.RPM > maxRPM:
		return fmt.Errorf("%w: rpm %d must be in 1..%d", ErrInvalidModel, m.RPM, maxRPM)
	case !(m.MBps > 0 && m.MBps <= maxMBps):
		return fmt.Errorf("%w: mbps %v must be in (0, %v]", ErrInvalidModel, m.MBps, maxMBps)
	case m.Span <= 0 || m.Span > maxSpan:
		return fmt.Errorf("%w: span %d must be in 1..%d bytes", ErrInvalidModel, m.Span, int64(maxSpan))
	case m.Flush < 0 || m.Flush > maxModelDuration:
		return fmt.Errorf("%w: flush %v must be in [0, %v]", ErrInvalidModel, m.Flush, maxModelDuration)
	}
	return nil
}

// FullStroke is the seek across the whole span. The seek curve is
// Settle + (FullStroke-Settle)*sqrt(distance/Span), so FullStroke follows
// from the average Seek.
func (m Model) FullStroke() time.Duration {
	return m.Settle + time.Duration(float64(m.Seek-m.Settle)/meanSqrtDistance)
}

// SeekTime is the cost of moving the head by distance bytes: nothing for
// no move, else Settle plus a term growing with the square root of the
// distance (the arm accelerates, then coasts), capped at FullStroke.
func (m Model) SeekTime(distance int64) time.Duration {
	if distance == 0 {
		return 0
	}
	frac := min(math.Abs(float64(distance))/float64(m.Span), 1)
	return m.Settle + time.Duration(float64(m.FullStroke()-m.Settle)*math.Sqrt(frac))
}

// Revolution is the time of one turn of the platter.
func (m Model) Revolution() time.Duration {
	return time.Duration(float64(time.Minute) / float64(m.RPM))
}

// TransferTime is the media time of n bytes.
func (m Model) TransferTime(n int64) time.Duration {
	return time.Duration(float64(n) / (m.MBps * 1e6) * float64(time.Second))
}

// SequentialCost is the head time of an n-byte request that starts where
// the previous one ended: the transfer alone.
func (m Model) SequentialCost(n int64) time.Duration { return m.TransferTime(n) }

// RandomCost is the mean head time of an n-byte request at a uniformly
// random position: the average seek, half a revolution, the transfer.
func (m Model) RandomCost(n int64) time.Duration {
	return m.Seek + m.Revolution()/2 + m.TransferTime(n)
}
