package node

import "time"

// leanDeadline is one of a lean connection's deadlines (read or write) as
// last set. Setting a deadline costs two clock reads and a timer update,
// and a keep-alive connection would set three per request, so a deadline
// is set an eighth longer than asked and kept while at least the asked
// time remains: a timeout is never shorter than configured, at most an
// eighth longer, and a busy connection re-arms each timer about once per
// eighth of its length instead of once per request.
type leanDeadline struct {
	at time.Time // zero: none set
}

// renew returns the deadline to set for a timeout d from now, and false
// when the one in force already does (at least d and at most d*9/8
// ahead). d <= 0 asks for no deadline.
func (dl *leanDeadline) renew(now time.Time, d time.Duration) (time.Time, bool) {
	if d <= 0 {
		if dl.at.IsZero() {
			return time.Time{}, false
		}
		dl.at = time.Time{}
		return time.Time{}, true
	}
	if left := dl.at.Sub(now); !dl.at.IsZero() && left >= d && left <= d+d/8 {
		return time.Time{}, false
	}
	dl.at = now.Add(d + d/8)
	return dl.at, true
}

// forget records that the deadline was changed outside renew (cleared
// before a hand-off), so the next renew sets it.
func (dl *leanDeadline) forget() { dl.at = time.Time{} }
