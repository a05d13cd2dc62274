package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/webhookd/webhookd/catalog"
	"github.com/webhookd/webhookd/delivery"
)

// wantClientError requires err to be the *Error a caller is shown, with a
// 4xx status, a message, and a named field in every detail.
func wantClientError(t *testing.T, err error) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *Error: it would be answered as a 500", err, err)
	}
	if e.Status < 400 || e.Status > 499 {
		t.Fatalf("status %d for %q, want a 4xx", e.Status, e.Message)
	}
	if e.Message == "" || !utf8.ValidString(e.Message) {
		t.Fatalf("message %q is empty or not UTF-8", e.Message)
	}
	for _, d := range e.Details {
		if d.Field == "" || d.Message == "" {
			t.Fatalf("detail %+v lacks a field or a message", d)
		}
	}
}

// storable reports whether s is text both databases keep as given.
func storable(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

// FuzzDecodeWebhookRequest feeds arbitrary bodies through the create and
// update decoding and validation: they never panic, every refusal is a
// 4xx *Error, and whatever is accepted is something the store can hold and
// the sender can send.
func FuzzDecodeWebhookRequest(f *testing.F) {
	for _, seed := range []string{
		`{"name":"My First Webhook","url":"https://webhook.site/your-unique-id","events":["message.new","conversation.created"]}`,
		`{"name":"h","url":"http://example.com/x?y=1","events":["*"],"secret":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw","description":"d","isActive":false}`,
		`{"name":"h","url":"https://example.com","events":["message.*"],"headers":{"X-Tenant":"acme","Authorization":"Bearer x"},"rateLimit":10,"timeoutSeconds":5}`,
		`{"headers":{"X-A":"b\r\nX-C: d"}}`,
		`{"headers":{"X-Webhook-Signature":"forged"}}`,
		`{"rateLimit":1e400,"timeoutSeconds":-1}`,
		`{"name":"\u0000","url":"javascript:alert(1)","events":[]}`,
		`{"name":"'; DROP TABLE webhooks;--","events":["message.new' OR 1=1"]}`,
		`{"events":"message.new"}`,
		`{"events":[1,2,3]}`,
		`{"unknown":true}`,
		`{"name":"a"} {"name":"b"}`,
		`[[[[[[[[[[]]]]]]]]]]`,
		`null`,
		`"\ud800"`,
		"{\"name\":\"\xff\"}",
		``,
	} {
		f.Add([]byte(seed))
	}
	cat, err := catalog.New()
	if err != nil {
		f.Fatal(err)
	}
	s := &Server{catalog: cat, reservedHeader: delivery.ReservedHeader}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req webhookCreateRequest
		if err := decodeBytes(body, &req); err != nil {
			wantClientError(t, err)
			return
		}
		for _, create := range []bool{true, false} {
			p, err := s.validateWebhook(context.Background(), req, create)
			if err != nil {
				wantClientError(t, err)
				continue
			}
			if create && (p.Name == nil || p.URL == nil || p.Events == nil) {
				t.Fatalf("create accepted %s without name, url or events", body)
			}
			if p.Name != nil {
				if n := utf8.RuneCountInString(*p.Name); n < 1 || n > maxNameLength || hasControl(*p.Name) || !storable(*p.Name) {
					t.Fatalf("accepted name %q", *p.Name)
				}
			}
			if p.URL != nil {
				u, err := url.Parse(*p.URL)
				if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || !storable(*p.URL) {
					t.Fatalf("accepted url %q (%v)", *p.URL, err)
				}
			}
			if p.Events != nil {
				if len(*p.Events) == 0 || len(*p.Events) > maxEventPatterns {
					t.Fatalf("accepted %d event patterns", len(*p.Events))
				}
				seen := map[string]bool{}
				for _, e := range *p.Events {
					if err := cat.ValidatePattern(e); err != nil || seen[e] {
						t.Fatalf("accepted event pattern %q (duplicate %v, %v)", e, seen[e], err)
					}
					seen[e] = true
				}
			}
			if p.Secret != nil && validateSecret(*p.Secret) != "" {
				t.Fatalf("accepted secret %q", *p.Secret)
			}
			if p.Description != nil && !storable(*p.Description) {
				t.Fatalf("accepted description %q", *p.Description)
			}
			if p.Headers != nil {
				if len(*p.Headers) > maxHeaders {
					t.Fatalf("accepted %d headers", len(*p.Headers))
				}
				for name, value := range *p.Headers {
					// Whatever is accepted must be sendable as written:
					// no header splitting, none of webhookd's own.
					if name == "" || delivery.ReservedHeader(name) || strings.ContainsAny(value, "\r\n\x00") ||
						strings.ContainsFunc(name, func(r rune) bool { return !isTokenChar(r) }) {
						t.Fatalf("accepted header %q: %q", name, value)
					}
				}
			}
			if p.RateLimit != nil && (*p.RateLimit < 0 || *p.RateLimit > maxRateLimit) {
				t.Fatalf("accepted rateLimit %d", *p.RateLimit)
			}
			if p.TimeoutSeconds != nil && (*p.TimeoutSeconds < 0 || *p.TimeoutSeconds > maxTimeoutSeconds) {
				t.Fatalf("accepted timeoutSeconds %d", *p.TimeoutSeconds)
			}
		}
	})
}

