package trace

import (
	"encoding/csv"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"strconv"
	"strings"
)

// CSVReader reads a CSV trace of time,key,size[,op]. A first line whose
// first field is "time" is a header and skipped; lines starting with # are
// comments.
type CSVReader struct {
	r *csv.Reader
}

// NewCSVReader returns a reader of CSV requests from r.
func NewCSVReader(r io.Reader) *CSVReader {
	c := csv.NewReader(r)
	c.FieldsPerRecord = -1
	c.Comment = '#'
	c.ReuseRecord = true
	c.TrimLeadingSpace = true
	return &CSVReader{r: c}
}

// Next returns the next access of nonzero size.
func (c *CSVReader) Next() (Request, error) {
	for {
		rec, err := c.r.Read()
		if errors.Is(err, io.EOF) {
			return Request{}, io.EOF
		}
		if err != nil {
			return Request{}, fmt.Errorf("%w: csv: %w", ErrMalformed, err)
		}
		line, _ := c.r.FieldPos(0)
		if len(rec) < 3 || len(rec) > 4 {
			return Request{}, fmt.Errorf("%w: csv line %d: %d fields, want time,key,size[,op]", ErrMalformed, line, len(rec))
		}
		if line == 1 && strings.EqualFold(strings.TrimSpace(rec[0]), "time") {
			continue
		}
		t, err := strconv.ParseUint(strings.TrimSpace(rec[0]), 10, 32)
		if err != nil {
			return Request{}, fmt.Errorf("%w: csv line %d: time %q: %w", ErrMalformed, line, rec[0], err)
		}
		key := strings.TrimSpace(rec[1])
		if key == "" {
			return Request{}, fmt.Errorf("%w: csv line %d: empty key", ErrMalformed, line)
		}
		size, err := strconv.ParseUint(strings.TrimSpace(rec[2]), 10, 32)
		if err != nil {
			return Request{}, fmt.Errorf("%w: csv line %d: size %q: %w", ErrMalformed, line, rec[2], err)
		}
		if len(rec) == 4 {
			switch strings.ToLower(strings.TrimSpace(rec[3])) {
			case "delete", "del", "remove":
				continue
			}
		}
		if size == 0 {
			continue
		}
		return Request{Time: uint32(t), ID: keyID(key), Size: uint32(size), NextAccess: NoNextAccess}, nil
	}
}

// keyID maps a key to an object id: a decimal integer is itself, anything
// else its FNV-1a hash.
func keyID(key string) uint64 {
	if id, err := strconv.ParseUint(key, 10, 64); err == nil {
		return id
	}
	h := fnv.New64a()
	h.Write([]byte(key))
	return h.Sum64()
}
