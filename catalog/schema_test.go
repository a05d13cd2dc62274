package catalog

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/webhookd/webhookd/store"
)

// quickStartMessage is the quick start's message.new payload.
const quickStartMessage = `{"messageId":"msg_123","conversationId":"conv_456","contactId":"contact_789","direction":"inbound","type":"text","content":"Hello!","timestamp":"2024-01-01T12:00:00.000Z"}`

func TestDefaults(t *testing.T) {
	c, err := New()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range c.Entries() {
		names = append(names, e.Name)
		if e.Description == "" || e.Schema == nil || len(e.Examples) == 0 {
			t.Errorf("%s: description %q, schema %s, %d examples; want all three", e.Name, e.Description, e.Schema, len(e.Examples))
		}
		for i, x := range e.Examples {
			if vs := c.ValidateData(e.Name, x); vs != nil {
				t.Errorf("%s: examples[%d] %s: %v", e.Name, i, x, vs)
			}
		}
	}
	if !slices.Equal(names, Default) {
		t.Errorf("entries %v, want Default %v", names, Default)
	}
	if got := string(c.Entry("message.new").Examples[0]); got != quickStartMessage {
		t.Errorf("message.new examples[0] = %s, want the quick start's payload %s", got, quickStartMessage)
	}
	// What webhookd itself sends as webhook.disabled fits its schema.
	p, err := WebhookDisabledPayload(store.DisabledWebhook{ID: "w1", Name: "n", URL: "https://x.io", Reason: "gone", DisabledAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if vs := c.ValidateData("webhook.disabled", p); vs != nil {
		t.Errorf("webhook.disabled payload %s: %v", p, vs)
	}
}

// TestDefaultSchemasArePermissive keeps the built-in schemas accepting
// what publishers send today: data of any shape, unknown fields, fields
// missing.
func TestDefaultSchemasArePermissive(t *testing.T) {
	c, _ := New()
	for _, tt := range []struct{ typ, data string }{
		{"message.new", `{}`},
		{"message.new", `1`},
		{"message.new", `null`},
		{"message.new", `{"n":1,"owner":"x"}`},
		{"message.new", `{"messageId":"test_123","content":"Hello World"}`},
		{"message.new", `{"messageId":"m","content":{"url":"https://x.io/a.png"},"type":"image","direction":"outbound"}`},
		{"conversation.created", `{"name":"Zoë","nested":{"deep":[{"a":null}]}}`},
		{"campaign.started", `"a bare string"`},
		{"campaign.started", `[1,"two",{"three":3}]`},
		{"campaign.completed", `{"rotated":true}`},
	} {
		if vs := c.ValidateData(tt.typ, json.RawMessage(tt.data)); vs != nil {
			t.Errorf("ValidateData(%s, %s) = %v, want nil", tt.typ, tt.data, vs)
		}
	}
}

func TestValidateData(t *testing.T) {
	entries, err := Parse([]byte(`{"types": {"order.paid": {
		"description": "An order was paid.",
		"schema": {"type": "object", "required": ["orderId", "contact"], "additionalProperties": false,
			"properties": {
				"orderId": {"type": "string"},
				"amount": {"type": "number", "minimum": 0},
				"contact": {"type": "object", "required": ["phone"], "properties": {"phone": {"type": "string", "pattern": "^\\+[0-9]+$"}, "a/b~c": {"type": "string"}}},
				"items": {"type": "array", "items": {"type": "integer"}},
				"at": {"type": "string", "format": "date-time"}
			}},
		"examples": [{"orderId": "o1", "contact": {"phone": "+331"}}]
	}}}`))
	if err != nil {
		t.Fatal(err)
	}
	c, err := build(entries, []string{"plain.type"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		data string
		want []Violation
	}{
		{`{"orderId":"o1","contact":{"phone":"+331"},"amount":3.5,"items":[1,2],"at":"2024-01-01T12:00:00Z"}`, nil},
		{`{"orderId":1,"contact":{"phone":"+331"}}`, []Violation{{"/orderId", "got number, want string"}}},
		{`{"orderId":"o1","contact":{}}`, []Violation{{"/contact/phone", "is required"}}},
		{`{}`, []Violation{{"/contact", "is required"}, {"/orderId", "is required"}}},
		{`[]`, []Violation{{"", "got array, want object"}}},
		{`{"orderId":"o1","contact":{"phone":"+331","a/b~c":1}}`, []Violation{{"/contact/a~1b~0c", "got number, want string"}}},
		{`{"orderId":"o1","contact":{"phone":"+331"},"items":[1,"x",3]}`, []Violation{{"/items/1", "got string, want integer"}}},
		{`{"orderId":"o1","contact":{"phone":"+331"},"at":"yesterday"}`, nil}, // checked below: a format violation
		{`{"orderId":"o1"`, []Violation{{"", "is not valid JSON"}}},
	} {
		got := c.ValidateData("order.paid", json.RawMessage(tt.data))
		if tt.data == `{"orderId":"o1","contact":{"phone":"+331"},"at":"yesterday"}` {
			if len(got) != 1 || got[0].Pointer != "/at" || !strings.Contains(got[0].Reason, "date-time") {
				t.Errorf("ValidateData(%s) = %v, want one date-time violation at /at", tt.data, got)
			}
			continue
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("ValidateData(%s) = %v, want %v", tt.data, got, tt.want)
		}
	}
	// Unknown fields, bad minimum, bad pattern: each named.
	got := c.ValidateData("order.paid", json.RawMessage(`{"orderId":"o1","contact":{"phone":"0033"},"amount":-1,"extra":true}`))
	var ptrs []string
	for _, v := range got {
		ptrs = append(ptrs, v.Pointer)
	}
	slices.Sort(ptrs)
	if want := []string{"", "/amount", "/contact/phone"}; !slices.Equal(ptrs, want) {
		t.Errorf("violations %v, want pointers %v", got, want)
	}
	// A type without a schema, or not in the catalogue, accepts anything.
	if vs := c.ValidateData("plain.type", json.RawMessage(`{`)); vs != nil {
		t.Errorf("plain.type: %v", vs)
	}
	if vs := c.ValidateData("no.such", json.RawMessage(`1`)); vs != nil {
		t.Errorf("no.such: %v", vs)
	}
	// Many violations are capped.
	many := `{"orderId":"o1","contact":{"phone":"+331"},"items":[` + strings.TrimSuffix(strings.Repeat(`"x",`, 1000), ",") + `]}`
	got = c.ValidateData("order.paid", json.RawMessage(many))
	if len(got) != MaxViolations {
		t.Fatalf("%d violations, want MaxViolations %d", len(got), MaxViolations)
	}
	for i, v := range got {
		if want := "/items/" + strconv.Itoa(i); v.Pointer != want {
			t.Errorf("violation %d at %s, want %s: the first ones, in order", i, v.Pointer, want)
		}
	}
}

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "catalog.json")
	file := `{"types": {
		"order.paid": {"description": "An order was paid.", "schema": {"type": "object", "required": ["orderId"]}, "examples": [{"orderId": "o1"}]},
		"message.new": {"description": "Replaced.", "examples": [{"any": "thing"}]},
		"order.created": {"description": "No schema.", "examples": [1]}
	}}`
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Open(path, "extra.one", "order.paid")
	if err != nil {
		t.Fatal(err)
	}
	want := append(slices.Clone(Default), "order.paid", "order.created", "extra.one")
	if got := c.Types(); !slices.Equal(got, want) {
		t.Errorf("Types() = %v, want %v", got, want)
	}
	if e := c.Entry("message.new"); e.Description != "Replaced." || e.Schema != nil {
		t.Errorf("message.new = %+v, want the file's entry, without a schema", e)
	}
	if vs := c.ValidateData("order.paid", json.RawMessage(`{}`)); len(vs) != 1 || vs[0].Pointer != "/orderId" {
		t.Errorf("order.paid {} = %v, want /orderId required", vs)
	}
	if e := c.Entry("extra.one"); e.Description != "" || e.Schema != nil || len(e.Examples) != 0 {
		t.Errorf("extra.one = %+v, want a bare type", e)
	}
}

func TestOpenRefusesBadFiles(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct{ name, file, want string }{
		{"not JSON", `{"types":`, "not a catalogue"},
		{"no types", `{}`, `"types" is required`},
		{"unknown top field", `{"types": {}, "version": 1}`, "unknown field"},
		{"bad name", `{"types": {"Order.Paid": {"examples": [1]}}}`, `type "Order.Paid"`},
		{"twice", `{"types": {"a.b": {"examples": [1]}, "a.b": {"examples": [1]}}}`, `type "a.b": given twice`},
		{"reserved", `{"types": {"webhook.disabled": {"examples": [1]}}}`, `type "webhook.disabled"`},
		{"unknown entry field", `{"types": {"a.b": {"examples": [1], "shema": {}}}}`, `type "a.b"`},
		{"no examples", `{"types": {"a.b": {"schema": {}}}}`, `type "a.b": examples`},
		{"schema not a schema", `{"types": {"a.b": {"schema": {"type": "thing"}, "examples": [1]}}}`, `type "a.b": schema`},
		{"schema a string", `{"types": {"a.b": {"schema": "object", "examples": [1]}}}`, `type "a.b": schema must be a JSON object`},
		{"bad regex", `{"types": {"a.b": {"schema": {"pattern": "("}, "examples": ["x"]}}}`, `type "a.b": schema`},
		{"remote ref", `{"types": {"a.b": {"schema": {"$ref": "https://example.com/s.json"}, "examples": [1]}}}`, `type "a.b": schema`},
		{"example breaks schema", `{"types": {"a.b": {"schema": {"type": "object", "required": ["id"]}, "examples": [{"id": "1"}, {}]}}}`, `type "a.b": examples[1] does not match the schema: /id: is required`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-")+".json")
			if err := os.WriteFile(path, []byte(tt.file), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Open(path)
			if err == nil {
				t.Fatalf("Open = nil error, want %q", tt.want)
			}
			t.Log(err)
			if msg := err.Error(); !strings.HasPrefix(msg, path+": ") || !strings.Contains(msg, tt.want) || strings.Contains(msg, "\n") {
				t.Errorf("Open = %q, want one line naming %s and %q", msg, path, tt.want)
			}
		})
	}
	if _, err := Open(filepath.Join(dir, "missing.json")); err == nil || !strings.Contains(err.Error(), "missing.json") {
		t.Errorf("Open(missing) = %v, want an error naming the file", err)
	}
}

// BenchmarkValidateData measures the check every publish of the quick
// start's message.new makes.
func BenchmarkValidateData(b *testing.B) {
	c, err := New()
	if err != nil {
		b.Fatal(err)
	}
	data := json.RawMessage(quickStartMessage)
	b.ReportAllocs()
	for b.Loop() {
		if vs := c.ValidateData("message.new", data); vs != nil {
			b.Fatal(vs)
		}
	}
}

// FuzzValidateData feeds arbitrary bytes as data of every default type
// and of a strict one: ValidateData never panics, and answers nil or
// violations whose pointers are JSON Pointers.
func FuzzValidateData(f *testing.F) {
	entries, err := Parse([]byte(`{"types": {"strict.type": {"schema": {"type": "object", "required": ["a"],
		"properties": {"a": {"type": "array", "items": {"type": "integer", "minimum": 0}, "uniqueItems": true}, "b": {"pattern": "^x+$"}},
		"additionalProperties": {"type": "string"}}, "examples": [{"a": [1]}]}}}`))
	if err != nil {
		f.Fatal(err)
	}
	c, err := build(entries, nil)
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{quickStartMessage, `{}`, `1`, `{"a":[1,1,-1],"b":"y","c":2}`, `{"messageId":5}`, `[[[[`, `{"a/b~c":{"x":1}}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, typ := range c.Types() {
			vs := c.ValidateData(typ, data)
			if len(vs) > MaxViolations {
				t.Fatalf("%s: %d violations, more than %d", typ, len(vs), MaxViolations)
			}
			for _, v := range vs {
				if v.Pointer != "" && !strings.HasPrefix(v.Pointer, "/") || v.Reason == "" {
					t.Fatalf("%s: violation %+v", typ, v)
				}
			}
		}
	})
}
