package main

import (
	"context"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestBenchPlots writes the plots of a mixed run and of a read-under-write
// run and checks that each file is a decodable PNG with something drawn
// on it; a run without operations writes no plot and no error.
func TestBenchPlots(t *testing.T) {
	mixed := benchConfig{Mode: "fake", Sizes: "1KiB:1,8KiB:1", ReadRatio: 0.7, Keys: 20, KeyPrefix: "bench/", Duration: time.Minute,
		MaxOps: 400, Concurrency: 2, Prefill: true, Seed: 2, ContentType: "application/octet-stream"}
	if err := mixed.validate(); err != nil {
		t.Fatal(err)
	}
	all := []string{plotLatencyCDF, plotThroughput, plotBandwidth, plotP99, plotTiers}
	for _, tc := range []struct {
		name string
		cfg  benchConfig
	}{
		{"mixed", mixed},
		{"read-under-write", scenarioConfig(t, 300*time.Millisecond)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := runBenchmarkOn(context.Background(), tc.cfg, newContendedTarget(time.Millisecond), stdio{out: io.Discard, err: io.Discard})
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(t.TempDir(), "plots")
			files, err := res.writePlots(dir)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, f := range files {
				names = append(names, filepath.Base(f))
			}
			if !slices.Equal(names, all) {
				t.Errorf("wrote %v, want %v", names, all)
			}
			for _, f := range files {
				checkPNG(t, f)
			}
		})
	}
	t.Run("no operations", func(t *testing.T) {
		empty := &benchResult{readHist: newLatencyHistogram(), writeHist: newLatencyHistogram(),
			Series: []seriesPoint{{TSec: 1, IntervalSec: 1, Phase: phaseMixed, TierReads: map[string]int64{}}}}
		files, err := empty.writePlots(t.TempDir())
		if err != nil || len(files) != 0 {
			t.Errorf("writePlots = %v, %v; want nothing written and no error", files, err)
		}
	})
}

// checkPNG decodes path as a PNG and checks that it is not blank.
func checkPNG(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	b := img.Bounds()
	if b.Dx() < 200 || b.Dy() < 100 {
		t.Fatalf("%s: %v is too small to read", path, b)
	}
	first := img.At(b.Min.X, b.Min.Y)
	for y := b.Min.Y; y < b.Max.Y; y += 3 {
		for x := b.Min.X; x < b.Max.X; x += 3 {
			if img.At(x, y) != first {
				return
			}
		}
	}
	t.Errorf("%s: every pixel is %v", path, first)
}

func TestPlotNinesLabels(t *testing.T) {
	for n, want := range []string{"0", "90", "99", "99.9", "99.99", "99.999"} {
		if got := nines(n); got != want {
			t.Errorf("nines(%d) = %q, want %q", n, got, want)
		}
	}
}
