package tiering

import "errors"

// Errors callers branch on. Errors from the backend (blockstore) pass
// through wrapped, so errors.Is(err, blockstore.ErrNotFound) etc. work.
var (
	// ErrClosed: the store is closed.
	ErrClosed = errors.New("tiering: closed")
	// ErrNoBackend: Options.Backend is nil.
	ErrNoBackend = errors.New("tiering: no backend")
	// ErrBadOptions: an option is out of range.
	ErrBadOptions = errors.New("tiering: bad options")
	// ErrLocked: the SSD cache file is in use by another store (in this
	// process or another); the error names it.
	ErrLocked = errors.New("tiering: ssd cache in use by another store")
	// ErrNoCompose: Compose on a store whose backend cannot compose.
	ErrNoCompose = errors.New("tiering: the backend cannot compose")
	// ErrUnknownPolicy: NewSimulator was asked for a policy it does not know.
	ErrUnknownPolicy = errors.New("tiering: unknown simulated policy")
	// ErrNoPasses: the backend runs no compaction or scrub passes (it has
	// no StartPass; *blockstore.Store has).
	ErrNoPasses = errors.New("tiering: the backend runs no maintenance passes")
)

// Internal sentinels: they never reach callers of Store.
var (
	errBadItem     = errors.New("tiering: bad ssd item")
	errBadSnapshot = errors.New("tiering: bad ssd index snapshot")
)
