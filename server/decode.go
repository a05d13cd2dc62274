package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"
)

// MaxBodyBytes caps every request body; larger bodies get 413.
const MaxBodyBytes = 1 << 20

// maxEventBodyBytes is the body limit of the routes that take an event
// (publish and a webhook's test send): room for a full 1 MiB data value
// plus the envelope around it.
const maxEventBodyBytes = MaxBodyBytes + 64<<10

// decode reads a JSON object into dst, refusing bodies over limit (413),
// invalid UTF-8, malformed JSON, unknown fields, wrong types and trailing
// data, each with a 400 that names what is wrong.
func decode(w http.ResponseWriter, r *http.Request, limit int64, dst any) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			return errorf(http.StatusRequestEntityTooLarge, "request body larger than %d bytes", limit)
		}
		return errorf(http.StatusBadRequest, "reading request body: %v", err)
	}
	return decodeBytes(body, dst)
}

// decodeBytes is decode's parsing half, also used by the fuzz target.
func decodeBytes(body []byte, dst any) error {
	return decodeAs(body, "request body", dst)
}

// decodeAs is decodeBytes for a JSON object that is not the whole body (an
// event of a batch), named subject in the messages of the errors that are
// not about one field.
func decodeAs(body []byte, subject string, dst any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return errorf(http.StatusBadRequest, "%s must be a JSON object", subject)
	}
	if !utf8.Valid(body) {
		return errorf(http.StatusBadRequest, "%s is not valid UTF-8", subject)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err, subject)
	}
	if dec.More() {
		return errorf(http.StatusBadRequest, "%s has data after the JSON object", subject)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errorf(http.StatusBadRequest, "%s has data after the JSON object", subject)
	}
	return nil
}

// jsonError turns a decoding error into a 400 naming the field or offset.
func jsonError(err error, subject string) *Error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return errorf(http.StatusBadRequest, "malformed JSON at byte %d: %v", syntax.Offset, syntax)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return errorf(http.StatusBadRequest, "%s must be a JSON object, not %s", subject, typ.Value)
		}
		return invalid(FieldError{Field: field, Message: fmt.Sprintf("must be %s, not %s", jsonKind(typ.Type.Kind().String()), typ.Value)})
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errorf(http.StatusBadRequest, "malformed JSON: unexpected end of body")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no typed error for unknown fields.
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		if name == "" {
			// A detail must name its field; this one has no name.
			return errorf(http.StatusBadRequest, `unknown field "" (a field with an empty name)`)
		}
		return invalid(FieldError{Field: name, Message: "unknown field"})
	default:
		return errorf(http.StatusBadRequest, "malformed JSON: %v", err)
	}
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "an array"
	case "map", "struct":
		return "an object"
	case "int", "int64", "int32", "float64", "uint", "uint64":
		return "a number"
	default:
		return "of another type"
	}
}
