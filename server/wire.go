package server

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/webhookd/webhookd/internal/wire"
	"github.com/webhookd/webhookd/store"
)

// ts writes a time as every time goes on the wire.
func ts(t time.Time) string { return wire.Time(t) }

func tsp(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := ts(*t)
	return &s
}

// listJSON is a page of a list.
type listJSON[T any] struct {
	Data       []T     `json:"data"`
	NextCursor *string `json:"nextCursor"`
}

func newList[T any](data []T, next string) listJSON[T] {
	if data == nil {
		data = []T{}
	}
	l := listJSON[T]{Data: data}
	if next != "" {
		c := encodeCursor(next)
		l.NextCursor = &c
	}
	return l
}

// cursorPrefix versions the cursor format so it can change without old
// cursors being misread.
const cursorPrefix = "v1:"

// encodeCursor makes an opaque cursor from the last id of a page.
func encodeCursor(id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + id))
}

// decodeCursor reads a cursor made by encodeCursor from a page of ids
// (UUIDs), refusing anything else.
func decodeCursor(c string) (string, bool) {
	return decodeCursorOf(c, func(id string) bool {
		_, err := uuid.Parse(id)
		return err == nil && len(id) == 36
	})
}

// decodeCursorOf reads a cursor made by encodeCursor whose id valid
// accepts.
func decodeCursorOf(c string, valid func(string) bool) (string, bool) {
	if len(c) > 128 {
		return "", false
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return "", false
	}
	id, ok := strings.CutPrefix(string(b), cursorPrefix)
	if !ok {
		return "", false
	}
	if !valid(id) {
		return "", false
	}
	return id, true
}

// pageParams reads ?limit= and ?cursor= with the given bounds.
func pageParams(r *http.Request, def, max int) (store.Page, error) {
	return pageParamsOf(r, def, max, decodeCursor)
}

// pageParamsOf is pageParams for a list whose cursors decode reads.
func pageParamsOf(r *http.Request, def, max int, decode func(string) (string, bool)) (store.Page, error) {
	q := r.URL.Query()
	p := store.Page{Limit: def}
	if v, ok := q["limit"]; ok {
		n, err := strconv.Atoi(v[0])
		if err != nil || n < 1 || n > max {
			return p, invalid(FieldError{"limit", "must be a whole number from 1 to " + strconv.Itoa(max)})
		}
		p.Limit = n
	}
	if v, ok := q["cursor"]; ok && v[0] != "" {
		id, ok := decode(v[0])
		if !ok {
			return p, invalid(FieldError{"cursor", "is not a cursor this server issued"})
		}
		p.Before = id
	}
	return p, nil
}

// timeParam reads an RFC 3339 query parameter, nil when absent.
func timeParam(r *http.Request, name string) (*time.Time, error) {
	t, msg := parseTimeParam(r, name)
	if msg != "" {
		return nil, invalid(FieldError{name, msg})
	}
	return t, nil
}

// parseTimeParam is timeParam for a caller that gathers every bad field:
// it returns what is wrong with the parameter instead of an error.
func parseTimeParam(r *http.Request, name string) (*time.Time, string) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return nil, ""
	}
	t, msg := parseTime(v)
	if msg != "" {
		return nil, msg
	}
	return &t, ""
}

// parseTime reads a time the API was sent, in a parameter or a field: it
// returns timeRule, for the caller to name the field with, when v is not
// an RFC 3339 time. Every time the API reads goes through it, so that all
// take the same forms and are refused in the same words.
func parseTime(v string) (time.Time, string) {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, timeRule
	}
	return t, ""
}

// timeRule is what a bad time parameter or field is told.
const timeRule = "must be an RFC 3339 time such as 2024-01-01T12:00:00.000Z"

// validID reports whether s can be an id webhookd issued; anything else is
// answered as not found without asking the database.
func validID(s string) bool {
	if len(s) != 36 || !utf8.ValidString(s) {
		return false
	}
	_, err := uuid.Parse(s)
	return err == nil
}

// bodyText turns stored bytes into a JSON string, replacing bytes that are
// not UTF-8.
func bodyText(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}
