package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// MaxFileBytes bounds a catalogue file: it is read whole at startup.
const MaxFileBytes = 8 << 20

// Open builds the catalogue webhookd serves: the defaults, then the types
// of the catalogue file at path ("" for none), then the extra types
// (--event-types) not already in it. Every schema is compiled and every
// example checked against its schema here, once; the error names the
// file and the type.
//
// The file is JSON:
//
//	{"types": {"order.paid": {"description": "...", "schema": {...}, "examples": [{...}]}}}
//
// Its types keep the file's order. An entry replaces a default type of the
// same name whole (give its schema and examples too, or it has none), but
// not webhook.disabled, which webhookd publishes itself.
func Open(path string, extra ...string) (*Catalog, error) {
	if path == "" {
		return New(extra...)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(b) > MaxFileBytes {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, MaxFileBytes)
	}
	entries, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return build(entries, extra)
}

// fileEntry is one type as a catalogue file gives it.
type fileEntry struct {
	Description string            `json:"description"`
	Schema      json.RawMessage   `json:"schema"`
	Examples    []json.RawMessage `json:"examples"`
}

// Parse reads a catalogue file's content (see Open) into checked entries,
// in the file's order.
func Parse(b []byte) ([]*Entry, error) {
	var top struct {
		Types json.RawMessage `json:"types"`
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&top); err != nil {
		return nil, fmt.Errorf("not a catalogue (want {\"types\": {\"<type>\": {\"description\", \"schema\", \"examples\"}}}): %s", jsonError(err))
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, errors.New("not a catalogue: data after the JSON object")
	}
	if len(top.Types) == 0 || top.Types[0] != '{' {
		return nil, errors.New(`"types" is required: an object of event types, each {"description", "schema", "examples"}`)
	}
	// The types are read key by key to keep the file's order (the order
	// GET /api/v1/event-types lists them in) and to refuse a type given
	// twice, which a map would silently collapse.
	d = json.NewDecoder(bytes.NewReader(top.Types))
	if _, err := d.Token(); err != nil { // {
		return nil, fmt.Errorf(`"types": %s`, jsonError(err))
	}
	var out []*Entry
	seen := map[string]bool{}
	for d.More() {
		tok, err := d.Token()
		if err != nil {
			return nil, fmt.Errorf(`"types": %s`, jsonError(err))
		}
		name := tok.(string) // an object's keys are strings
		if err := validName(name); err != nil {
			return nil, fmt.Errorf("type %q: %w", name, err)
		}
		if seen[name] {
			return nil, fmt.Errorf("type %q: given twice", name)
		}
		seen[name] = true
		if IsReserved(name) {
			return nil, fmt.Errorf("type %q: published by webhookd itself; its entry cannot be changed", name)
		}
		var fe fileEntry
		var raw json.RawMessage
		if err := d.Decode(&raw); err != nil {
			return nil, fmt.Errorf("type %q: %s", name, jsonError(err))
		}
		ed := json.NewDecoder(bytes.NewReader(raw))
		ed.DisallowUnknownFields()
		if err := ed.Decode(&fe); err != nil {
			return nil, fmt.Errorf("type %q: want {\"description\", \"schema\", \"examples\"}: %s", name, jsonError(err))
		}
		e := &Entry{Name: name, Description: strings.TrimSpace(fe.Description)}
		if len(fe.Schema) > 0 && !bytes.Equal(fe.Schema, []byte("null")) {
			if e.Schema, err = compact(fe.Schema); err != nil {
				return nil, fmt.Errorf("type %q: schema: %w", name, err)
			}
		}
		if len(fe.Examples) == 0 {
			return nil, fmt.Errorf("type %q: examples: give at least one example of its data", name)
		}
		for i, x := range fe.Examples {
			c, err := compact(x)
			if err != nil {
				return nil, fmt.Errorf("type %q: examples[%d]: %w", name, i, err)
			}
			e.Examples = append(e.Examples, c)
		}
		if err := e.check(); err != nil {
			return nil, fmt.Errorf("type %q: %w", name, err)
		}
		out = append(out, e)
	}
	return out, nil
}

// check compiles the entry's schema and validates each example against
// it: an example that its own schema refuses would teach receivers a
// payload publishers cannot send.
func (e *Entry) check() error {
	if err := e.compile(); err != nil {
		return err
	}
	if e.compiled == nil {
		return nil
	}
	for i, x := range e.Examples {
		if vs := e.validate(x); len(vs) > 0 {
			return fmt.Errorf("examples[%d] does not match the schema: %s", i, describe(vs))
		}
	}
	return nil
}

// describe words violations on one line, each as its pointer and reason.
func describe(vs []Violation) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		at := v.Pointer
		if at == "" {
			at = "(the data)"
		}
		parts[i] = at + ": " + v.Reason
	}
	return strings.Join(parts, "; ")
}

// compact compacts a JSON value.
func compact(raw []byte) (json.RawMessage, error) {
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, fmt.Errorf("not valid JSON: %s", jsonError(err))
	}
	return buf.Bytes(), nil
}

// jsonError words a decoding error with its offset where there is one.
func jsonError(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%s (at byte %d)", se.Error(), se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("%q must be %s, not %s", te.Field, te.Type, te.Value)
	}
	return err.Error()
}
