package server

import (
	"context"
	"errors"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/webhookd/webhookd/store"
)

type logJSON struct {
	ID             string            `json:"id"`
	Tenant         string            `json:"tenant"`
	WebhookID      string            `json:"webhookId"`
	EventID        string            `json:"eventId"`
	DeliveryID     string            `json:"deliveryId"`
	EventType      string            `json:"eventType"`
	Attempt        int               `json:"attempt"`
	Status         string            `json:"status"`
	StatusCode     *int              `json:"statusCode"`
	DurationMs     int64             `json:"durationMs"`
	Error          *string           `json:"error"`
	RequestHeaders map[string]string `json:"requestHeaders,omitempty"`
	RequestBody    *string           `json:"requestBody,omitempty"`
	ResponseBody   *string           `json:"responseBody"`
	CreatedAt      string            `json:"createdAt"`
	NextAttemptAt  *string           `json:"nextAttemptAt"`
	Test           bool              `json:"test"`
}

// toLogJSON renders an attempt; full adds the request headers and body,
// which lists leave out to stay small.
// toLogJSON writes an attempt of a webhook of tenant.
func toLogJSON(l store.Log, tenant string, full bool) logJSON {
	out := logJSON{
		ID: l.ID, Tenant: tenant, WebhookID: l.WebhookID, EventID: l.EventID, DeliveryID: l.DeliveryID, EventType: l.EventType,
		Attempt: l.Attempt, Status: l.Status, DurationMs: l.DurationMs, CreatedAt: ts(l.CreatedAt),
		NextAttemptAt: tsp(l.NextAttemptAt), Test: l.Test,
	}
	if l.StatusCode != 0 {
		code := l.StatusCode
		out.StatusCode = &code
	}
	if l.Error != "" {
		e := l.Error
		out.Error = &e
	}
	if l.ResponseBody != nil {
		b := bodyText(l.ResponseBody)
		out.ResponseBody = &b
	}
	if full {
		out.RequestHeaders = l.RequestHeaders
		b := bodyText(l.RequestBody)
		out.RequestBody = &b
	}
	return out
}

func (s *Server) handleLogList(w http.ResponseWriter, r *http.Request) error {
	hook, err := s.webhookParam(r)
	if err != nil {
		return err
	}
	page, err := pageParams(r, 50, 500)
	if err != nil {
		return err
	}
	f, err := logFilterParams(r)
	if err != nil {
		return err
	}
	f.Page = page
	logs, next, err := s.store.ListLogsOf(r.Context(), hook, f)
	if err != nil {
		return asNotFound(err, "webhook")
	}
	out := make([]logJSON, len(logs))
	for i, l := range logs {
		out[i] = toLogJSON(l, tenantOf(r), false)
	}
	return s.json(w, http.StatusOK, newList(out, next))
}

// logIDParam reads the route's :logId; one webhookd cannot have issued is
// simply not found.
func logIDParam(r *http.Request) (string, error) {
	id := param(r, "logId")
	if !validID(id) {
		return "", notFound("log entry")
	}
	return id, nil
}

// logParams reads a log route's webhook, checked to be the caller's, and
// then its log id: a foreign webhook is a 404 before the log id is looked at.
func (s *Server) logParams(r *http.Request) (store.Webhook, string, error) {
	hook, err := s.webhookParam(r)
	if err != nil {
		return store.Webhook{}, "", err
	}
	logID, err := logIDParam(r)
	if err != nil {
		return store.Webhook{}, "", err
	}
	return hook, logID, nil
}

func (s *Server) handleLogGet(w http.ResponseWriter, r *http.Request) error {
	hook, logID, err := s.logParams(r)
	if err != nil {
		return err
	}
	l, err := s.store.LogEntryOf(r.Context(), hook, logID)
	if err != nil {
		return asNotFound(err, "log entry")
	}
	return s.json(w, http.StatusOK, toLogJSON(l, tenantOf(r), true))
}

