// Package filter parses and matches webhook payload filters: JSON documents,
// in the syntax Convoy uses, that an event's envelope (event, timestamp,
// data) must match for a webhook to receive it.
//
// A filter is an object whose keys are dotted paths into the envelope
// ("data.direction") or operators. A plain value matches by equality, a
// nested object matches nested fields ({"data": {"direction": "inbound"}}
// is {"data.direction": "inbound"}), and a scalar matches an array that
// contains it. The operators are $eq $neq $gt $gte $lt $lte $in $nin $exist
// $regex (RE2) on a path, and $and $or (arrays of filters) and $not (a
// filter) anywhere a filter may stand.
//
// Parse validates everything once, when a webhook is saved, so that Match
// does no parsing and, on a parsed envelope, allocates nothing.
package filter

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// Limits on one filter, checked by Parse.
const (
	MaxBytes   = 16 << 10 // the document's size
	MaxClauses = 64       // comparisons and logical operators in all
	MaxDepth   = 32       // nesting of objects and arrays
)

// Error is a filter Parse refused: Place names where in the document, as
// "filter." followed by the dotted path and operator ("filter.data.type.$in").
type Error struct {
	Place  string
	Reason string
}

// Error implements error.
func (e *Error) Error() string { return e.Place + ": " + e.Reason }

// op is one kind of clause.
type op uint8

const (
	opAnd op = iota
	opOr
	opNot
	opEq
	opNeq
	opGt
	opGte
	opLt
	opLte
	opIn
	opNin
	opExist
	opRegex
)

var operators = map[string]op{
	"$and": opAnd, "$or": opOr, "$not": opNot, "$eq": opEq, "$neq": opNeq,
	"$gt": opGt, "$gte": opGte, "$lt": opLt, "$lte": opLte, "$in": opIn, "$nin": opNin,
	"$exist": opExist, "$regex": opRegex,
}

// seg is one step of a path: an object key, which on an array is an
// index when it is a number (idx >= 0) and otherwise applies to each
// element.
type seg struct {
	key string
	idx int
}

// clause is one node of a parsed filter.
type clause struct {
	op    op
	place string // where it stands in the document, for Explain
	path  []seg
	field string // path as written, for Explain
	val   any    // operand: nil, bool, float64, string, []any, map[string]any ($in's and $nin's as written)
	set   []any  // $in, $nin: the members that are arrays or objects
	// scalars holds $in's and $nin's other members (strings, numbers,
	// booleans, null), looked up rather than scanned: a 16 KiB filter
	// holds 8,000 of them, and scanning them for each element of a 1 MiB
	// array took 18 s per event, inside the publish's transaction.
	scalars map[any]struct{}
	re      *regexp.Regexp
	kids    []*clause // $and, $or; $not has one
}

// Filter is a parsed, valid filter. It is safe for concurrent use.
type Filter struct {
	root *clause
	raw  []byte
}

// Raw returns the document the filter was parsed from, compacted.
func (f *Filter) Raw() []byte { return f.raw }

// Parse validates a filter document and prepares it for matching. It
// refuses, with an *Error naming the place, anything but an object, an
// unknown operator, a bad regular expression, an operand of the wrong type,
// and a document over MaxBytes, MaxClauses or MaxDepth.
func Parse(doc json.RawMessage) (*Filter, error) {
	// The limit is on the compacted document, so that indentation does
	// not count; a body far past it is refused before reading it.
	if len(doc) > 8*MaxBytes {
		return nil, &Error{Place: "filter", Reason: fmt.Sprintf("is more than the limit of %d bytes", MaxBytes)}
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, doc); err != nil {
		return nil, &Error{Place: "filter", Reason: "is not valid JSON"}
	}
	raw := buf.Bytes()
	if len(raw) > MaxBytes {
		return nil, &Error{Place: "filter", Reason: fmt.Sprintf("is %d bytes, more than the limit of %d", len(raw), MaxBytes)}
	}
	v, err := decodeOrdered(raw)
	if err != nil {
		return nil, err
	}
	obj, ok := v.(object)
	if !ok {
		return nil, &Error{Place: "filter", Reason: "must be a JSON object"}
	}
	p := &parser{}
	root, err := p.document(obj, nil, "", "filter")
	if err != nil {
		return nil, err
	}
	return &Filter{root: root, raw: raw}, nil
}