// FuzzCursor checks the cursor codec and the page parameters around it:
// nothing panics, anything decodeCursor accepts is a UUID, every UUID
// survives a round trip, and a refused limit or cursor is a 400 naming it.
func FuzzCursor(f *testing.F) {
	id := uuid.Must(uuid.NewV7())
	f.Add(encodeCursor(id.String()), "50", id[:])
	f.Add(base64.RawURLEncoding.EncodeToString([]byte("v1:"+id.String()+"' OR 1=1")), "-1", []byte{})
	f.Add(base64.RawURLEncoding.EncodeToString([]byte("v2:"+id.String())), "101", make([]byte, 16))
	f.Add(base64.RawURLEncoding.EncodeToString([]byte("v1:"+strings.ToUpper(id.String()))), "1e2", []byte("0123456789abcdef"))
	f.Add(id.String(), "99999999999999999999", []byte("short"))
	f.Add("", "", []byte(nil))
	f.Add("!!!", "1", []byte("\x00"))
	f.Fuzz(func(t *testing.T, cursor, limit string, raw []byte) {
		if got, ok := decodeCursor(cursor); ok {
			if u, err := uuid.Parse(got); err != nil || len(got) != 36 || !validID(got) {
				t.Fatalf("decodeCursor(%q) accepted %q, which is not a UUID (%v)", cursor, got, err)
			} else if u.String() != strings.ToLower(got) {
				t.Fatalf("decodeCursor(%q) = %q, which parses as %s", cursor, got, u)
			}
			if again, ok := decodeCursor(encodeCursor(got)); !ok || again != got {
				t.Fatalf("decodeCursor(encodeCursor(%q)) = %q, %v", got, again, ok)
			}
		}
		if len(raw) == 16 {
			id := uuid.UUID(raw).String()
			if got, ok := decodeCursor(encodeCursor(id)); !ok || got != id {
				t.Fatalf("decodeCursor(encodeCursor(%q)) = %q, %v; want the id back", id, got, ok)
			}
		}

		q := url.Values{"cursor": {cursor}, "limit": {limit}}
		r := httptest.NewRequest(http.MethodGet, "/api/v1/webhooks?"+q.Encode(), nil)
		p, err := pageParams(r, 50, 100)
		if err != nil {
			wantClientError(t, err)
			var e *Error
			errors.As(err, &e)
			if e.Status != http.StatusBadRequest || len(e.Details) != 1 || (e.Details[0].Field != "limit" && e.Details[0].Field != "cursor") {
				t.Fatalf("pageParams(limit %q, cursor %q) refused with %+v, want a 400 naming limit or cursor", limit, cursor, e)
			}
			return
		}
		if p.Limit < 1 || p.Limit > 100 || (p.Before != "" && !validID(p.Before)) {
			t.Fatalf("pageParams(limit %q, cursor %q) = %+v", limit, cursor, p)
		}
	})
}

