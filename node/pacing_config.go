package node

import "time"

// PacingConfig is the [pacing] table: uploads are paced so reads keep
// their latency (node/pace, docs/config.md).
type PacingConfig struct {
	// Enabled turns pacing on. Default true.
	Enabled bool `toml:"enabled"`
	// ReadLatencyTarget is the p99 of reads answered from memory that the
	// node defends: above it uploads are backed off. Default 1ms.
	ReadLatencyTarget time.Duration `toml:"read_latency_target"`
	// ReadLatencyRatio raises the target to this many times the p99 the
	// same reads had while no upload ran (over the last minute), when that
	// is higher: on a machine too busy to meet the target even without
	// uploads, uploads are backed off only for what they add. 0 turns it
	// off; else at least 1. Default 1.25.
	ReadLatencyRatio float64 `toml:"read_latency_ratio"`
	// MinUploadRate is the least the uploads together are held to, per
	// second, however slow reads are. Default 8MiB.
	MinUploadRate ByteSize `toml:"min_upload_rate"`
}

// Pacing defaults.
const (
	DefaultReadLatencyTarget = time.Millisecond
	DefaultMinUploadRate     = 8 << 20
	DefaultReadLatencyRatio  = 1.25
)

func defaultPacingConfig() PacingConfig {
	return PacingConfig{Enabled: true, ReadLatencyTarget: DefaultReadLatencyTarget, ReadLatencyRatio: DefaultReadLatencyRatio, MinUploadRate: DefaultMinUploadRate}
}

// validatePacing reports the [pacing] table's problems through bad.
func (c Config) validatePacing(bad func(format string, args ...any)) {
	p := c.Pacing
	if p.ReadLatencyTarget <= 0 {
		bad("pacing.read_latency_target %v must be positive", p.ReadLatencyTarget)
	} else if p.ReadLatencyTarget > time.Minute {
		bad("pacing.read_latency_target %v is over a minute", p.ReadLatencyTarget)
	}
	if !(p.ReadLatencyRatio == 0 || p.ReadLatencyRatio >= 1 && p.ReadLatencyRatio <= 100) {
		bad("pacing.read_latency_ratio %v: want 0 (off) or 1 to 100", p.ReadLatencyRatio)
	}
	if p.MinUploadRate <= 0 {
		bad("pacing.min_upload_rate must be positive")
	}
}
