package server

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/webhookd/webhookd/inbox"
	"github.com/webhookd/webhookd/internal/wire"
	"github.com/webhookd/webhookd/store"
)

// FieldError names one bad input field.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is an error with an HTTP status and a message safe to show the
// caller. Handlers return it for every failure the caller caused.
type Error struct {
	Status  int
	Message string
	Details []FieldError
	// Header is extra response headers, such as WWW-Authenticate.
	Header http.Header
}

// Error implements error, with the status for logs.
func (e *Error) Error() string { return fmt.Sprintf("%d %s", e.Status, e.Message) }

func errorf(status int, format string, args ...any) *Error {
	return &Error{Status: status, Message: fmt.Sprintf(format, args...)}
}

// invalid reports bad fields: 400 with every field named in details.
func invalid(details ...FieldError) *Error {
	msg := "validation failed"
	if len(details) > 0 {
		msg = details[0].Field + ": " + details[0].Message
		// "(and 1 more)" after "must be one of 'a', 'b'" read as a third
		// allowed value: say that the rest are errors, and where they are.
		switch n := len(details) - 1; {
		case n == 1:
			msg += " (and 1 more error in details)"
		case n > 1:
			msg += fmt.Sprintf(" (and %d more errors in details)", n)
		}
	}
	return &Error{Status: http.StatusBadRequest, Message: msg, Details: details}
}

// retryAfterFault is the Retry-After of a 503 for a database fault, in
// seconds: long enough not to hammer a database coming back, short enough
// that a publisher's retry lands soon after it does.
const retryAfterFault = "5"

// databaseFault is the answer to a request the database could not serve:
// 503 with Retry-After, naming the fault but none of its details.
func databaseFault(fault error) *Error {
	msg := "database unavailable; try again later"
	if errors.Is(fault, store.ErrFull) {
		msg = "database full: no space left for writes; try again later"
	}
	return &Error{Status: http.StatusServiceUnavailable, Message: msg,
		Header: http.Header{"Retry-After": {retryAfterFault}}}
}

func notFound(what string) *Error { return errorf(http.StatusNotFound, "%s not found", what) }

// handlerFunc is an HTTP handler that returns its failure instead of
// writing it, so that every error is written in one place.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// handle adapts a handlerFunc: caller errors become their status, a missing
// row becomes 404, and anything else is logged in full once and answered as
// a bare 500.
func (s *Server) handle(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var e *Error
	var maxErr *http.MaxBytesError
	var inboxErr *inbox.Error
	switch {
	case errors.As(err, &e):
	case errors.As(err, &inboxErr):
		e = &Error{Status: inboxErr.Status, Message: inboxErr.Message}
	case errors.As(err, &maxErr):
		e = errorf(http.StatusRequestEntityTooLarge, "request body larger than %d bytes", maxErr.Limit)
	case errors.Is(err, store.ErrNotFound):
		e = notFound("resource")
	case errors.Is(err, store.ErrConflict):
		e = errorf(http.StatusConflict, "already exists")
	case store.Fault(err) != nil:
		// The database, not the request or webhookd, failed: say so, with
		// a 503 that clients retry, rather than a 500 that reads as a bug.
		s.logger.Warn("request failed: database fault", "method", r.Method, "path", r.URL.Path, "err", err)
		e = databaseFault(store.Fault(err))
	default:
		s.logger.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		e = errorf(http.StatusInternalServerError, "internal error")
	}
	for k, vs := range e.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	var details []wire.FieldError
	for _, d := range e.Details {
		details = append(details, wire.FieldError(d))
	}
	wire.WriteError(w, e.Status, e.Message, details)
}

// json answers status with v as the body. A value that cannot be encoded
// is webhookd's fault: it is logged and answered as a 500 in the error
// body every other error has.
func (s *Server) json(w http.ResponseWriter, status int, v any) error {
	if err := wire.WriteJSON(w, status, v); err != nil {
		s.logger.Error("encode response", "err", err)
		wire.WriteError(w, http.StatusInternalServerError, "internal error", nil)
	}
	return nil
}

// asNotFound names what was not found in the 404 message.
func asNotFound(err error, what string) error {
	if errors.Is(err, store.ErrNotFound) {
		return notFound(what)
	}
	return err
}
