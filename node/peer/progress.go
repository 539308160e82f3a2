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

// clear disarms the deadline once the transfer is over, so a deadline
// meant for the body cannot cut what follows on the connection while the
// store syncs (net/http watches it for the client going away).
func (p *progress) clear() {
	if p != nil && p.timeout > 0 {
		_ = p.set(time.Time{})
	}
}