// FuzzDecodeEvent feeds arbitrary bodies through the publish and test-send
// decoding, compaction and field checks: nothing panics, refusals are 4xx
// *Errors, and accepted data compacts to valid JSON no longer than it came.
func FuzzDecodeEvent(f *testing.F) {
	for _, seed := range []string{
		`{"event":"message.new","data":{"messageId":"m1","text":"hello"}}`,
		`{"event":"message.new","data":[1,2.5e10,"x",null,true],"timestamp":"2024-01-01T12:00:00.000Z","idempotencyKey":"order-1"}`,
		`{"event":"campaign.completed","data":"\u003c\u0026\u003e \ud83d\ude00"}`,
		`{"event":"message.new","data":null}`,
		`{"event":"message.new","data":   {  "a" : [ 1 , 2 ] }  }`,
		`{"event":"nope","timestamp":"yesterday","idempotencyKey":""}`,
		`{"event":"message.new","data":1,"idempotencyKey":"k\u0000"}`,
		`{"eventType":"message.new","payload":{"a":1}}`,
		`{"event":5}`,
		`{"data":{"a":{"a":{"a":{"a":{}}}}}}`,
		`{"data":1}garbage`,
		"{\"data\":\"\xc3\x28\"}",
		`{"event":"message.new","data":1e999}`,
		`{"event":"message.new","data":-0.0000000000000000000000001}`,
		`{"events":[{"event":"message.new","data":1},{"event":"x","bogus":2},[1],null,"s"]}`,
		`{"events":[{"event":"message.new","data":{"a":1},"idempotencyKey":"k1"}]}`,
	} {
		f.Add([]byte(seed))
	}
	cat, err := catalog.New()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req eventPublishRequest
		if err := decodeBytes(body, &req); err != nil {
			wantClientError(t, err)
		} else {
			if req.Event != nil {
				_ = cat.Has(*req.Event)
			}
			if req.Data != nil {
				wantCompact(t, req.Data)
			}
			if req.Timestamp != nil {
				_, _ = time.Parse(time.RFC3339Nano, *req.Timestamp)
			}
			if req.IdempotencyKey != nil && validateIdempotencyKey(*req.IdempotencyKey) == "" {
				k := *req.IdempotencyKey
				if k == "" || len(k) > maxIdempotencyKeyLength || !storable(k) || strings.ContainsFunc(k, func(r rune) bool { return r < ' ' }) {
					t.Fatalf("accepted idempotency key %q", k)
				}
			}
		}
		// The same body as a batch: every event that does not decode is
		// named by its place, with a message.
		var batch eventBatchRequest
		if err := decodeBytes(body, &batch); err != nil {
			wantClientError(t, err)
		} else {
			for i, raw := range batch.Events {
				var ev eventPublishRequest
				if err := decodeBytes(raw, &ev); err != nil {
					place := fmt.Sprintf("events[%d]", i)
					for _, d := range prefixed(err, place+".") {
						if !strings.HasPrefix(d.Field, place) || d.Message == "" || !utf8.ValidString(d.Message) {
							t.Fatalf("batch event %d: detail %+v does not name its place with a message", i, d)
						}
					}
				}
			}
		}
		var test testRequest
		if err := decodeBytes(body, &test); err != nil {
			wantClientError(t, err)
		} else if test.Payload != nil {
			wantCompact(t, test.Payload)
		}
	})
}

// wantCompact requires decoded raw JSON to compact without error into
// valid JSON no longer than it was.
func wantCompact(t *testing.T, raw json.RawMessage) {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		t.Fatalf("json.Compact(%q) after a successful decode: %v", raw, err)
	}
	if !json.Valid(buf.Bytes()) || buf.Len() > len(raw) {
		t.Fatalf("json.Compact(%q) = %q", raw, buf.Bytes())
	}
}
