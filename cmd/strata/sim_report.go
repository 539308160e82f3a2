package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"text/tabwriter"

	"strata/tiering"
)

// simReport is the JSON `strata sim --json` writes: one result per policy
// and cache size.
type simReport struct {
	Trace           string          `json:"trace"`
	Format          string          `json:"format"`
	Seed            uint64          `json:"seed"`
	Requests        int64           `json:"requests"`
	RequestedBytes  int64           `json:"requested_bytes"`
	WorkingSetBytes int64           `json:"working_set_bytes"`
	Results         []simResultJSON `json:"results"`
}

// RAMBytes and SSDBytes are the split of CacheBytes Strata's policy gets;
// a baseline is one cache of CacheBytes.
type simResultJSON struct {
	Policy          string  `json:"policy"`
	Size            string  `json:"size"` // as asked: "10%" or "1GiB"
	CacheBytes      int64   `json:"cache_bytes"`
	RAMBytes        int64   `json:"ram_bytes"`
	SSDBytes        int64   `json:"ssd_bytes"`
	ObjectMissRatio float64 `json:"object_miss_ratio"`
	ByteMissRatio   float64 `json:"byte_miss_ratio"`
	SSDBytesWritten int64   `json:"ssd_bytes_written"`
	Misses          int64   `json:"misses"`
	ByteMisses      int64   `json:"byte_misses"`
	// Ratios of byte miss ratios: to LRU's, and to the lowest of the online
	// baselines (lru, fifo, s3fifo, sieve, wtinylfu) that ran.
	ByteMissVsLRU  float64 `json:"byte_miss_vs_lru"`
	ByteMissVsBest float64 `json:"byte_miss_vs_best_baseline"`
	BestBaseline   string  `json:"best_baseline"`
	// Strata only: SSD bytes written over strata-admit-all's, and the RAM
	// the SSD index costs per item on the SSD at the end.
	SSDWrittenVsAdmitAll float64 `json:"ssd_bytes_written_vs_admit_all,omitempty"`
	SSDIndexBytesPerItem float64 `json:"ssd_index_bytes_per_item,omitempty"`
}

func isOnlineBaseline(p string) bool {
	switch p {
	case tiering.PolicyLRU, tiering.PolicyFIFO, tiering.PolicyS3FIFO, tiering.PolicySIEVE, tiering.PolicyWTinyLFU:
		return true
	}
	return false
}

func newSimReport(cfg simConfig, st traceStats, runs []simRun) *simReport {
	rep := &simReport{
		Trace: cfg.tracePath, Format: string(cfg.format), Seed: cfg.seed,
		Requests: st.requests, RequestedBytes: st.bytes, WorkingSetBytes: st.workingSet,
	}
	// Runs come grouped by size, in cfg.policies order.
	for start := 0; start < len(runs); {
		end := start
		for end < len(runs) && runs[end].size == runs[start].size {
			end++
		}
		group := make([]tiering.SimResult, 0, end-start)
		for _, r := range runs[start:end] {
			group = append(group, r.sim.Result())
		}
		var lru, best, admitAll tiering.SimResult
		bestRatio := math.Inf(1)
		for _, r := range group {
			switch {
			case r.Policy == tiering.PolicyStrataAdmitAll:
				admitAll = r
			case isOnlineBaseline(r.Policy) && r.ByteMissRatio() < bestRatio:
				best, bestRatio = r, r.ByteMissRatio()
			}
			if r.Policy == tiering.PolicyLRU {
				lru = r
			}
		}
		for _, r := range group {
			j := simResultJSON{
				Policy: r.Policy, Size: runs[start].size.label, CacheBytes: r.CacheBytes, RAMBytes: r.RAMBytes, SSDBytes: r.SSDBytes,
				ObjectMissRatio: r.ObjectMissRatio(), ByteMissRatio: r.ByteMissRatio(), SSDBytesWritten: r.SSDBytesWritten,
				Misses: r.Misses, ByteMisses: r.ByteMisses,
				ByteMissVsLRU: divOrZero(r.ByteMissRatio(), lru.ByteMissRatio()), ByteMissVsBest: divOrZero(r.ByteMissRatio(), best.ByteMissRatio()),
				BestBaseline: best.Policy, SSDIndexBytesPerItem: r.SSDIndexBytesPerItem,
			}
			if r.Policy == tiering.PolicyStrata {
				j.SSDWrittenVsAdmitAll = divOrZero(float64(r.SSDBytesWritten), float64(admitAll.SSDBytesWritten))
			}
			rep.Results = append(rep.Results, j)
		}
		start = end
	}
	return rep
}

func divOrZero(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func (rep *simReport) print(w io.Writer) {
	fmt.Fprintf(w, "trace %s (%s): %d requests, %s requested, working set %s; seed %d\n",
		rep.Trace, rep.Format, rep.Requests, formatBytes(rep.RequestedBytes), formatBytes(rep.WorkingSetBytes), rep.Seed)
	fmt.Fprintln(w, "ratios are of byte miss ratios; best = lowest of the online baselines (lru, fifo, s3fifo, sieve, wtinylfu)")
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "size\tcache\tRAM\tSSD\tpolicy\tobj miss\tbyte miss\tvs LRU\tvs best\tSSD written\tvs admit-all\tindex B/item\t")
	for _, r := range rep.Results {
		written, vsAll, perItem := "-", "-", "-"
		ram, ssd := "-", "-" // a baseline is one cache of the total
		if r.Policy == tiering.PolicyStrata || r.Policy == tiering.PolicyStrataAdmitAll {
			ram, ssd = formatBytes(r.RAMBytes), formatBytes(r.SSDBytes)
			written = formatBytes(r.SSDBytesWritten)
			if r.SSDIndexBytesPerItem > 0 {
				perItem = fmt.Sprintf("%.1f", r.SSDIndexBytesPerItem)
			}
		}
		if r.Policy == tiering.PolicyStrata {
			vsAll = fmt.Sprintf("%.2fx", r.SSDWrittenVsAdmitAll)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%.4f\t%.4f\t%.3fx\t%.3fx (%s)\t%s\t%s\t%s\t\n",
			r.Size, formatBytes(r.CacheBytes), ram, ssd, r.Policy,
			r.ObjectMissRatio, r.ByteMissRatio, r.ByteMissVsLRU, r.ByteMissVsBest, r.BestBaseline, written, vsAll, perItem)
	}
	tw.Flush()
}

func (rep *simReport) writeJSON(path string) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
