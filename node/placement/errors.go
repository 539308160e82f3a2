package placement

import "errors"

// Errors New returns for a member list it refuses; callers branch on them
// with errors.Is. The wrapping error names the offending member.
var (
	// ErrNoMembers: the member list is empty, so no key has a home.
	ErrNoMembers = errors.New("placement: no members")
	// ErrEmptyID: a member has an empty ID.
	ErrEmptyID = errors.New("placement: member ID is empty")
	// ErrDuplicateID: two members share an ID.
	ErrDuplicateID = errors.New("placement: duplicate member ID")
	// ErrBadWeight: a weight is zero, negative, NaN or infinite.
	ErrBadWeight = errors.New("placement: member weight must be finite and greater than zero")
)
