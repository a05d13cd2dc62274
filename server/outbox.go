package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/webhookd/webhookd/store"
)

// outboxDeadJSON is a row of webhook_outbox_dead: the outbox row as the
// CRM wrote it (null where the column was NULL), why it could not become
// an event, and when it was set aside.
type outboxDeadJSON struct {
	ID             string          `json:"id"`
	Tenant         *string         `json:"tenant"`
	Event          *string         `json:"event"`
	Data           json.RawMessage `json:"data"`
	IdempotencyKey *string         `json:"idempotencyKey"`
	OccurredAt     *string         `json:"occurredAt"`
	CreatedAt      *string         `json:"createdAt"`
	Reason         string          `json:"reason"`
	DeadAt         string          `json:"deadAt"`
}

// handleOutboxDeadList lists the outbox rows that could not become events,
// oldest first (service credential only: the rows are every tenant's); on
// SQLite, which has no outbox, none.
// Their ids are webhook_outbox's, which `webhookd outbox requeue` takes.
func (s *Server) handleOutboxDeadList(w http.ResponseWriter, r *http.Request) error {
	page, err := pageParamsOf(r, 50, 100, func(c string) (string, bool) {
		return decodeCursorOf(c, func(id string) bool {
			n, err := strconv.ParseInt(id, 10, 64)
			return err == nil && n > 0 && strconv.FormatInt(n, 10) == id
		})
	})
	if err != nil {
		return err
	}
	var after int64
	if page.Before != "" {
		after, _ = strconv.ParseInt(page.Before, 10, 64)
	}
	rows, next, err := s.store.ListOutboxDead(r.Context(), after, page.Limit)
	if errors.Is(err, store.ErrOutboxUnsupported) {
		// SQLite has no outbox, so no row of it is dead.
		rows, next, err = nil, 0, nil
	}
	if err != nil {
		return err
	}
	out := make([]outboxDeadJSON, len(rows))
	for i, d := range rows {
		out[i] = outboxDeadJSON{ID: strconv.FormatInt(d.ID, 10), Tenant: d.Tenant, Event: d.Event, IdempotencyKey: d.IdempotencyKey,
			Reason: d.Reason, DeadAt: ts(d.DeadAt)}
		if d.Data != nil {
			out[i].Data = d.Data
		} else {
			out[i].Data = json.RawMessage("null")
		}
		if d.OccurredAt != nil {
			t := ts(*d.OccurredAt)
			out[i].OccurredAt = &t
		}
		if d.CreatedAt != nil {
			t := ts(*d.CreatedAt)
			out[i].CreatedAt = &t
		}
	}
	nextCursor := ""
	if next > 0 {
		nextCursor = strconv.FormatInt(next, 10)
	}
	return s.json(w, http.StatusOK, newList(out, nextCursor))
}
