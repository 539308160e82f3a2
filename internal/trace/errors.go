package trace

import "errors"

// ErrMalformed reports input that is not a trace of the format asked for.
var ErrMalformed = errors.New("trace: malformed")

// ErrUnknownFormat reports a format name Open does not know.
var ErrUnknownFormat = errors.New("trace: unknown format")
