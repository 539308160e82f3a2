package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// isTerminal reports whether w is a terminal: an *os.File on which the
// terminal ioctl succeeds. Anything else (a file, a pipe, a buffer) is not.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// benchProgress rewrites one status line in place on a terminal, once per
// series point: elapsed time, ops/s over the last interval, p99 so far and
// errors so far. With a nil writer it does nothing.
type benchProgress struct {
	w       io.Writer
	start   time.Time
	printed bool
}

func newBenchProgress(w io.Writer) *benchProgress {
	return &benchProgress{w: w, start: time.Now()}
}

// update shows point p with total, the phase's figures so far.
func (b *benchProgress) update(p seriesPoint, total *benchStats) {
	if b.w == nil || p.IntervalSec <= 0 {
		return
	}
	p99 := ""
	if total.read.TotalCount() > 0 {
		p99 += " read " + formatMicros(total.read.ValueAtQuantile(99))
	}
	if total.write.TotalCount() > 0 {
		p99 += " write " + formatMicros(total.write.ValueAtQuantile(99))
	}
	errs := total.readErrs + total.writeErrs + total.mismatches + total.stale
	// \r returns to the line's start, \x1b[K clears what a longer line
	// left behind.
	fmt.Fprintf(b.w, "\r[%s] %.0fs  %.0f ops/s  p99%s  errors %d\x1b[K",
		p.Phase, time.Since(b.start).Seconds(), p.Read.OpsPerSec+p.Write.OpsPerSec, p99, errs)
	b.printed = true
}

// done clears the status line, so the figures that follow start on a
// clean line.
func (b *benchProgress) done() {
	if b.w != nil && b.printed {
		fmt.Fprint(b.w, "\r\x1b[K")
		b.printed = false
	}
}

// formatMicros prints a latency in µs with a readable unit.
func formatMicros(us int64) string {
	switch {
	case us >= 1_000_000:
		return fmt.Sprintf("%.2fs", float64(us)/1e6)
	case us >= 1000:
		return fmt.Sprintf("%.2fms", float64(us)/1e3)
	}
	return fmt.Sprintf("%dµs", us)
}
