package server

import (
	"net/http"
	"time"

	"github.com/webhookd/webhookd/store"
)

type replayRequest struct {
	Since  *string `json:"since"`
	Until  *string `json:"until"`
	Status *string `json:"status"`
}

type replayResponse struct {
	Queued int64 `json:"queued"`
}

func (s *Server) handleWebhookReplay(w http.ResponseWriter, r *http.Request) error {
	hook, err := s.webhookParam(r)
	if err != nil {
		return err
	}
	var req replayRequest
	if err := decode(w, r, MaxBodyBytes, &req); err != nil {
		return err
	}
	var p store.ReplayParams
	var bad []FieldError
	parse := func(field string, v *string) *time.Time {
		if v == nil {
			return nil
		}
		t, msg := parseTime(*v)
		if msg != "" {
			bad = append(bad, FieldError{field, msg})
			return nil
		}
		return &t
	}
	if since := parse("since", req.Since); since != nil {
		p.Since = *since
	} else if req.Since == nil {
		bad = append(bad, FieldError{"since", "is required: the start of the window to replay"})
	}
	p.Until = parse("until", req.Until)
	if p.Until != nil && !p.Until.After(p.Since) {
		bad = append(bad, FieldError{"until", "must be after since"})
	}
	if req.Status != nil {
		if *req.Status != store.DeliveryFailed {
			bad = append(bad, FieldError{"status", `must be "failed" (or left out to replay every finished delivery)`})
		}
		p.OnlyFailed = true
	}
	if bad != nil {
		return invalid(bad...)
	}
	n, err := s.store.ReplayOf(r.Context(), hook, p)
	if err != nil {
		return err
	}
	if n > 0 {
		s.waker.Wake()
	}
	return s.json(w, http.StatusAccepted, replayResponse{Queued: n})
}
