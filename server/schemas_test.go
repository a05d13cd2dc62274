package server_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/webhookd/webhookd/catalog"
	"github.com/webhookd/webhookd/server"
	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

// quickStartMessage is the quick start's message.new payload.
const quickStartMessage = `{"messageId":"msg_123","conversationId":"conv_456","contactId":"contact_789","direction":"inbound","type":"text","content":"Hello!","timestamp":"2024-01-01T12:00:00.000Z"}`

// withCatalogFile serves the catalogue --event-catalog would load from a
// file holding content.
func withCatalogFile(t testing.TB, content string, extra ...string) serverOption {
	t.Helper()
	path := filepath.Join(t.TempDir(), "catalog.json")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.Open(path, extra...)
	if err != nil {
		t.Fatalf("catalog.Open: %v", err)
	}
	return func(c *server.Config) { c.Catalog = cat }
}

// orderCatalog has a strict type: an object with a string orderId and a
// contact whose phone is required.
const orderCatalog = `{"types": {"order.paid": {
	"description": "An order was paid.",
	"schema": {"type": "object", "required": ["orderId", "contact"],
		"properties": {"orderId": {"type": "string"}, "amount": {"type": "number"},
			"contact": {"type": "object", "required": ["phone"], "properties": {"phone": {"type": "string"}}}}},
	"examples": [{"orderId": "o_1", "amount": 12.5, "contact": {"phone": "+33123456789"}}]
}}}`

func TestEventTypesDescribeEachType(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := newTestServer(t, st, withCatalogFile(t, orderCatalog, "custom.thing"))
		_, token := s.user(t, "a@example.com")
		resp := s.call(t, http.MethodGet, "/api/v1/event-types", token, nil, http.StatusOK, nil)
		var keys map[string]json.RawMessage
		decodeJSON(t, resp, &keys)
		if len(keys) != 2 || keys["data"] == nil || keys["types"] == nil {
			t.Errorf("keys of %s: want exactly data and types", resp.Body)
		}
		var got struct {
			Data  []string
			Types []struct {
				Name, Description string
				Schema            json.RawMessage
				Examples          []json.RawMessage
			}
		}
		decodeJSON(t, resp, &got)
		want := append(slices.Clone(catalog.Default), "order.paid", "custom.thing")
		if !slices.Equal(got.Data, want) {
			t.Errorf("data = %v, want %v", got.Data, want)
		}
		var names []string
		for _, ty := range got.Types {
			names = append(names, ty.Name)
		}
		if !slices.Equal(names, want) {
			t.Fatalf("types' names = %v, want data's order %v", names, want)
		}
		msg := got.Types[0]
		if msg.Description == "" || len(msg.Schema) == 0 || string(msg.Schema) == "null" || len(msg.Examples) == 0 || string(msg.Examples[0]) != quickStartMessage {
			t.Errorf("message.new = %+v, want a description, a schema and the quick start's payload as examples[0]", msg)
		}
		order := got.Types[len(got.Types)-2]
		if order.Description != "An order was paid." || len(order.Examples) != 1 || string(order.Examples[0]) != `{"orderId":"o_1","amount":12.5,"contact":{"phone":"+33123456789"}}` {
			t.Errorf("order.paid = %+v, want the file's entry", order)
		}
		bare := got.Types[len(got.Types)-1]
		if bare.Description != "" || string(bare.Schema) != "null" || bare.Examples == nil || len(bare.Examples) != 0 {
			t.Errorf("custom.thing = %+v, want no description, schema null, examples []", bare)
		}
	})
}