// logFilterParams reads the filters that the log list and the log stream
// share: status, eventType, since and until.
func logFilterParams(r *http.Request) (store.LogFilter, error) {
	var f store.LogFilter
	q := r.URL.Query()
	var bad []FieldError
	switch st := q.Get("status"); st {
	case "", store.AttemptSuccess, store.AttemptFailed:
		f.Status = st
	default:
		bad = append(bad, FieldError{"status", `must be "success" or "failed"`})
	}
	if et := q.Get("eventType"); et != "" {
		switch {
		case len(et) > 255:
			bad = append(bad, FieldError{"eventType", "must be at most 255 characters"})
		case !utf8.ValidString(et) || hasControl(et):
			// PostgreSQL refuses such text outright; no event type has it.
			bad = append(bad, FieldError{"eventType", "must be valid UTF-8 without control characters"})
		}
		f.EventType = et
	}
	// In a fixed order, so that the details come out the same each time.
	for _, p := range []struct {
		name string
		dst  **time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		t, msg := parseTimeParam(r, p.name)
		if msg != "" {
			bad = append(bad, FieldError{p.name, msg})
		}
		*p.dst = t
	}
	if bad != nil {
		return f, invalid(bad...)
	}
	return f, nil
}

// webhookGone is a liveStream check that a user's webhook still exists.
func (s *Server) webhookGone(userID, webhookID string) func(ctx context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		_, err := s.store.Webhook(ctx, userID, webhookID)
		if errors.Is(err, store.ErrNotFound) {
			return "the webhook was deleted", nil
		}
		return "", err
	}
}

// handleLogStream streams a webhook's new attempts as they are logged:
// "ready" once, then one "log" event per attempt (the list's shape), oldest
// first, or "overflow" when more arrived than one poll sends, for the
// reader to reload the list; and "end", last, when the webhook is deleted
// or the stream's credential stops being valid. Both are checked on the
// stream's recheck tick, not on each poll: the polls read the webhook's
// logs only.
func (s *Server) handleLogStream(w http.ResponseWriter, r *http.Request) error {
	hook, err := s.webhookParam(r)
	if err != nil {
		return err
	}
	f, err := logFilterParams(r)
	if err != nil {
		return err
	}
	if f.Since != nil || f.Until != nil {
		return invalid(FieldError{"since", "a stream starts now; list older attempts with GET .../logs"})
	}
	live, err := s.admitStream(r)
	if err != nil {
		return err
	}
	defer live.close()
	live.watch(s.webhookGone(tenantOf(r), hook.ID))
	ctx, cancel := s.streamContext(r)
	defer cancel()
	// recent lists the attempts logged since a little before the newest
	// one seen, newest first; the overlap catches late commits.
	watermark := s.now()
	recent := func() ([]store.Log, string, time.Time, error) {
		since := watermark.Add(-streamOverlap)
		f.Since, f.Page = &since, store.Page{Limit: streamBatch}
		logs, more, err := s.store.ListLogsOf(ctx, hook, f)
		return logs, more, since, err
	}
	// What is already logged is the list's to show, not the stream's:
	// remember it so that the overlap skips it.
	sent := map[string]time.Time{}
	logs, _, _, err := recent()
	if err != nil {
		return err
	}
	for _, l := range logs {
		sent[l.ID] = l.CreatedAt
	}
	poll := time.NewTicker(streamPoll)
	defer poll.Stop()
	runStream(ctx, w, s, live, poll.C, func(out *sse, _ time.Time) bool {
		logs, more, since, err := recent()
		switch {
		case err != nil && ctx.Err() != nil:
			return false
		case err != nil:
			s.logger.Warn("log stream: list logs", "webhook", hook.ID, "err", err)
			return true
		}
		if more != "" && out.event("overflow", "", struct{}{}) != nil {
			return false
		}
		for i := len(logs) - 1; i >= 0; i-- { // oldest first
			l := logs[i]
			if _, done := sent[l.ID]; done {
				continue
			}
			sent[l.ID] = l.CreatedAt
			if l.CreatedAt.After(watermark) {
				watermark = l.CreatedAt
			}
			if more == "" && out.event("log", l.ID, toLogJSON(l, tenantOf(r), false)) != nil {
				return false
			}
		}
		for id, at := range sent {
			if at.Before(since) {
				delete(sent, id)
			}
		}
		return true
	})
	return nil
}

type redeliverResponse struct {
	DeliveryID string `json:"deliveryId"`
	Status     string `json:"status"`
}

func (s *Server) handleLogRedeliver(w http.ResponseWriter, r *http.Request) error {
	hook, logID, err := s.logParams(r)
	if err != nil {
		return err
	}
	id, err := s.store.RedeliverOf(r.Context(), hook, logID)
	switch {
	case errors.Is(err, store.ErrInFlight):
		return errorf(http.StatusConflict, "delivery %s is being sent right now; try again when this attempt is logged", id)
	case err != nil:
		return asNotFound(err, "log entry")
	}
	s.waker.Wake()
	return s.json(w, http.StatusAccepted, redeliverResponse{DeliveryID: id, Status: store.DeliveryPending})
}
