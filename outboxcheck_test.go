package main

import (
	"strings"
	"testing"

	"github.com/webhookd/webhookd/catalog"
	"github.com/webhookd/webhookd/server"
	"github.com/webhookd/webhookd/store"
)

// TestOutboxCheck: the consumer refuses what POST /api/v1/events refuses,
// through the same server.CheckEvent, naming the column.
func TestOutboxCheck(t *testing.T) {
	cat, err := catalog.New("contact.created")
	if err != nil {
		t.Fatal(err)
	}
	check := outboxCheck(cat, true)
	str := func(s string) *string { return &s }
	long := make([]byte, server.MaxEventDataBytes+1)
	for i := range long {
		long[i] = '1'
	}
	for _, c := range []struct {
		name string
		row  store.OutboxRow
		want string // "" for a good row
	}{
		{"good", store.OutboxRow{Event: str("message.new"), Data: []byte(`{"a":1}`)}, ""},
		{"extra type", store.OutboxRow{Event: str("contact.created"), Data: []byte(`null`), IdempotencyKey: str("k")}, ""},
		{"no event", store.OutboxRow{Data: []byte(`{}`)}, "event is required"},
		{"unknown event", store.OutboxRow{Event: str("nope"), Data: []byte(`{}`)}, "event is not an event type in the catalogue"},
		{"reserved", store.OutboxRow{Event: str("webhook.disabled"), Data: []byte(`{}`)}, "webhook.disabled is published by webhookd itself"},
		{"no data", store.OutboxRow{Event: str("message.new")}, "data is required"},
		{"too large", store.OutboxRow{Event: str("message.new"), Data: long}, "data is larger than"},
		{"empty key", store.OutboxRow{Event: str("message.new"), Data: []byte(`1`), IdempotencyKey: str("")}, "idempotency_key must not be empty"},
		{"both", store.OutboxRow{}, "event is required: an event type from GET /api/v1/event-types; data is required"},
		// The type's schema, as the route checks it (issue 16).
		{"schema", store.OutboxRow{Event: str("message.new"), Data: []byte(`{"direction":"sideways"}`)}, "data/direction "},
	} {
		got := check(c.row)
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("%s: reason %q, want %q", c.name, got, c.want)
		}
	}
}

// TestOutboxCheckWithoutValidation: --validate-events=false lets the
// consumer take data its type's schema refuses, as the route does.
func TestOutboxCheckWithoutValidation(t *testing.T) {
	cat, err := catalog.New()
	if err != nil {
		t.Fatal(err)
	}
	ev := "message.new"
	row := store.OutboxRow{Event: &ev, Data: []byte(`{"direction":"sideways"}`)}
	if got := outboxCheck(cat, true)(row); !strings.Contains(got, "data/direction") {
		t.Errorf("with validation: reason %q, want it to name data/direction", got)
	}
	if got := outboxCheck(cat, false)(row); got != "" {
		t.Errorf("without validation: reason %q, want none", got)
	}
}
