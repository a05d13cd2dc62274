package server

import (
	"net/http"
	"strconv"

	"github.com/webhookd/webhookd/inbox"
)

// handleInboxCapture serves the public /inbox/:name: the inbox captures
// the request, or describes itself to a GET; what it refuses is written
// as every error is.
func (s *Server) handleInboxCapture(w http.ResponseWriter, r *http.Request) error {
	return s.inbox.Serve(w, r)
}

// inboxParam reads and checks the :name of an inbox route.
func inboxParam(r *http.Request) (string, error) {
	name := param(r, "name")
	if !inbox.ValidName(name) {
		return "", invalid(FieldError{"name", inbox.NameRule})
	}
	return name, nil
}

// handleInboxList answers the captures of an inbox the caller may see,
// newest first.
func (s *Server) handleInboxList(w http.ResponseWriter, r *http.Request) error {
	name, err := inboxParam(r)
	if err != nil {
		return err
	}
	return s.json(w, http.StatusOK, listJSON[inbox.Capture]{Data: s.inbox.List(name, tenantOf(r))})
}

// handleInboxStream streams an inbox's new captures that the caller may
// see: "ready" once, then one "capture" event each; and "end", last, when
// the stream's credential stops being valid.
func (s *Server) handleInboxStream(w http.ResponseWriter, r *http.Request) error {
	name, err := inboxParam(r)
	if err != nil {
		return err
	}
	live, err := s.admitStream(r)
	if err != nil {
		return err
	}
	defer live.close()
	captures, unsubscribe := s.inbox.Subscribe(name, tenantOf(r))
	defer unsubscribe()
	ctx, cancel := s.streamContext(r)
	defer cancel()
	runStream(ctx, w, s, live, captures, func(out *sse, c inbox.Capture) bool {
		return out.event("capture", strconv.FormatInt(c.ID, 10), c) == nil
	})
	return nil
}