// object is a JSON object as the filter's decoder reads it: members in
// document order, so that Explain names the first failing clause as
// written.
type object []member

type member struct {
	key string
	val any
}

// decodeOrdered reads one JSON value, keeping object members in order and
// refusing nesting deeper than MaxDepth.
func decodeOrdered(doc []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(doc))
	d.UseNumber()
	v, err := readValue(d, 0)
	if err != nil {
		return nil, err
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, &Error{Place: "filter", Reason: "is not one JSON value"}
	}
	return v, nil
}

func readValue(d *json.Decoder, depth int) (any, error) {
	t, err := d.Token()
	if err != nil {
		return nil, &Error{Place: "filter", Reason: "is not valid JSON"}
	}
	return readFrom(d, t, depth)
}

func readFrom(d *json.Decoder, t json.Token, depth int) (any, error) {
	switch t := t.(type) {
	case json.Delim:
		if depth >= MaxDepth {
			return nil, &Error{Place: "filter", Reason: fmt.Sprintf("nests objects and arrays deeper than the limit of %d", MaxDepth)}
		}
		switch t {
		case '{':
			obj := object{}
			for d.More() {
				kt, err := d.Token()
				if err != nil {
					return nil, &Error{Place: "filter", Reason: "is not valid JSON"}
				}
				k, _ := kt.(string)
				v, err := readValue(d, depth+1)
				if err != nil {
					return nil, err
				}
				obj = append(obj, member{key: k, val: v})
			}
			if _, err := d.Token(); err != nil {
				return nil, &Error{Place: "filter", Reason: "is not valid JSON"}
			}
			return obj, nil
		case '[':
			arr := []any{}
			for d.More() {
				v, err := readValue(d, depth+1)
				if err != nil {
					return nil, err
				}
				arr = append(arr, v)
			}
			if _, err := d.Token(); err != nil {
				return nil, &Error{Place: "filter", Reason: "is not valid JSON"}
			}
			return arr, nil
		}
		return nil, &Error{Place: "filter", Reason: "is not valid JSON"}
	case json.Number:
		return number(string(t)), nil
	default: // string, bool, nil
		return t, nil
	}
}

// number reads a JSON number as a float64, the one numeric type matching
// compares; one out of range becomes an infinity rather than an error, as
// it is in an event's data.
func number(s string) float64 {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return math.NaN()
	}
	return f
}

// parser counts clauses while building them.
type parser struct{ clauses int }

func (p *parser) count(place string) error {
	p.clauses++
	if p.clauses > MaxClauses {
		return &Error{Place: place, Reason: fmt.Sprintf("the filter has more than %d clauses", MaxClauses)}
	}
	return nil
}

// document parses a filter object standing at path prefix (nil at the
// top): path keys add to the prefix, operators apply to it.
func (p *parser) document(obj object, prefix []seg, field, place string) (*clause, error) {
	and := &clause{op: opAnd, place: place}
	for _, m := range obj {
		at := place + "." + m.key
		if strings.HasPrefix(m.key, "$") {
			c, err := p.operator(m.key, m.val, prefix, field, at)
			if err != nil {
				return nil, err
			}
			and.kids = append(and.kids, c)
			continue
		}
		path, err := splitPath(m.key, at)
		if err != nil {
			return nil, err
		}
		full := append(append([]seg(nil), prefix...), path...)
		name := m.key
		if field != "" {
			name = field + "." + m.key
		}
		if sub, ok := m.val.(object); ok && len(sub) > 0 {
			c, err := p.document(sub, full, name, at)
			if err != nil {
				return nil, err
			}
			and.kids = append(and.kids, c)
			continue
		}
		if err := p.count(at); err != nil {
			return nil, err
		}
		and.kids = append(and.kids, &clause{op: opEq, place: at, path: full, field: name, val: plain(m.val)})
	}
	return and, nil
}

