package filter

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"time"
)

// TimeLayout is how an envelope's timestamp is written, the same layout as
// the body receivers get (internal/wire.TimeLayout; a test keeps them
// equal): a filter compares it as that text.
const TimeLayout = "2006-01-02T15:04:05.000Z07:00"

// Envelope is an event as filters see it, decoded once and matched against
// any number of filters.
type Envelope struct {
	root map[string]any
}

// NewEnvelope decodes an event's data (JSON) into an envelope with its type
// and time. Numbers become float64 (one out of range an infinity).
func NewEnvelope(eventType string, at time.Time, data []byte) (*Envelope, error) {
	var v any
	if len(data) > 0 {
		if err := json.Unmarshal(data, &v); err != nil {
			// A number out of float64's range is the one valid JSON
			// Unmarshal refuses: read such data with numbers as text.
			d := json.NewDecoder(bytes.NewReader(data))
			d.UseNumber()
			if derr := d.Decode(&v); derr != nil {
				return nil, fmt.Errorf("filter: envelope: data: %w", err)
			}
			v = numbers(v)
		}
	}
	return &Envelope{root: map[string]any{
		"event":     eventType,
		"timestamp": at.UTC().Format(TimeLayout),
		"data":      v,
	}}, nil
}

// Match reports whether the envelope passes the filter.
func (f *Filter) Match(e *Envelope) bool {
	return f.root.match(e.root)
}

// Explain reports whether the envelope passes the filter and, when it does
// not, the first clause that failed (its place in the document, without
// the leading "filter.") and why.
func (f *Filter) Explain(e *Envelope) (matches bool, failed, reason string) {
	c, reason := f.root.explain(e.root)
	if c == nil {
		return true, "", ""
	}
	place := c.place
	if len(place) > len("filter.") {
		place = place[len("filter."):]
	}
	return false, place, reason
}

func (c *clause) match(root any) bool {
	switch c.op {
	case opAnd:
		for _, k := range c.kids {
			if !k.match(root) {
				return false
			}
		}
		return true
	case opOr:
		for _, k := range c.kids {
			if k.match(root) {
				return true
			}
		}
		return false
	case opNot:
		return !c.kids[0].match(root)
	case opNeq:
		return !c.any(root, c.path)
	case opNin:
		return !c.any(root, c.path)
	case opExist:
		return c.any(root, c.path) == c.val.(bool)
	}
	return c.any(root, c.path)
}

// explain returns the first failing clause below c and a reason, or nil.
func (c *clause) explain(root any) (*clause, string) {
	switch c.op {
	case opAnd:
		for _, k := range c.kids {
			if f, why := k.explain(root); f != nil {
				return f, why
			}
		}
		return nil, ""
	case opOr:
		if c.match(root) {
			return nil, ""
		}
		return c, fmt.Sprintf("none of the %d alternatives matched", len(c.kids))
	case opNot:
		if c.match(root) {
			return nil, ""
		}
		return c, "the negated filter matched"
	}
	if c.match(root) {
		return nil, ""
	}
	return c, c.why(root)
}

// why says in words why a failing comparison failed.
func (c *clause) why(root any) string {
	v, found := lookup(root, c.path)
	got := "missing"
	if found {
		got = describe(v)
	}
	switch c.op {
	case opEq:
		return fmt.Sprintf("%s is %s, not %s", c.field, got, describe(c.val))
	case opNeq:
		return fmt.Sprintf("%s is %s", c.field, describe(c.val))
	case opGt, opGte, opLt, opLte:
		return fmt.Sprintf("%s is %s, not %s %s", c.field, got, map[op]string{opGt: ">", opGte: ">=", opLt: "<", opLte: "<="}[c.op], describe(c.val))
	case opIn:
		return fmt.Sprintf("%s is %s, not one of %s", c.field, got, describe(c.val))
	case opNin:
		return fmt.Sprintf("%s is %s, one of %s", c.field, got, describe(c.val))
	case opExist:
		if c.val.(bool) {
			return fmt.Sprintf("%s is missing", c.field)
		}
		return fmt.Sprintf("%s is present", c.field)
	case opRegex:
		return fmt.Sprintf("%s is %s, which does not match /%s/", c.field, got, c.re.String())
	}
	return "did not match"
}

