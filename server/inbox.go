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

// ownCapturesOnly reports whether the request sees only the captures of
// its tenant's own deliveries: a portal session shows a tenant's customer
// that tenant's deliveries, never what anyone else (another tenant's
// developer, say, with a credential in a header) sent to an inbox of that
// name, which any signed-in member sees.
func ownCapturesOnly(r *http.Request) bool { return currentPrincipal(r).kind == credentialPortal }

// handleInboxList answers the captures of an inbox the caller may see,
// newest first.
func (s *Server) handleInboxList(w http.ResponseWriter, r *http.Request) error {
	name, err := inboxParam(r)
	if err != nil {
		return err
	}
	list := s.inbox.List
	if ownCapturesOnly(r) {
		list = s.inbox.ListOwned
	}
	return s.json(w, http.StatusOK, listJSON[inbox.Capture]{Data: list(name, tenantOf(r))})
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
	subscribe := s.inbox.Subscribe
	if ownCapturesOnly(r) {
		subscribe = s.inbox.SubscribeOwned
	}
	captures, unsubscribe := subscribe(name, tenantOf(r))
	defer unsubscribe()
	ctx, cancel := s.streamContext(r)
	defer cancel()
	runStream(ctx, w, s, live, captures, func(out *sse, c inbox.Capture) bool {
		return out.event("capture", strconv.FormatInt(c.ID, 10), c) == nil
	})
	return nil
}
