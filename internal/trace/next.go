package trace

import (
	"errors"
	"fmt"
	"io"
)

// NextAccesses reads every request of r and fills in NextAccess (the number, from 1,
// of the object's next request) for formats that do not carry it. Unlike
// the readers it holds the whole trace in memory (32 bytes a request plus a
// map entry per object): only Belady needs it.
func NextAccesses(r Reader) ([]Request, error) {
	var reqs []Request
	for {
		q, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("trace: next accesses: %w", err)
		}
		reqs = append(reqs, q)
	}
	last := make(map[uint64]int64)
	for i := len(reqs) - 1; i >= 0; i-- {
		next, ok := last[reqs[i].ID]
		if !ok {
			next = NoNextAccess
		}
		reqs[i].NextAccess = next
		last[reqs[i].ID] = int64(i) + 1 // libCacheSim counts requests from 1
	}
	return reqs, nil
}
