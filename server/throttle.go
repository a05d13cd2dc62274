package server

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"time"
)

// Throttle limits failed logins per email and per client address.
type Throttle struct {
	// MaxFailures is how many failures within Window lock a key out.
	MaxFailures int
	Window      time.Duration
}

// throttleKeys names the counters a login attempt counts against.
func throttleKeys(email string, r *http.Request) []string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return []string{"email:" + normalizeEmail(email), "ip:" + host}
}

// throttled returns a 429 when any key has failed too often recently, with
// Retry-After saying when the oldest of those failures leaves the window.
func (s *Server) throttled(ctx context.Context, keys []string) error {
	if s.throttle.MaxFailures <= 0 {
		return nil
	}
	now := time.Now()
	var wait time.Duration
	for _, k := range keys {
		n, oldest, err := s.store.LoginFailures(ctx, k, now.Add(-s.throttle.Window))
		if err != nil {
			return err
		}
		if n >= s.throttle.MaxFailures && oldest != nil {
			wait = max(wait, oldest.Add(s.throttle.Window).Sub(now))
		}
	}
	if wait <= 0 {
		return nil
	}
	secs := int64(wait/time.Second) + 1
	return &Error{Status: http.StatusTooManyRequests,
		Message: "too many failed logins; try again in " + strconv.FormatInt(secs, 10) + " seconds",
		Header:  http.Header{"Retry-After": {strconv.FormatInt(secs, 10)}}}
}

// loginFailed records a failure against every key.
func (s *Server) loginFailed(ctx context.Context, keys []string) {
	if s.throttle.MaxFailures <= 0 {
		return
	}
	if err := s.store.RecordLoginFailure(context.WithoutCancel(ctx), keys...); err != nil {
		s.logger.Warn("record failed login", "err", err)
	}
}