func TestPublishValidatesData(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := newTestServer(t, st, withCatalogFile(t, orderCatalog))
		_, token := s.user(t, "a@example.com")
		hook := s.hookTo(t, token, "https://example.com/hook", "*")

		t.Run("valid data is accepted", func(t *testing.T) {
			var res eventResult
			s.call(t, http.MethodPost, "/api/v1/events", token, rawBody(`{"event":"message.new","data":`+quickStartMessage+`}`), http.StatusAccepted, &res)
			s.call(t, http.MethodPost, "/api/v1/events", token, rawBody(`{"event":"order.paid","data":{"orderId":"o_2","contact":{"phone":"+1"}}}`), http.StatusAccepted, &res)
			if res.Deliveries != 1 {
				t.Errorf("deliveries = %d, want 1", res.Deliveries)
			}
		})

		t.Run("invalid data is refused naming each violation", func(t *testing.T) {
			before := s.pending(t, token, hook.ID)
			e := wantError(t, s.do(t, http.MethodPost, "/api/v1/events", token,
				rawBody(`{"event":"order.paid","data":{"orderId":7,"contact":{},"amount":"12"}}`)),
				http.StatusBadRequest, "data/orderId", "data/contact/phone", "data/amount")
			if m, _ := e.Detail("data/orderId"); m != "got number, want string" {
				t.Errorf("data/orderId: %q, want the validator's reason", m)
			}
			if m, _ := e.Detail("data/contact/phone"); m != "is required" {
				t.Errorf("data/contact/phone: %q, want is required", m)
			}
			wantError(t, s.do(t, http.MethodPost, "/api/v1/events", token, rawBody(`{"event":"order.paid","data":[1]}`)),
				http.StatusBadRequest, "data")
			e = wantError(t, s.do(t, http.MethodPost, "/api/v1/events", token,
				rawBody(`{"event":"message.new","data":{"messageId":123,"direction":"sideways"}}`)),
				http.StatusBadRequest, "data/messageId", "data/direction")
			if e.Message != "data/direction: value must be one of 'inbound', 'outbound' (and 1 more error in details)" {
				t.Errorf("message = %q", e.Message)
			}
			if after := s.pending(t, token, hook.ID); after != before {
				t.Errorf("pending %d after refused events, want %d", after, before)
			}
		})

		t.Run("a batch names the event", func(t *testing.T) {
			before := s.pending(t, token, hook.ID)
			wantError(t, s.do(t, http.MethodPost, "/api/v1/events/batch", token, rawBody(`{"events":[
				{"event":"message.new","data":{"messageId":"m1"}},
				{"event":"order.paid","data":{"orderId":"o_3","contact":{"phone":"+1"}}},
				{"event":"order.paid","data":{"orderId":"o_4","contact":{"phone":5}}}]}`)),
				http.StatusBadRequest, "events[2].data/contact/phone")
			if after := s.pending(t, token, hook.ID); after != before {
				t.Errorf("pending %d after a refused batch, want %d: none of it is published", after, before)
			}
		})

		t.Run("test sends check a given payload", func(t *testing.T) {
			rc := newReceiver(t)
			h := s.hookTo(t, token, rc.URL(), "*")
			wantError(t, s.do(t, http.MethodPost, "/api/v1/webhooks/"+h.ID+"/test", token,
				map[string]any{"eventType": "order.paid", "payload": map[string]any{"orderId": 1}}),
				http.StatusBadRequest, "payload/orderId", "payload/contact")
			if res := s.sendTest(t, token, h.ID, "order.paid", json.RawMessage(`{"orderId":"o_1","contact":{"phone":"+1"}}`)); !res.Success {
				t.Errorf("valid test send: %+v", res)
			}
			// Without a payload, {} is sent whatever the schema says.
			var res testResult
			s.call(t, http.MethodPost, "/api/v1/webhooks/"+h.ID+"/test", token, map[string]any{"eventType": "order.paid"}, http.StatusOK, &res)
			if !res.Success {
				t.Errorf("test send without payload: %+v", res)
			}
		})
	})
}

func TestPublishWithoutValidation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := newTestServer(t, st, withCatalogFile(t, orderCatalog), func(c *server.Config) { c.SkipEventValidation = true })
		_, token := s.user(t, "a@example.com")
		s.hookTo(t, token, "https://example.com/hook", "*")
		var res eventResult
		s.call(t, http.MethodPost, "/api/v1/events", token, rawBody(`{"event":"order.paid","data":{"orderId":7}}`), http.StatusAccepted, &res)
		if res.Deliveries != 1 {
			t.Errorf("deliveries = %d, want 1", res.Deliveries)
		}
		var batch struct{ Data []eventResult }
		s.call(t, http.MethodPost, "/api/v1/events/batch", token, rawBody(`{"events":[{"event":"message.new","data":{"messageId":1}}]}`), http.StatusAccepted, &batch)
		// Data that is not JSON is still refused: that is not the schema's.
		wantError(t, s.do(t, http.MethodPost, "/api/v1/events", token, rawBody(`{"event":"order.paid","data":{`)), http.StatusBadRequest)
	})
}
