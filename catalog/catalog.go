// Package catalog knows the event types webhooks can subscribe to, what
// each one's data looks like (a description, examples and a JSON Schema
// that publishing checks data against: ValidateData), and which
// subscription patterns a webhook may hold.
//
// A pattern is a catalogue name ("message.new"), "*" for every type, or a
// prefix wildcard ("message.*") that matches every type under that prefix.
// What a pattern selects is store.MatchPattern: the store runs it when it
// fans an event out.
package catalog

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/webhookd/webhookd/internal/wire"
	"github.com/webhookd/webhookd/store"
)

// Default is the built-in catalogue.
var Default = []string{
	"message.new",
	"conversation.created",
	"conversation.assigned",
	"campaign.started",
	"campaign.completed",
	// Published by webhookd itself when it disables a failing webhook.
	"webhook.disabled",
}

// Reserved are the types webhookd publishes itself. Receivers trust them
// to come from webhookd, so no request may make one: neither publishing
// nor a test send.
var Reserved = []string{"webhook.disabled"}

// IsReserved reports whether t is one of the Reserved types.
func IsReserved(t string) bool { return slices.Contains(Reserved, t) }

// MaxTypeLength bounds an event type name.
const MaxTypeLength = 128

// Catalog is an ordered set of known event types, each with what
// GET /api/v1/event-types tells about it: a description, examples of its
// data and, optionally, a JSON Schema that publishing checks data against.
// A Catalog is not changed after it is built, so any number of requests
// may use it at once.
type Catalog struct {
	types   []string
	entries map[string]*Entry
}

// New builds a catalogue from the defaults plus extra types, ignoring
// duplicates and blanks. It rejects a type that is not a valid name.
func New(extra ...string) (*Catalog, error) {
	return build(nil, extra)
}

// build makes a catalogue of the defaults, then the file's types (a file
// entry for a default type replaces it in place), then the extra types
// not already in it, with neither schema nor examples.
func build(file []*Entry, extra []string) (*Catalog, error) {
	c := &Catalog{entries: make(map[string]*Entry)}
	add := func(e *Entry) {
		if _, ok := c.entries[e.Name]; !ok {
			c.types = append(c.types, e.Name)
		}
		c.entries[e.Name] = e
	}
	for _, e := range defaultEntries {
		add(e)
	}
	for _, e := range file {
		add(e)
	}
	for _, t := range extra {
		t = strings.TrimSpace(t)
		if t == "" || c.entries[t] != nil {
			continue
		}
		if err := validName(t); err != nil {
			return nil, fmt.Errorf("catalog: event type %q: %w", t, err)
		}
		add(&Entry{Name: t})
	}
	return c, nil
}

// validName accepts dot-separated segments of lowercase letters, digits, '_'
// and '-', so that "*" and wildcard patterns can never be type names.
func validName(t string) error {
	if len(t) > MaxTypeLength {
		return fmt.Errorf("longer than %d characters", MaxTypeLength)
	}
	for _, seg := range strings.Split(t, ".") {
		if seg == "" {
			return fmt.Errorf("empty segment")
		}
		for _, r := range seg {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
				return fmt.Errorf("character %q not allowed (use a-z, 0-9, '_', '-' and '.')", r)
			}
		}
	}
	return nil
}

// Types returns the catalogue's event types in order.
func (c *Catalog) Types() []string { return slices.Clone(c.types) }

// Has reports whether t is in the catalogue.
func (c *Catalog) Has(t string) bool { return c.entries[t] != nil }

// Entries returns the catalogue's entries in order. They are shared: the
// caller must not change them.
func (c *Catalog) Entries() []*Entry {
	out := make([]*Entry, len(c.types))
	for i, t := range c.types {
		out[i] = c.entries[t]
	}
	return out
}

// Entry returns the entry of type t, or nil when t is not in the
// catalogue. It is shared: the caller must not change it.
func (c *Catalog) Entry(t string) *Entry { return c.entries[t] }

// ValidatePattern checks a subscription pattern: a catalogue name, "*", or
// "prefix.*" where some catalogue type starts with "prefix.".
func (c *Catalog) ValidatePattern(p string) error {
	switch {
	case p == "*":
		return nil
	case strings.HasSuffix(p, ".*"):
		prefix := strings.TrimSuffix(p, "*")
		if strings.Contains(strings.TrimSuffix(prefix, "."), "*") {
			return fmt.Errorf("%q: only one trailing wildcard is allowed", p)
		}
		for _, t := range c.types {
			if strings.HasPrefix(t, prefix) {
				return nil
			}
		}
		return fmt.Errorf("%q matches no event type in the catalogue", p)
	case c.Has(p):
		return nil
	default:
		return fmt.Errorf("%q is not an event type in the catalogue (see GET /api/v1/event-types)", p)
	}
}

// WebhookDisabledPayload encodes the payload of the webhook.disabled event
// the store publishes when it disables d: camelCase fields, the time in
// wire.TimeLayout. The store takes it through store.WithDisabledPayload,
// so that it builds no wire JSON itself.
func WebhookDisabledPayload(d store.DisabledWebhook) ([]byte, error) {
	// A map, not a struct: its keys encode sorted, the order receivers
	// have always been sent.
	b, err := json.Marshal(map[string]string{
		"webhookId": d.ID, "name": d.Name, "url": d.URL, "reason": d.Reason, "disabledAt": d.DisabledAt.Format(wire.TimeLayout),
	})
	if err != nil {
		return nil, fmt.Errorf("catalog: encode webhook.disabled: %w", err)
	}
	return b, nil
}
