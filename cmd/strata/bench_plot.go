package main

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"

	"github.com/HdrHistogram/hdrhistogram-go"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// Plot files --plot-dir writes, each only when the run has data for it.
const (
	plotLatencyCDF = "latency-cdf.png"
	plotThroughput = "throughput.png"
	plotBandwidth  = "bandwidth.png"
	plotP99        = "p99.png"
	plotTiers      = "tiers.png"
)

// minPlotInterval is the shortest series interval the time plots draw.
const minPlotInterval = 0.25

const plotWidth, plotHeight = 8 * vg.Inch, 5 * vg.Inch

// writePlots writes the run's PNG plots into dir (created if missing) and
// returns the files written.
func (r *benchResult) writePlots(dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var written []string
	for _, pl := range []struct {
		file string
		make func() (*plot.Plot, error)
	}{
		{plotLatencyCDF, r.latencyCDFPlot},
		{plotThroughput, func() (*plot.Plot, error) {
			return r.seriesPlot("Throughput per second", "ops/s", false, func(o seriesOp) float64 { return o.OpsPerSec })
		}},
		{plotBandwidth, func() (*plot.Plot, error) {
			return r.seriesPlot("Bandwidth per second", "MB/s (10^6 bytes/s)", false, func(o seriesOp) float64 { return o.MBPerSec })
		}},
		{plotP99, func() (*plot.Plot, error) {
			return r.seriesPlot("p99 latency per second", "p99 latency (ms, log scale)", true, func(o seriesOp) float64 { return float64(o.P99Us) / 1000 })
		}},
		{plotTiers, r.tierPlot},
	} {
		p, err := pl.make()
		if err != nil {
			return written, fmt.Errorf("%s: %w", pl.file, err)
		}
		if p == nil {
			continue // nothing to show
		}
		path := filepath.Join(dir, pl.file)
		if err := p.Save(plotWidth, plotHeight, path); err != nil {
			return written, fmt.Errorf("%s: %w", pl.file, err)
		}
		written = append(written, path)
	}
	return written, nil
}

// latencyCurve is one latency distribution drawn on the CDF plot.
type latencyCurve struct {
	name string
	h    *hdrhistogram.Histogram
}

// latencyCurves are the distributions of the run: per operation, and for
// a scenario per phase and operation, so reads alone and reads with
// uploads share one plot.
func (r *benchResult) latencyCurves() []latencyCurve {
	var curves []latencyCurve
	if r.Scenario != nil {
		for _, p := range r.Scenario.Phases {
			curves = append(curves, latencyCurve{"read, phase " + p.Name, p.readHist}, latencyCurve{"upload, phase " + p.Name, p.writeHist})
		}
	} else {
		curves = []latencyCurve{{"read", r.readHist}, {"write", r.writeHist}}
	}
	kept := curves[:0]
	for _, c := range curves {
		if c.h != nil && c.h.TotalCount() > 0 {
			kept = append(kept, c)
		}
	}
	return kept
}

