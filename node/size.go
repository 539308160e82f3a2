package node

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ByteSize is a count of bytes that config files and flags spell with a
// unit: "256MiB", "1GiB", "0". In TOML it may also be a bare integer.
type ByteSize int64

// ErrBadSize reports a size string ParseSize cannot read.
var ErrBadSize = errors.New("node: bad size")

// sizeUnits maps a lower-cased suffix to its multiplier. IEC suffixes and the
// one-letter shorthands are powers of 1024; SI suffixes are powers of 1000.
var sizeUnits = map[string]int64{
	"": 1, "b": 1,
	"k": 1 << 10, "kib": 1 << 10, "kb": 1e3,
	"m": 1 << 20, "mib": 1 << 20, "mb": 1e6,
	"g": 1 << 30, "gib": 1 << 30, "gb": 1e9,
	"t": 1 << 40, "tib": 1 << 40, "tb": 1e12,
}

// ParseSize reads a byte count: a non-negative decimal number (fractions
// allowed, e.g. "1.5GiB"; the result is rounded down to whole bytes) and an
// optional unit, case-insensitive: B; KiB, MiB, GiB, TiB (and the shorthands
// K, M, G, T) are powers of 1024; KB, MB, GB, TB are powers of 1000.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	if num == "" || num == "." {
		return 0, fmt.Errorf("%w: %q: want a number with an optional unit such as 256MiB", ErrBadSize, s)
	}
	mult, ok := sizeUnits[unit]
	if !ok {
		return 0, fmt.Errorf("%w: %q: unknown unit %q (use B, KiB, MiB, GiB, TiB, KB, MB, GB or TB)", ErrBadSize, s, unit)
	}
	if !strings.Contains(num, ".") {
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil || n > math.MaxInt64/mult {
			return 0, fmt.Errorf("%w: %q: out of range", ErrBadSize, s)
		}
		return n * mult, nil
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %q: %v", ErrBadSize, s, err)
	}
	v := f * float64(mult)
	if v >= math.MaxInt64 || math.IsNaN(v) {
		return 0, fmt.Errorf("%w: %q: out of range", ErrBadSize, s)
	}
	return int64(v), nil
}

// String formats the size with the largest IEC unit that divides it exactly.
func (b ByteSize) String() string {
	n := int64(b)
	for _, u := range []struct {
		name string
		mult int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n != 0 && n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10)
}

// Set implements flag.Value.
func (b *ByteSize) Set(s string) error {
	n, err := ParseSize(s)
	if err != nil {
		return err
	}
	*b = ByteSize(n)
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (b ByteSize) MarshalText() ([]byte, error) { return []byte(b.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (b *ByteSize) UnmarshalText(text []byte) error { return b.Set(string(text)) }

// UnmarshalTOML accepts a TOML string ("256MiB") or a non-negative integer (bytes).
func (b *ByteSize) UnmarshalTOML(v any) error {
	switch v := v.(type) {
	case string:
		return b.Set(v)
	case int64:
		if v < 0 {
			return fmt.Errorf("%w: %d is negative", ErrBadSize, v)
		}
		*b = ByteSize(v)
		return nil
	default:
		return fmt.Errorf("%w: want a string such as \"256MiB\" or an integer, got %T", ErrBadSize, v)
	}
}
