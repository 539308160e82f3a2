package devmodel

import "errors"

// ErrInvalidModel is returned by ParseModel, Model.Validate and Wrap for a
// model that names an unknown preset or parameter, or whose figures are out
// of range.
var ErrInvalidModel = errors.New("devmodel: invalid device model")
