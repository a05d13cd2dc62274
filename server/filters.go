package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/webhookd/webhookd/filter"
)

// parseFilterField validates a webhook's filter as given in a request:
// nil when absent, an empty slice for null (no filter), else the filter's
// compact text. A bad filter is a FieldError naming its place
// ("filter.data.type.$in").
func parseFilterField(raw json.RawMessage) (*[]byte, *FieldError) {
	if raw == nil {
		return nil, nil
	}
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		none := []byte{}
		return &none, nil
	}
	f, err := filter.Parse(raw)
	if err != nil {
		return nil, filterFieldError(err)
	}
	text := f.Raw()
	return &text, nil
}

// filterFieldError turns a filter.Parse error into the FieldError naming
// its place.
func filterFieldError(err error) *FieldError {
	var fe *filter.Error
	if errors.As(err, &fe) {
		return &FieldError{Field: fe.Place, Message: fe.Reason}
	}
	return &FieldError{Field: "filter", Message: err.Error()}
}

// filterTestRequest is POST /api/v1/filters/test's body: a filter and an
// event envelope to try it on, as a receiver would get it.
type filterTestRequest struct {
	Filter json.RawMessage  `json:"filter"`
	Event  *filterTestEvent `json:"event"`
}

type filterTestEvent struct {
	Event     *string         `json:"event"`
	Timestamp *string         `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
}

type filterTestResponse struct {
	Matches bool   `json:"matches"`
	Failed  string `json:"failed"`
	Reason  string `json:"reason"`
}

// handleFilterTest answers whether a filter matches an event and, when it
// does not, which clause failed and why; nothing is stored or sent. The
// event need not be of a catalogued type: the console tries filters on
// examples while they are being written.
func (s *Server) handleFilterTest(w http.ResponseWriter, r *http.Request) error {
	var req filterTestRequest
	if err := decode(w, r, MaxBodyBytes, &req); err != nil {
		return err
	}
	var bad []FieldError
	var f *filter.Filter
	if req.Filter == nil || bytes.Equal(bytes.TrimSpace(req.Filter), []byte("null")) {
		bad = append(bad, FieldError{"filter", "is required: a filter object such as {\"data.direction\": \"inbound\"}"})
	} else {
		var err error
		if f, err = filter.Parse(req.Filter); err != nil {
			bad = append(bad, *filterFieldError(err))
		}
	}
	eventType, at, data := "", s.now(), []byte("{}")
	if req.Event == nil {
		bad = append(bad, FieldError{"event", "is required: {\"event\": \"message.new\", \"timestamp\": \"…\", \"data\": {…}}"})
	} else {
		if req.Event.Event != nil {
			eventType = *req.Event.Event
		}
		if req.Event.Timestamp != nil {
			t, msg := parseTime(*req.Event.Timestamp)
			if msg != "" {
				bad = append(bad, FieldError{"event.timestamp", msg})
			}
			at = t
		}
		if req.Event.Data != nil {
			payload, notJSON, err := compactData(req.Event.Data, "event.data")
			if err != nil {
				return err
			}
			if notJSON != nil {
				bad = append(bad, *notJSON)
			}
			data = payload
		}
	}
	if bad != nil {
		return invalid(bad...)
	}
	env, err := filter.NewEnvelope(eventType, at, data)
	if err != nil {
		return invalid(FieldError{"event.data", "is not valid JSON"})
	}
	ok, failed, reason := f.Explain(env)
	return s.json(w, http.StatusOK, filterTestResponse{Matches: ok, Failed: failed, Reason: reason})
}
