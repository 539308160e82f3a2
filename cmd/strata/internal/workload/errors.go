package workload

import "errors"

// ErrBadParameter is wrapped by every constructor and parser error.
var ErrBadParameter = errors.New("workload: bad parameter")
