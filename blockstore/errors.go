package blockstore

import (
	"errors"
	"strconv"
)

// Errors callers branch on. Returned errors wrap one of these with context.
var (
	// ErrNotFound: the key has no live blob.
	ErrNotFound = errors.New("blockstore: not found")
	// ErrCorrupt: a record failed its checksum; its bytes are never returned.
	// Also what a key answers whose newest record recovery found damaged
	// (an older version is never served in its place).
	ErrCorrupt = errors.New("blockstore: corrupt record")
	// ErrNoSpace: no data directory has room for the write.
	ErrNoSpace = errors.New("blockstore: no space")
	// ErrReadOnly: the volume or disk failed a write or sync and takes no more writes.
	ErrReadOnly = errors.New("blockstore: read-only")
	// ErrIndexFailed: the bbolt index failed to commit every attempt and is
	// treated as suspect storage; writes are refused (the error also wraps
	// ErrReadOnly) until the store is reopened.
	ErrIndexFailed = errors.New("blockstore: index cannot commit")
	// ErrClosed: the store is closed.
	ErrClosed = errors.New("blockstore: closed")
	// ErrInvalidKey: the key is empty, longer than 1024 bytes, not UTF-8, or holds control characters.
	ErrInvalidKey = errors.New("blockstore: invalid key")
	// ErrTooLarge: the blob exceeds Options.MaxBlobSize.
	ErrTooLarge = errors.New("blockstore: too large")
	// ErrSizeMismatch: the body was shorter or longer than the declared size.
	ErrSizeMismatch = errors.New("blockstore: body size does not match declared size")
	// ErrInvalidArgument: an option or argument other than the key is malformed
	// (content type, negative size, bad Options).
	ErrInvalidArgument = errors.New("blockstore: invalid argument")
	// ErrLocked: a data or index directory is in use by another store (in
	// this process or another); the error names the directory.
	ErrLocked = errors.New("blockstore: directory in use by another store")
	// ErrDiskIdentity: a data directory's identity file is missing, unreadable
	// or names another disk or node than the index expects: the wrong disk
	// (or no disk) is mounted there. The error says which directory and what
	// to check.
	ErrDiskIdentity = errors.New("blockstore: data directory identity mismatch")
	// ErrDiskFailed: the data directory's disk passed Options.DiskErrorThreshold
	// I/O errors and is out of service until the store is reopened: no reads
	// of the blobs on it (another replica has them), no new writes there. It
	// does not wrap ErrReadOnly: the store stays ready while another disk
	// serves.
	ErrDiskFailed = errors.New("blockstore: disk failed")
	// ErrPassRunning: StartPass was asked for a compaction or scrub pass
	// while one of that kind is running; nothing new was started.
	ErrPassRunning = errors.New("blockstore: a pass is already running")
	// ErrUnknownPass: Pass or WaitPass was asked for a pass id the store
	// does not know (any more).
	ErrUnknownPass = errors.New("blockstore: unknown pass")
)

// notFoundError is ErrNotFound for one key, the text of
// fmt.Errorf("%w: %q", ErrNotFound, key) built only when asked for: every
// Put of a new key looks its old version up and discards this error, and
// fmt's work was 2% of a small PUT's CPU.
type notFoundError struct{ key string }

func errNotFoundKey(key string) error { return &notFoundError{key: key} }

func (e *notFoundError) Error() string { return ErrNotFound.Error() + ": " + strconv.Quote(e.key) }

func (e *notFoundError) Unwrap() error { return ErrNotFound }
