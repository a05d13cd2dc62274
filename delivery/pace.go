package delivery

import "time"

// pace decides when a send to a webhook limited to rate sends per second
// goes, so that its sends are spread evenly at that rate: a burst is
// smoothed out rather than failed. permitted is when the webhook's next send
// is permitted (the zero time, or a time not after now: at once). The send
// waits wait for its turn, and the one after it is permitted at next (the
// zero time when rate is zero or less: the webhook is not paced). A turn
// more than horizon away is not taken (ok is false): the caller gives the
// delivery back rather than hold a worker that long, and permitted stands.
// It reads no clock, so the table in pace_test.go pins it down.
func pace(now, permitted time.Time, rate int, horizon time.Duration) (wait time.Duration, next time.Time, ok bool) {
	if rate <= 0 {
		return 0, time.Time{}, true
	}
	at := now
	if permitted.After(now) {
		at = permitted
	}
	if wait = at.Sub(now); wait > horizon {
		return 0, permitted, false
	}
	return wait, at.Add(time.Second / time.Duration(rate)), true
}
