package peer

import "time"

// progress keeps pushing a connection deadline forward while bytes move,
// so a peer that stops sending a body (or reading a stream) is cut off
// after timeout without progress, however long the whole transfer takes.
// node.Server sets no read or write timeouts of its own on these routes.
type progress struct {
	set     func(time.Time) error // http.ResponseController's SetReadDeadline or SetWriteDeadline
	timeout time.Duration         // <= 0: no deadline
	at      time.Time             // when the deadline was last moved
}

// extend moves the deadline to now+timeout, at most a few times per
// timeout (setting it on every small read is wasted work).
func (p *progress) extend() {
	if p == nil || p.timeout <= 0 {
		return
	}
	now := time.Now()
	if !p.at.IsZero() && now.Sub(p.at) < p.timeout/8 {
		return
	}
	p.at = now
	_ = p.set(now.Add(p.timeout)) // ErrNotSupported (a recorder in tests): no deadline
}

// clear disarms the deadline. After a request body's end net/http watches
// the connection for the client going away; a read deadline left armed
// would fire there and cancel the request while the store syncs.
func (p *progress) clear() {
	if p != nil && p.timeout > 0 {
		_ = p.set(time.Time{})
	}
}
