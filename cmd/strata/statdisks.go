package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// diskStat is one data disk of a node, as `strata stat --disks` shows it,
// read from the node's /metrics (strata_disk_* and strata_scrub_*; see
// parseNodeMetrics).
type diskStat struct {
	Device    string `json:"device"`
	Dir       string `json:"dir"`
	Failed    bool   `json:"failed"`
	IOErrors  uint64 `json:"io_errors"`
	UsedBytes int64  `json:"used_bytes"`
	FreeBytes int64  `json:"free_bytes"`
	// LiveBytes and GarbageBytes split UsedBytes into what the index
	// needs and what compaction can reclaim.
	LiveBytes    int64   `json:"live_bytes"`
	GarbageBytes int64   `json:"garbage_bytes"`
	GarbageRatio float64 `json:"garbage_ratio"`
	// ScrubProgress is how far the pass in progress is (0 to 1), with
	// ScrubPassStarted; both zero when none is in progress.
	ScrubProgress     float64    `json:"scrub_progress"`
	ScrubPassStarted  *time.Time `json:"scrub_pass_started,omitempty"`
	ScrubLastComplete *time.Time `json:"scrub_last_complete,omitempty"`
	ScrubBytes        uint64     `json:"scrub_bytes"`
	ScrubCorruptions  uint64     `json:"scrub_corrupt_records"`
	ScrubReadErrors   uint64     `json:"scrub_read_errors"`
}

// statDisks prints the node's data disks: health, usage, garbage, scrub
// progress and errors. It exits 1 when a disk has failed or the scrub
// found corruption, so a script can alert on it.
func statDisks(ctx context.Context, s stdio, c *client, asJSON bool) int {
	o, err := fetchOverview(ctx, c)
	if err != nil {
		return fail(s, "stat", err)
	}
	disks := o.Disks
	if len(disks) == 0 {
		return fail(s, "stat", fmt.Errorf("the node reports no data disks (strata_disk_* in /metrics): is it still starting?"))
	}
	code := exitOK
	for i, d := range disks {
		if d.Failed || d.ScrubCorruptions > 0 {
			code = exitError
		}
		if asJSON {
			_ = json.NewEncoder(s.out).Encode(d)
			continue
		}
		if i > 0 {
			fmt.Fprintln(s.out)
		}
		health := "in service"
		if d.Failed {
			health = "FAILED (out of service until restart; its blobs are served by other replicas)"
		}
		pass := "none in progress"
		if d.ScrubPassStarted != nil {
			pass = fmt.Sprintf("%.1f%% done, started %s", 100*d.ScrubProgress, d.ScrubPassStarted.Format(time.RFC3339))
		}
		fmt.Fprintf(s.out, "disk:              %s (%s)\n", d.Device, d.Dir)
		fmt.Fprintf(s.out, "health:            %s\n", health)
		fmt.Fprintf(s.out, "io errors:         %d\n", d.IOErrors)
		fmt.Fprintf(s.out, "used:              %d bytes\n", d.UsedBytes)
		fmt.Fprintf(s.out, "free:              %d bytes\n", d.FreeBytes)
		fmt.Fprintf(s.out, "garbage:           %d bytes (%.1f%% of used; %d live)\n", d.GarbageBytes, 100*d.GarbageRatio, d.LiveBytes)
		fmt.Fprintf(s.out, "scrub pass:        %s\n", pass)
		fmt.Fprintf(s.out, "scrub last pass:   %s\n", stampOrNever(d.ScrubLastComplete))
		fmt.Fprintf(s.out, "scrub read:        %d bytes\n", d.ScrubBytes)
		fmt.Fprintf(s.out, "scrub corrupt:     %d records\n", d.ScrubCorruptions)
		fmt.Fprintf(s.out, "scrub read errors: %d\n", d.ScrubReadErrors)
	}
	return code
}

// parseMetricLine splits `name{label="value",...} number` (the labels
// optional; values with \\, \" and \n escapes).
func parseMetricLine(line string) (name string, labels map[string]string, value float64, err error) {
	bad := func(why string) (string, map[string]string, float64, error) {
		return "", nil, 0, fmt.Errorf("metric line %q: %s", line, why)
	}
	labels = map[string]string{}
	i := strings.IndexAny(line, "{ ")
	if i <= 0 {
		return bad("no name")
	}
	name, rest := line[:i], line[i:]
	if rest[0] == '{' {
		rest = rest[1:]
		for {
			if strings.HasPrefix(rest, "}") {
				rest = rest[1:]
				break
			}
			eq := strings.Index(rest, `="`)
			if eq <= 0 {
				return bad("bad label")
			}
			key := rest[:eq]
			rest = rest[eq+2:]
			var val strings.Builder
			closed := false
			for j := 0; j < len(rest); j++ {
				switch c := rest[j]; {
				case c == '\\' && j+1 < len(rest):
					j++
					switch rest[j] {
					case 'n':
						val.WriteByte('\n')
					default:
						val.WriteByte(rest[j])
					}
				case c == '"':
					rest, closed = rest[j+1:], true
				default:
					val.WriteByte(c)
				}
				if closed {
					break
				}
			}
			if !closed {
				return bad("unterminated label value")
			}
			labels[key] = val.String()
			rest = strings.TrimPrefix(rest, ",")
		}
	}
	fields := strings.Fields(rest)
	if len(fields) == 0 {
		return bad("no value")
	}
	value, perr := strconv.ParseFloat(fields[0], 64)
	if perr != nil {
		return bad("bad value")
	}
	return name, labels, value, nil
}
