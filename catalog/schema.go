package catalog

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// Entry is one event type of the catalogue.
type Entry struct {
	// Name is the event type ("message.new").
	Name string
	// Description says what happened when an event of this type is
	// published ("" when none was given).
	Description string
	// Schema is the JSON Schema of the event's data, compact, as it was
	// given; nil when the type has none and any data is accepted.
	Schema json.RawMessage
	// Examples are data of this type, compact, each valid against
	// Schema; none for a type added by name alone (--event-types).
	Examples []json.RawMessage

	compiled *jsonschema.Schema // nil when Schema is nil
}

// Violation is one way an event's data breaks its type's schema.
type Violation struct {
	// Pointer is the JSON Pointer (RFC 6901) of the offending value within
	// the data: "" for the data as a whole, "/contact/phone" for a field.
	// For a missing required property it points at where the property
	// should be.
	Pointer string
	// Reason says what is wrong, in words ("got number, want string").
	Reason string
}

// MaxViolations bounds the violations ValidateData reports for one event,
// so that data breaking the schema in every element of a long array
// answers a readable error, not one as large as the data.
const MaxViolations = 20

// ValidateData checks data, an event's data as JSON, against the schema of
// eventType. It returns nil when the data is valid, when the type has no
// schema, or when the type is not in the catalogue (which the caller
// refuses on its own, naming the type rather than the data). Data that is
// not JSON at all is one violation at "".
//
// It is safe for concurrent use and runs on every publish: the schemas
// were compiled once, when the catalogue was built.
func (c *Catalog) ValidateData(eventType string, data json.RawMessage) []Violation {
	e := c.entries[eventType]
	if e == nil || e.compiled == nil {
		return nil
	}
	return e.validate(data)
}

func (e *Entry) validate(data []byte) []Violation {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return []Violation{{Pointer: "", Reason: "is not valid JSON"}}
	}
	err = e.compiled.Validate(v)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		// Validate returns nothing else; should it, the data is still
		// refused, with what the validator said.
		return []Violation{{Pointer: "", Reason: err.Error()}}
	}
	var out []Violation
	collect(ve, &out)
	// The validator walks an object's properties in map order: sorted, the
	// same data always answers the same violations, the same first one in
	// the message, and the same MaxViolations of many.
	slices.SortStableFunc(out, func(a, b Violation) int { return comparePointers(a.Pointer, b.Pointer) })
	return slices.Compact(out[:min(len(out), MaxViolations)])
}

// comparePointers orders JSON Pointers token by token, array indexes by
// number: /items/2 before /items/10.
func comparePointers(a, b string) int {
	ta, tb := strings.Split(a, "/"), strings.Split(b, "/")
	for i := 0; i < len(ta) && i < len(tb); i++ {
		if ta[i] == tb[i] {
			continue
		}
		na, errA := strconv.Atoi(ta[i])
		nb, errB := strconv.Atoi(tb[i])
		if errA == nil && errB == nil {
			return cmp.Compare(na, nb)
		}
		return strings.Compare(ta[i], tb[i])
	}
	return cmp.Compare(len(ta), len(tb))
}

// collect appends the leaves of the error tree: the innermost errors are
// the ones that name a value and say what is wrong with it; the nodes
// above them only say that a subschema failed.
func collect(ve *jsonschema.ValidationError, out *[]Violation) {
	if len(ve.Causes) > 0 {
		for _, c := range ve.Causes {
			collect(c, out)
		}
		return
	}
	ptr := pointer(ve.InstanceLocation)
	if req, ok := ve.ErrorKind.(*kind.Required); ok {
		// One violation per missing property, at the property itself:
		// "data/contact/phone: is required" names what to add.
		for _, m := range req.Missing {
			*out = append(*out, Violation{Pointer: ptr + "/" + escapeToken(m), Reason: "is required"})
		}
		return
	}
	*out = append(*out, Violation{Pointer: ptr, Reason: ve.ErrorKind.LocalizedString(printer)})
}

// pointer writes instance location tokens as a JSON Pointer.
func pointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(escapeToken(t))
	}
	return b.String()
}

// escapeToken escapes a JSON Pointer token as RFC 6901 asks.
func escapeToken(t string) string {
	if !strings.ContainsAny(t, "~/") {
		return t
	}
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(t)
}

// compile compiles e.Schema, refusing references to anything outside it:
// a catalogue is checked at startup, and webhookd fetches no schema from
// the network or the disk while it runs.
func (e *Entry) compile() error {
	if e.Schema == nil {
		return nil
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(e.Schema))
	if err != nil {
		return fmt.Errorf("schema is not valid JSON: %w", err)
	}
	switch doc.(type) {
	case map[string]any, bool:
	default:
		return fmt.Errorf("schema must be a JSON object (or true/false), not %s", jsonKind(doc))
	}
	const url = "webhookd:///event-catalog/schema.json"
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	c.UseLoader(noLoader{})
	if err := c.AddResource(url, doc); err != nil {
		return fmt.Errorf("schema: %w", err)
	}
	s, err := c.Compile(url)
	if err != nil {
		msg := strings.ReplaceAll(oneLine(err.Error()), `"`+url+`#" is`, "it is")
		return fmt.Errorf("schema: %s", msg)
	}
	e.compiled = s
	return nil
}

// noLoader refuses every reference that is not within the schema itself.
type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("%s is outside the schema: webhookd loads no other schemas (put definitions in $defs)", url)
}

// oneLine joins the lines of the compiler's indented error tree, so that
// a startup error stays one line.
func oneLine(s string) string {
	var parts []string
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "- "))
		if l != "" {
			parts = append(parts, l)
		}
	}
	return strings.Join(parts, "; ")
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case []any:
		return "an array"
	default:
		return fmt.Sprintf("%T", v)
	}
}

// printer words violations in English, as every other error is.
var printer = message.NewPrinter(language.English)
