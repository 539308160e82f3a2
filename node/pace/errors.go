package pace

import "errors"

// ErrOptions: New was given Options it cannot work with (a target or an
// interval that is not positive, a factor outside its range). The error
// wraps it with the field and value.
var ErrOptions = errors.New("pace: invalid options")
