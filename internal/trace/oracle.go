package trace

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// oracleRecordBytes is the size of one oracleGeneral record.
const oracleRecordBytes = 24

// OracleReader reads libCacheSim's oracleGeneral binary format.
type OracleReader struct {
	r      *bufio.Reader
	record int64 // records read, including skipped ones
	buf    [oracleRecordBytes]byte
}

// NewOracleReader returns a reader of oracleGeneral records from r.
func NewOracleReader(r io.Reader) *OracleReader {
	return &OracleReader{r: bufio.NewReaderSize(r, 64<<10)}
}

// Next returns the next request of nonzero size.
func (o *OracleReader) Next() (Request, error) {
	for {
		n, err := io.ReadFull(o.r, o.buf[:])
		if errors.Is(err, io.EOF) {
			return Request{}, io.EOF
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return Request{}, fmt.Errorf("%w: oracleGeneral record %d is truncated (%d of %d bytes): %w",
				ErrMalformed, o.record, n, oracleRecordBytes, io.ErrUnexpectedEOF)
		}
		if err != nil {
			return Request{}, fmt.Errorf("trace: oracleGeneral record %d: %w", o.record, err)
		}
		o.record++
		q := Request{
			Time:       binary.LittleEndian.Uint32(o.buf[0:4]),
			ID:         binary.LittleEndian.Uint64(o.buf[4:12]),
			Size:       binary.LittleEndian.Uint32(o.buf[12:16]),
			NextAccess: int64(binary.LittleEndian.Uint64(o.buf[16:24])),
		}
		if q.Size == 0 {
			continue
		}
		if q.NextAccess < NoNextAccess {
			return Request{}, fmt.Errorf("%w: oracleGeneral record %d has next access %d", ErrMalformed, o.record-1, q.NextAccess)
		}
		return q, nil
	}
}

// AppendOracle appends q as an oracleGeneral record to b (for writing traces
// in tests and tools).
func AppendOracle(b []byte, q Request) []byte {
	b = binary.LittleEndian.AppendUint32(b, q.Time)
	b = binary.LittleEndian.AppendUint64(b, q.ID)
	b = binary.LittleEndian.AppendUint32(b, q.Size)
	return binary.LittleEndian.AppendUint64(b, uint64(q.NextAccess))
}