// lookup follows a path through objects and array indexes only, for
// Explain's reasons.
func lookup(v any, path []seg) (any, bool) {
	for _, s := range path {
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[s.key]; !ok {
				return nil, false
			}
		case []any:
			if s.idx < 0 || s.idx >= len(x) {
				return nil, false
			}
			v = x[s.idx]
		default:
			return nil, false
		}
	}
	return v, true
}

func describe(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
}

// any reports whether some value at path (through arrays, each element)
// passes c's test; $neq and $nin test as $eq and $in, negated by match.
func (c *clause) any(v any, path []seg) bool {
	if len(path) == 0 {
		return c.test(v)
	}
	s := path[0]
	switch x := v.(type) {
	case map[string]any:
		next, ok := x[s.key]
		if !ok {
			return false
		}
		return c.any(next, path[1:])
	case []any:
		if s.idx >= 0 {
			if s.idx < len(x) {
				return c.any(x[s.idx], path[1:])
			}
			return false
		}
		for _, el := range x {
			if c.any(el, path) {
				return true
			}
		}
	}
	return false
}

// test applies c to the value found at its path; a scalar test on an array
// passes when the array itself or one of its elements passes.
func (c *clause) test(v any) bool {
	if c.testOne(v) {
		return true
	}
	if arr, ok := v.([]any); ok && c.op != opExist {
		for _, el := range arr {
			if c.testOne(el) {
				return true
			}
		}
	}
	return false
}

func (c *clause) testOne(v any) bool {
	switch c.op {
	case opEq, opNeq:
		return equal(c.val, v)
	case opIn, opNin:
		switch v.(type) {
		case nil, bool, float64, string:
			// A NaN is found by no lookup, as it equals nothing in equal.
			_, ok := c.scalars[v]
			return ok
		}
		for _, w := range c.set {
			if equal(w, v) {
				return true
			}
		}
		return false
	case opExist:
		return true
	case opRegex:
		s, ok := v.(string)
		return ok && c.re.MatchString(s)
	case opGt, opGte, opLt, opLte:
		cmp, ok := compare(v, c.val)
		if !ok {
			return false
		}
		switch c.op {
		case opGt:
			return cmp > 0
		case opGte:
			return cmp >= 0
		case opLt:
			return cmp < 0
		default:
			return cmp <= 0
		}
	}
	return false
}

// compare orders two numbers or two strings.
func compare(a, b any) (int, bool) {
	switch x := a.(type) {
	case float64:
		y, ok := b.(float64)
		if !ok || math.IsNaN(x) || math.IsNaN(y) {
			return 0, false
		}
		return cmp.Compare(x, y), true
	case string:
		y, ok := b.(string)
		if !ok {
			return 0, false
		}
		return cmp.Compare(x, y), true
	}
	return 0, false
}

// equal compares two decoded JSON values; its recursion is bounded by the
// filter operand's depth (MaxDepth).
func equal(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case float64:
		y, ok := b.(float64)
		return ok && x == y
	case string:
		y, ok := b.(string)
		return ok && x == y
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equal(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, xv := range x {
			yv, ok := y[k]
			if !ok || !equal(xv, yv) {
				return false
			}
		}
		return true
	}
	return false
}

// numbers turns json.Number values into float64 in place.
func numbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		return number(string(x))
	case []any:
		for i := range x {
			x[i] = numbers(x[i])
		}
	case map[string]any:
		for k, el := range x {
			x[k] = numbers(el)
		}
	}
	return v
}
