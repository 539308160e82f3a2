package devmodel

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// preset returns the model ParseModel knows by name.
func preset(name string) (Model, bool) {
	switch name {
	case "hdd":
		return HDD(), true
	}
	return Model{}, false
}

// ParseModel reads a model spec: a preset name, optionally followed by
// overrides, as in
//
//	hdd
//	hdd:seek=8ms,rpm=7200,mbps=180
//	hdd:settle=0.5ms,span=4GiB,flush=2ms,seed=1
//
// Keys: seek, settle, flush (Go durations), rpm (integer), mbps (MB/s,
// 10^6 bytes), span (bytes, with an optional B, KiB, MiB, GiB or TiB
// suffix), seed (unsigned integer). An unknown preset or key, a repeated
// key, or a figure out of range is an error wrapping ErrInvalidModel.
func ParseModel(spec string) (Model, error) {
	name, overrides, hasOverrides := strings.Cut(spec, ":")
	m, ok := preset(name)
	if !ok {
		return Model{}, fmt.Errorf("%w: unknown preset %q (known: hdd)", ErrInvalidModel, name)
	}
	if hasOverrides {
		seen := map[string]bool{}
		for _, kv := range strings.Split(overrides, ",") {
			key, value, ok := strings.Cut(kv, "=")
			if !ok || key == "" {
				return Model{}, fmt.Errorf("%w: %q is not key=value", ErrInvalidModel, kv)
			}
			if seen[key] {
				return Model{}, fmt.Errorf("%w: %s given twice", ErrInvalidModel, key)
			}
			seen[key] = true
			if err := m.set(key, value); err != nil {
				return Model{}, err
			}
		}
	}
	if err := m.Validate(); err != nil {
		return Model{}, err
	}
	return m, nil
}

func (m *Model) set(key, value string) error {
	var err error
	switch key {
	case "seek":
		m.Seek, err = time.ParseDuration(value)
	case "settle":
		m.Settle, err = time.ParseDuration(value)
	case "flush":
		m.Flush, err = time.ParseDuration(value)
	case "rpm":
		m.RPM, err = strconv.Atoi(value)
	case "mbps":
		m.MBps, err = strconv.ParseFloat(value, 64)
		if err == nil && (math.IsNaN(m.MBps) || math.IsInf(m.MBps, 0)) {
			err = fmt.Errorf("not a finite number")
		}
	case "span":
		m.Span, err = parseBytes(value)
	case "seed":
		m.Seed, err = strconv.ParseUint(value, 10, 64)
	default:
		return fmt.Errorf("%w: unknown key %q (known: seek, settle, rpm, mbps, span, flush, seed)", ErrInvalidModel, key)
	}
	if err != nil {
		return fmt.Errorf("%w: %s=%q: %v", ErrInvalidModel, key, value, err)
	}
	return nil
}

var byteUnits = []struct {
	suffix string
	shift  uint
}{{"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}, {"B", 0}}

// parseBytes reads a non-negative byte count with an optional binary unit.
func parseBytes(s string) (int64, error) {
	shift := uint(0)
	for _, u := range byteUnits {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			s, shift = rest, u.shift
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, err
	}
	if n < 0 || n > math.MaxInt64>>shift {
		return 0, fmt.Errorf("out of range")
	}
	return n << shift, nil
}

// String renders the model as a spec ParseModel reads back to the same
// model.
func (m Model) String() string {
	return fmt.Sprintf("%s:seek=%v,settle=%v,rpm=%d,mbps=%s,span=%s,flush=%v,seed=%d",
		m.Name, m.Seek, m.Settle, m.RPM, strconv.FormatFloat(m.MBps, 'g', -1, 64), formatBytes(m.Span), m.Flush, m.Seed)
}

// formatBytes uses the largest binary unit that divides n exactly.
func formatBytes(n int64) string {
	for _, u := range byteUnits {
		if u.shift > 0 && n != 0 && n%(1<<u.shift) == 0 {
			return strconv.FormatInt(n>>u.shift, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10) + "B"
}