// latencyCDFPlot draws latency against percentile, the percentile axis
// stretched as log10(1/(1-p)) the way HdrHistogram plots do, so the tail
// (99%, 99.9%, 99.99%) gets as much room as the body.
func (r *benchResult) latencyCDFPlot() (*plot.Plot, error) {
	curves := r.latencyCurves()
	if len(curves) == 0 {
		return nil, nil
	}
	p := newPlot("Latency by percentile", "percentile (%, scaled as log10(1/(1-p)))", "latency (ms, log scale)")
	p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
	maxNines := 1.0
	lo, hi := math.Inf(1), 0.0
	for i, c := range curves {
		// A point every 0.05 of the stretched axis, as far as the count
		// of samples resolves (1 in total), then the maximum.
		var xys plotter.XYs
		total := float64(c.h.TotalCount())
		last := math.Log10(total)
		for k := 0; ; k++ {
			x := math.Min(float64(k)*0.05, last)
			y := math.Max(float64(c.h.ValueAtQuantile(100*(1-math.Pow(10, -x)))), 1) / 1000
			xys = append(xys, plotter.XY{X: x, Y: y})
			maxNines, lo, hi = math.Max(maxNines, x), math.Min(lo, y), math.Max(hi, y)
			if x >= last {
				break
			}
		}
		top := math.Max(float64(c.h.Max()), 1) / 1000
		xys = append(xys, plotter.XY{X: last, Y: top})
		hi = math.Max(hi, top)
		if err := addLine(p, c.name, xys, i); err != nil {
			return nil, err
		}
	}
	var ticks []plot.Tick
	for n := 0; n <= int(math.Ceil(maxNines)); n++ {
		ticks = append(ticks, plot.Tick{Value: float64(n), Label: nines(n)})
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	p.X.Min, p.X.Max = 0, math.Ceil(maxNines)
	logRange(p, lo, hi)
	// Bottom right stays empty: no latency is low at a high percentile.
	p.Legend.Top, p.Legend.Left = false, false
	return p, nil
}

// nines labels log10(1/(1-p)) = n: 0%, 90%, 99%, 99.9%, ...
func nines(n int) string {
	if n == 0 {
		return "0"
	}
	return fmt.Sprintf("%.*f", max(n-2, 0), 100*(1-math.Pow10(-n)))
}

// seriesPlot draws one figure of the series over time, a line per
// operation (and phase, so a line breaks where a phase ends).
func (r *benchResult) seriesPlot(title, yLabel string, logY bool, value func(seriesOp) float64) (*plot.Plot, error) {
	p := newPlot(title, "time since the measured start (s)", yLabel)
	lo, hi := math.Inf(1), 0.0
	drawn := false
	for i, op := range []struct {
		name string
		get  func(seriesPoint) seriesOp
	}{{"read", func(s seriesPoint) seriesOp { return s.Read }}, {"write", func(s seriesPoint) seriesOp { return s.Write }}} {
		segments := r.segments(func(s seriesPoint) (float64, bool) {
			o := op.get(s)
			v := value(o)
			return v, o.Ops > 0 && (!logY || v > 0)
		})
		for j, seg := range segments {
			name := op.name
			if j > 0 {
				name = "" // one legend entry per operation
			}
			if err := addLine(p, name, seg, i); err != nil {
				return nil, err
			}
			for _, xy := range seg {
				lo, hi = math.Min(lo, xy.Y), math.Max(hi, xy.Y)
			}
			drawn = true
		}
	}
	if !drawn {
		return nil, nil
	}
	if logY {
		p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
		logRange(p, lo, hi)
	} else {
		p.Y.Min, p.Y.Max = 0, 1.25*hi // room for the legend above the lines
	}
	p.Legend.Top = true
	r.markPhases(p)
	return p, nil
}

// tierPlot draws each tier's share of the successful reads per second.
func (r *benchResult) tierPlot() (*plot.Plot, error) {
	tiers := map[string]bool{}
	for _, s := range r.Series {
		for t, n := range s.TierReads {
			if n > 0 {
				tiers[t] = true
			}
		}
	}
	if len(tiers) == 0 {
		return nil, nil
	}
	p := newPlot("Share of reads served by each tier", "time since the measured start (s)", "share of successful reads (%)")
	names := []string{"ram", "ssd", "hdd", "peer", "none"}
	for t := range tiers {
		switch t {
		case "ram", "ssd", "hdd", "peer", "none":
		default:
			names = append(names, t)
		}
	}
	color := 0
	for _, t := range names {
		if !tiers[t] {
			continue
		}
		segments := r.segments(func(s seriesPoint) (float64, bool) {
			var sum int64
			for _, n := range s.TierReads {
				sum += n
			}
			if sum == 0 {
				return 0, false
			}
			return 100 * float64(s.TierReads[t]) / float64(sum), true
		})
		for j, seg := range segments {
			name := t
			if j > 0 {
				name = ""
			}
			if err := addLine(p, name, seg, color); err != nil {
				return nil, err
			}
		}
		color++
	}
	// Up to 125 leaves room for the legend above the lines; shares stop
	// at 100.
	p.Y.Min, p.Y.Max = 0, 125
	p.Y.Tick.Marker = plot.ConstantTicks{{Value: 0, Label: "0"}, {Value: 25, Label: "25"}, {Value: 50, Label: "50"}, {Value: 75, Label: "75"}, {Value: 100, Label: "100"}}
	p.Legend.Top = true
	r.markPhases(p)
	return p, nil
}

// segments turns the series into runs of consecutive points for which
// value reports a value, broken where a phase changes.
func (r *benchResult) segments(value func(seriesPoint) (float64, bool)) []plotter.XYs {
	var out []plotter.XYs
	var cur plotter.XYs
	phase := ""
	for _, s := range r.Series {
		v, ok := value(s)
		// A phase's last interval may be a few milliseconds long: its
		// rates are noise, so it counts in the totals but is not drawn.
		ok = ok && (s.IntervalSec >= minPlotInterval || len(r.Series) == 1)
		if !ok || s.Phase != phase {
			if len(cur) > 0 {
				out = append(out, cur)
			}
			cur = nil
			phase = s.Phase
		}
		if ok {
			cur = append(cur, plotter.XY{X: s.TSec, Y: v})
		}
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// markPhases draws a dashed vertical line where each phase after the
// first starts, for scenarios.
func (r *benchResult) markPhases(p *plot.Plot) {
	if r.Scenario == nil {
		return
	}
	phase := ""
	for i, s := range r.Series {
		if i > 0 && s.Phase != phase {
			start := s.TSec - s.IntervalSec
			ln, err := plotter.NewLine(plotter.XYs{{X: start, Y: p.Y.Min}, {X: start, Y: p.Y.Max}})
			if err == nil {
				ln.Dashes = []vg.Length{vg.Points(4), vg.Points(4)}
				ln.Color = color.Gray{Y: 128}
				p.Add(ln)
			}
		}
		phase = s.Phase
	}
}

func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text, p.X.Label.Text, p.Y.Label.Text = title, x, y
	p.Add(plotter.NewGrid())
	return p
}

// addLine adds a line in the i-th palette colour, with a legend entry
// unless name is empty.
func addLine(p *plot.Plot, name string, xys plotter.XYs, i int) error {
	ln, err := plotter.NewLine(xys)
	if err != nil {
		return err
	}
	ln.Color = plotutil.Color(i)
	ln.Width = vg.Points(1.5)
	p.Add(ln)
	if name != "" {
		p.Legend.Add(name, ln)
	}
	return nil
}

// logRange sets a log axis' range to the decades around [lo, hi], so
// every decade has a labelled tick, or a default when there is no data.
func logRange(p *plot.Plot, lo, hi float64) {
	if lo <= 0 || math.IsInf(lo, 0) || hi <= 0 {
		lo, hi = 0.001, 1
	}
	lo, hi = math.Pow10(int(math.Floor(math.Log10(lo)))), math.Pow10(int(math.Ceil(math.Log10(hi))))
	if lo == hi {
		hi *= 10
	}
	p.Y.Min, p.Y.Max = lo, hi
}