// operator parses one operator member standing at prefix.
func (p *parser) operator(key string, val any, prefix []seg, field, place string) (*clause, error) {
	o, ok := operators[key]
	if !ok {
		return nil, &Error{Place: place, Reason: fmt.Sprintf("unknown operator %q (one of $eq $neq $gt $gte $lt $lte $in $nin $exist $regex $and $or $not)", key)}
	}
	if err := p.count(place); err != nil {
		return nil, err
	}
	c := &clause{op: o, place: place, path: prefix, field: field}
	switch o {
	case opAnd, opOr:
		arr, ok := val.([]any)
		if !ok || len(arr) == 0 {
			return nil, &Error{Place: place, Reason: "must be a non-empty array of filter objects"}
		}
		for i, el := range arr {
			obj, ok := el.(object)
			at := place + "." + strconv.Itoa(i)
			if !ok {
				return nil, &Error{Place: at, Reason: "must be a filter object"}
			}
			k, err := p.document(obj, prefix, field, at)
			if err != nil {
				return nil, err
			}
			c.kids = append(c.kids, k)
		}
		return c, nil
	case opNot:
		obj, ok := val.(object)
		if !ok {
			return nil, &Error{Place: place, Reason: "must be a filter object"}
		}
		k, err := p.document(obj, prefix, field, place)
		if err != nil {
			return nil, err
		}
		c.kids = []*clause{k}
		return c, nil
	}
	if prefix == nil {
		return nil, &Error{Place: place, Reason: "needs a path: write {\"data.field\": {\"" + key + "\": …}}"}
	}
	switch o {
	case opEq, opNeq:
		c.val = plain(val)
	case opGt, opGte, opLt, opLte:
		switch val.(type) {
		case float64, string:
			c.val = val
		default:
			return nil, &Error{Place: place, Reason: "must be a number or a string"}
		}
	case opIn, opNin:
		arr, ok := val.([]any)
		if !ok {
			return nil, &Error{Place: place, Reason: "must be an array"}
		}
		c.val = plain(arr) // as written, for Explain
		for _, el := range arr {
			switch el.(type) {
			case nil, bool, float64, string:
				if c.scalars == nil {
					c.scalars = map[any]struct{}{}
				}
				c.scalars[el] = struct{}{}
			default:
				c.set = append(c.set, plain(el))
			}
		}
	case opExist:
		b, ok := val.(bool)
		if !ok {
			return nil, &Error{Place: place, Reason: "must be true or false"}
		}
		c.val = b
	case opRegex:
		s, ok := val.(string)
		if !ok {
			return nil, &Error{Place: place, Reason: "must be a string holding a regular expression"}
		}
		re, err := regexp.Compile(s)
		if err != nil {
			return nil, &Error{Place: place, Reason: "is not a valid RE2 regular expression: " + strings.TrimPrefix(err.Error(), "error parsing regexp: ")}
		}
		c.re = re
	}
	return c, nil
}

// splitPath splits a dotted path into its steps.
func splitPath(key, place string) ([]seg, error) {
	if key == "" {
		return nil, &Error{Place: place, Reason: "is an empty path"}
	}
	parts := strings.Split(key, ".")
	path := make([]seg, len(parts))
	for i, k := range parts {
		if k == "" {
			return nil, &Error{Place: place, Reason: "has an empty step in its path"}
		}
		path[i] = seg{key: k, idx: -1}
		if n, err := strconv.Atoi(k); err == nil && n >= 0 && strconv.Itoa(n) == k {
			path[i].idx = n
		}
	}
	return path, nil
}

// plain turns an operand as decoded into the shapes event data has:
// objects become maps.
func plain(v any) any {
	switch v := v.(type) {
	case object:
		m := make(map[string]any, len(v))
		for _, mem := range v {
			m[mem.key] = plain(mem.val)
		}
		return m
	case []any:
		out := make([]any, len(v))
		for i, el := range v {
			out[i] = plain(el)
		}
		return out
	}
	return v
}
