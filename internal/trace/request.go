package trace

import (
	"fmt"
	"io"
)

// NoNextAccess is Request.NextAccess for an object never requested again, or
// when the format does not say.
const NoNextAccess int64 = -1

// Request is one read of a whole object.
type Request struct {
	Time       uint32
	ID         uint64
	Size       uint32
	NextAccess int64 // number (from 1, as libCacheSim counts) of the object's next request, or NoNextAccess
}

// Reader streams requests; Next returns io.EOF after the last one.
type Reader interface {
	Next() (Request, error)
}

// Format names a trace format.
type Format string

// The formats New reads.
const (
	FormatOracle Format = "oracle"
	FormatCSV    Format = "csv"
)

// New returns a reader of format f over r.
func New(r io.Reader, f Format) (Reader, error) {
	switch f {
	case FormatOracle:
		return NewOracleReader(r), nil
	case FormatCSV:
		return NewCSVReader(r), nil
	}
	return nil, fmt.Errorf("%w: %q (want oracle or csv)", ErrUnknownFormat, f)
}
