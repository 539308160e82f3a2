package placement

import (
	"fmt"
	"testing"
)

// BenchmarkReplicas measures placing one key with n=3, for small and large
// clusters, with zones and without, reusing the result slice as a node's hot
// path would.
func BenchmarkReplicas(b *testing.B) {
	for _, tc := range []struct {
		name    string
		members []Member
	}{
		{"members=10", equalMembers("n", 10)},
		{"members=100", equalMembers("n", 100)},
		{"members=10/zones=3", zonedMembers(3, 4)[:10]},
		{"members=100/zones=5", zonedMembers(5, 20)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			r := mustNew(b, tc.members)
			keys := make([]string, 1024)
			for i := range keys {
				keys[i] = fmt.Sprintf("bucket/object-%d", i)
			}
			dst := make([]Member, 0, 3)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				dst = r.AppendReplicas(dst[:0], keys[i%len(keys)], 3)
				i++
			}
		})
	}
}
