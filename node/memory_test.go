package node

import (
	"os"
	"path/filepath"
	"testing"
)

func TestMemoryBudget(t *testing.T) {
	const mib = 1 << 20
	def := DefaultConfig("")
	small := def
	small.RAMCacheSize, small.SSDCacheSize, small.ChunkSize = 256*mib, 0, 1*mib
	small.Limits.MaxUploads, small.Limits.MaxReads, small.HTTP.MaxConnections = 8, 8, 64
	limited := def
	limited.MemoryLimit = 2 << 30
	for _, tc := range []struct {
		name       string
		cfg        Config
		env        string
		wantTotal  int64
		wantLimit  int64
		wantSource string
	}{
		// 366.1 MiB caches (256 RAM + 8 fill queue + 64 region buffers + 32
		// queue + 4.05 SSD index, counted once since it resizes a shard at a
		// time, and 2 sketch at the widest it grows to) + 2560 requests + 128
		// connections + 12 disks + 64 base, plus 1/10. It was 3437 MiB while
		// the index was counted twice, 3442 MiB before the sketch could grow.
		{"defaults", def, "", 3444 * mib, 3444 * mib, MemoryLimitFromComputed},
		// 266 (8 of them the fill queue, 2 the widest sketch) + 16 + 2 + 12 +
		// 64 MiB, plus 1/10.
		{"cache-dominated", small, "", 414 * mib, 414 * mib, MemoryLimitFromComputed},
		{"memory_limit", limited, "", 3444 * mib, 2 << 30, MemoryLimitFromConfig},
		{"GOMEMLIMIT wins", limited, "1GiB", 3444 * mib, 0, MemoryLimitFromEnv},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.cfg.MemoryBudget().Total; got != tc.wantTotal {
				t.Errorf("budget %+v: total %d MiB, want %d MiB", tc.cfg.MemoryBudget(), got/mib, tc.wantTotal/mib)
			}
			limit, source := tc.cfg.GoMemoryLimit(tc.env)
			if limit != tc.wantLimit || source != tc.wantSource {
				t.Errorf("limit %d from %q, want %d from %q", limit, source, tc.wantLimit, tc.wantSource)
			}
		})
	}
}

func TestMemoryLimitKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "strata.toml")
	for _, tc := range []struct {
		text string
		want ByteSize
		ok   bool
	}{
		{`memory_limit = "3GiB"`, 3 << 30, true},
		{`memory_limit = 0`, 0, true},
		{`memory_limit = "lots"`, 0, false},
	} {
		if err := os.WriteFile(path, []byte(tc.text+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := LoadConfig(path)
		if err == nil {
			err = c.Validate()
		}
		if (err == nil) != tc.ok || (tc.ok && c.MemoryLimit != tc.want) {
			t.Errorf("%s: memory_limit %v, err %v; want %v, ok=%v", tc.text, c.MemoryLimit, err, tc.want, tc.ok)
		}
	}
}
