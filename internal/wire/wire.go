// Package wire is the part of webhookd's JSON wire format that more than
// one package writes: the layout of every timestamp (the API's fields, the
// delivery envelope, the webhook.disabled payload) and the error body of
// every JSON error answer (the API's, the inbox's and the console's). A
// client then parses one shape and one time format wherever it looks.
package wire

import (
	"bytes"
	"encoding/json"
	"net/http"
	"time"
)

// TimeLayout is every timestamp webhookd writes: UTC with milliseconds, as
// in 2024-01-01T12:00:00.000Z. Format with Time, which converts to UTC.
const TimeLayout = "2006-01-02T15:04:05.000Z07:00"

// Time formats t in TimeLayout, in UTC.
func Time(t time.Time) string { return string(AppendTime(make([]byte, 0, len(TimeLayout)), t)) }

// AppendTime appends t in TimeLayout, in UTC, to b. It writes the digits
// itself for years 0 to 9999: time.Format interprets the layout on every
// call, which cost as much as both signatures of a delivery's envelope.
func AppendTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(b, TimeLayout)
	}
	hour, minute, sec := t.Clock()
	b = appendDigits(b, year, 4)
	b = append(b, '-')
	b = appendDigits(b, int(month), 2)
	b = append(b, '-')
	b = appendDigits(b, day, 2)
	b = append(b, 'T')
	b = appendDigits(b, hour, 2)
	b = append(b, ':')
	b = appendDigits(b, minute, 2)
	b = append(b, ':')
	b = appendDigits(b, sec, 2)
	b = append(b, '.')
	b = appendDigits(b, t.Nanosecond()/1e6, 3)
	return append(b, 'Z')
}

// appendDigits appends n, 0 ≤ n < 10^width, in width decimal digits.
func appendDigits(b []byte, n, width int) []byte {
	for i := width - 1; i >= 0; i-- {
		d := n
		for range i {
			d /= 10
		}
		b = append(b, byte('0'+d%10))
	}
	return b
}

// FieldError names one bad input field.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is the body of every JSON error answer, the shape NestJS clients
// already parse.
type Error struct {
	StatusCode int          `json:"statusCode"`
	Error      string       `json:"error"`
	Message    string       `json:"message"`
	Details    []FieldError `json:"details,omitempty"`
}

// Marshal encodes v as an answer body, ending in a newline. Names, URLs
// and payloads go out as they came in: HTML escaping would turn "<" into
// \u003c for API clients that never render HTML.
func Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// WriteJSON answers status with v as the body. It writes nothing when v
// cannot be encoded, and returns why, so that the caller can log it and
// answer otherwise.
func WriteJSON(w http.ResponseWriter, status int, v any) error {
	b, err := Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(b) // a client gone mid-answer is not an error to report
	return nil
}

// WriteError answers status with the error body, message and details.
func WriteError(w http.ResponseWriter, status int, message string, details []FieldError) {
	// An Error always encodes: it holds only strings and ints.
	_ = WriteJSON(w, status, Error{StatusCode: status, Error: http.StatusText(status), Message: message, Details: details})
}
