package server

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/webhookd/webhookd/store"
)

// Throttle limits failed logins per email and per client address, and how
// many passwords are checked at once.
type Throttle struct {
	// MaxFailures is how many failures within Window lock a key out.
	MaxFailures int
	Window      time.Duration
	// MaxChecks is how many password checks (bcrypt, tens of milliseconds
	// of CPU each) may run at once; a login beyond it is refused at once
	// with 429 rather than queued. Zero means no bound.
	MaxChecks int
}

// throttleKeys names the counters a login attempt counts against.
func throttleKeys(email string, r *http.Request) []string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return []string{EmailThrottleKey(email), "ip:" + clientKey(host)}
}

// clientKey names the client a failed login counts against. An IPv6
// client counts by its /64: one host is usually given a whole /64, and
// counting each of its 2^64 addresses apart would let it guess passwords
// for many emails without ever reaching the per-address limit. An
// IPv4-mapped address is its IPv4 address, and a zone is dropped.
func clientKey(host string) string {
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.WithZone("").Unmap()
	if ip.Is6() {
		return netip.PrefixFrom(ip, 64).Masked().String()
	}
	return ip.String()
}

// EmailThrottleKey names the counter of an email's failed logins, which
// 'webhookd user unlock' clears.
func EmailThrottleKey(email string) string { return "email:" + store.NormalizeEmail(email) }

// startCheck takes a password-check slot, or refuses the login with a 429
// when every slot is taken: a burst of logins must not queue up seconds of
// bcrypt work. The caller calls done when the check is over.
func (s *Server) startCheck() (done func(), err error) {
	if s.checks == nil {
		return func() {}, nil
	}
	select {
	case s.checks <- struct{}{}:
		return func() { <-s.checks }, nil
	default:
		return nil, &Error{Status: http.StatusTooManyRequests,
			Message: "too many logins are being checked at once; try again in 1 seconds",
			Header:  http.Header{"Retry-After": {"1"}}}
	}
}

// reserveLogin counts an attempt against every key before its password is
// checked, and returns a 429 instead when any key has failed too often
// recently, with Retry-After saying when the oldest of those failures
// leaves the window. Counting and checking the count are one step in the
// store, so a concurrent burst gets no more checks than the limit.
func (s *Server) reserveLogin(ctx context.Context, keys []string) (store.LoginReservation, error) {
	if s.throttle.MaxFailures <= 0 {
		return store.LoginReservation{}, nil
	}
	res, err := s.store.ReserveLogin(ctx, keys, s.throttle.MaxFailures, s.throttle.Window)
	if err != nil || !res.Refused() {
		return res, err
	}
	secs := max(int64(res.Until.Sub(s.now())/time.Second)+1, 1)
	// Say which counter is at its limit: after 'webhookd user unlock' a
	// user who failed from one machine is still locked by its address,
	// and "too many failed logins" alone reads as if unlock did nothing.
	var email, addr bool
	for _, k := range res.Keys {
		email = email || strings.HasPrefix(k, "email:")
		addr = addr || strings.HasPrefix(k, "ip:")
	}
	which := ""
	switch {
	case email && addr:
		which = " for this email and from this client address"
	case email:
		which = " for this email"
	case addr:
		which = " from this client address"
	}
	return res, &Error{Status: http.StatusTooManyRequests,
		Message: "too many failed logins" + which + "; try again in " + strconv.FormatInt(secs, 10) + " seconds",
		Header:  http.Header{"Retry-After": {strconv.FormatInt(secs, 10)}}}
}

// releaseLogin uncounts a reserved attempt that was not a failure. It runs
// even when the client has gone, or the attempt would count against it.
func (s *Server) releaseLogin(ctx context.Context, res store.LoginReservation) {
	if err := s.store.ReleaseLogin(context.WithoutCancel(ctx), res); err != nil {
		s.logger.Warn("release login attempt", "err", err)
	}
}
