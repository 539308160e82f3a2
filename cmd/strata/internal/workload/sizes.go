package workload

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"

	"strata/node"
)

// ParseSize parses a byte count such as "4096", "4KiB", "4k", "1.5MiB" or
// "1GB" with the node's parser (node.ParseSize), so a size reads the same in
// a bench flag as in a config file. Errors wrap ErrBadParameter.
func ParseSize(s string) (int64, error) {
	n, err := node.ParseSize(s)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrBadParameter, err)
	}
	return n, nil
}

// FormatSize prints n bytes with a binary unit when it divides evenly.
func FormatSize(n int64) string {
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.mult && n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10) + "B"
}

// SizeMix is a weighted choice of blob sizes.
type SizeMix struct {
	sizes []int64
	cum   []uint64 // cumulative weights
}

// ParseSizeMix parses "SIZE" or "SIZE:WEIGHT,SIZE:WEIGHT,...", e.g.
// "4KiB:80,1MiB:20". A missing weight is 1.
func ParseSizeMix(s string) (*SizeMix, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("%w: empty size mix", ErrBadParameter)
	}
	m := &SizeMix{}
	var total uint64
	for part := range strings.SplitSeq(s, ",") {
		sizeText, weightText, hasWeight := strings.Cut(part, ":")
		size, err := ParseSize(sizeText)
		if err != nil {
			return nil, err
		}
		weight := uint64(1)
		if hasWeight {
			weight, err = strconv.ParseUint(strings.TrimSpace(weightText), 10, 32)
			if err != nil {
				return nil, fmt.Errorf("%w: weight %q in size mix %q", ErrBadParameter, weightText, s)
			}
		}
		if weight == 0 {
			continue
		}
		total += weight
		m.sizes = append(m.sizes, size)
		m.cum = append(m.cum, total)
	}
	if total == 0 {
		return nil, fmt.Errorf("%w: size mix %q has no positive weight", ErrBadParameter, s)
	}
	return m, nil
}

// Pick draws a size.
func (m *SizeMix) Pick(r *rand.Rand) int64 {
	if len(m.sizes) == 1 {
		return m.sizes[0]
	}
	x := r.Uint64N(m.cum[len(m.cum)-1])
	i := sort.Search(len(m.cum), func(i int) bool { return m.cum[i] > x })
	return m.sizes[i]
}

// Max is the largest size in the mix.
func (m *SizeMix) Max() int64 {
	var mx int64
	for _, s := range m.sizes {
		mx = max(mx, s)
	}
	return mx
}

// Min is the smallest size in the mix.
func (m *SizeMix) Min() int64 {
	mn := m.sizes[0]
	for _, s := range m.sizes {
		mn = min(mn, s)
	}
	return mn
}

// Mean is the weighted mean size.
func (m *SizeMix) Mean() float64 {
	var sum float64
	var prev uint64
	for i, s := range m.sizes {
		sum += float64(s) * float64(m.cum[i]-prev)
		prev = m.cum[i]
	}
	return sum / float64(m.cum[len(m.cum)-1])
}

// String prints the mix in the syntax ParseSizeMix reads.
func (m *SizeMix) String() string {
	parts := make([]string, len(m.sizes))
	var prev uint64
	for i, s := range m.sizes {
		parts[i] = FormatSize(s) + ":" + strconv.FormatUint(m.cum[i]-prev, 10)
		prev = m.cum[i]
	}
	if len(parts) == 1 {
		return FormatSize(m.sizes[0])
	}
	return strings.Join(parts, ",")
}
