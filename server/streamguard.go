package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// DefaultStreamRecheck is how often an open event stream checks again
// that its credential is still valid, when Config.StreamRecheck is zero.
const DefaultStreamRecheck = 5 * time.Second

// streamRetryAfter is the Retry-After, in seconds, of a stream refused for
// the caps: streams end when their readers leave, not on a schedule, so
// this is a polite pace for retries rather than a promise.
const streamRetryAfter = 30

// streamLimits counts the open event streams, in all and per tenant, so
// that one tenant (or everyone together) cannot hold unbounded memory and
// database polls open.
type streamLimits struct {
	maxTotal, maxPerUser int // 0: no limit

	mu     sync.Mutex
	total  int
	byUser map[string]int
}

// acquire counts one more stream for a tenant, or refuses it with a 429
// naming the limit it would exceed. release must be called once the
// stream ends.
func (l *streamLimits) acquire(userID string) (release func(), err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.maxPerUser > 0 && l.byUser[userID] >= l.maxPerUser:
		return nil, tooManyStreams(fmt.Sprintf(
			"this tenant already has %d event streams open, the most allowed for one tenant (max-streams-per-user); close one and try again", l.maxPerUser))
	case l.maxTotal > 0 && l.total >= l.maxTotal:
		return nil, tooManyStreams(fmt.Sprintf(
			"the server already has %d event streams open, the most allowed (max-streams); try again later", l.maxTotal))
	}
	if l.byUser == nil {
		l.byUser = map[string]int{}
	}
	l.total++
	l.byUser[userID]++
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.total--
			if l.byUser[userID]--; l.byUser[userID] <= 0 {
				delete(l.byUser, userID)
			}
		})
	}, nil
}

func tooManyStreams(msg string) *Error {
	return &Error{Status: http.StatusTooManyRequests, Message: msg,
		Header: http.Header{"Retry-After": {strconv.Itoa(streamRetryAfter)}}}
}

// liveStream is an admitted event stream: its place under the caps, and
// the credential it was opened with, which it checks again on every tick
// of recheck, with what the stream is about (see watch).
type liveStream struct {
	s             *Server
	authorization string
	tenantHeader  []string
	release       func()
	recheck       *time.Ticker
	// gone, when set, reports why what the stream is about is no longer
	// there ("" while it is).
	gone func(ctx context.Context) (string, error)
}

// watch has each recheck also ask gone whether what the stream is about
// still exists, so that the stream's reads need not check it each time.
func (l *liveStream) watch(gone func(ctx context.Context) (string, error)) { l.gone = gone }

// admitStream counts the request's stream against the caps (a 429 beyond
// them). The caller must close the liveStream when the stream ends.
func (s *Server) admitStream(r *http.Request) (*liveStream, error) {
	release, err := s.streamLimits.acquire(tenantOf(r))
	if err != nil {
		return nil, err
	}
	return &liveStream{s: s, authorization: r.Header.Get("Authorization"), tenantHeader: r.Header.Values(TenantHeader), release: release,
		recheck: time.NewTicker(s.streamRecheck)}, nil
}

func (l *liveStream) close() {
	l.recheck.Stop()
	l.release()
}

// ended checks the stream's credential again, with the very check a new
// request gets, then what the stream watches, and returns why the stream
// must end ("" while both hold): the user was disabled or deleted, the
// password changed, the API key was revoked or the token expired, or the
// watched webhook was deleted. A failure to check (the database down a
// moment) does not end the stream; the next tick checks again.
func (l *liveStream) ended(ctx context.Context) string {
	_, err := l.s.authenticate(ctx, l.authorization, l.tenantHeader)
	var e *Error
	switch {
	case err == nil:
	case errors.As(err, &e) && (e.Status == http.StatusUnauthorized || e.Status == http.StatusNotFound):
		// A 404 is the tenant deleted.
		return e.Message
	default:
		l.warn(ctx, "event stream: check credential", err)
		return ""
	}
	if l.gone == nil {
		return ""
	}
	reason, err := l.gone(ctx)
	if err != nil {
		l.warn(ctx, "event stream: check what it watches", err)
	}
	return reason
}

// warn logs a failed check, unless the stream is ending anyway.
func (l *liveStream) warn(ctx context.Context, msg string, err error) {
	if ctx.Err() == nil {
		l.s.logger.Warn(msg, "err", err)
	}
}

// endJSON is the data of a stream's last event, "end": why the server
// closed it.
type endJSON struct {
	Reason string `json:"reason"`
}
