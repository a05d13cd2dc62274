package server_test

import (
	"encoding/base64"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/webhookd/webhookd/server"
	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

// seedTestBody is the seed's test curl's body, byte for byte.
const seedTestBody = `{
    "eventType": "message.new",
    "payload": {
      "messageId": "test_123",
      "content": "Hello World"
    }
  }`

var envelopeRE = regexp.MustCompile(`^\{"event":"message\.new","timestamp":"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)","data":\{"messageId":"test_123","content":"Hello World"\}\}$`)

func TestWebhookTestSend(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := newTestServer(t, st)
		_, token := s.user(t, "a@example.com")
		rc := newReceiver(t)
		generated := s.hookTo(t, token, rc.URL(), "message.new")
		plain := s.createWebhook(t, token, map[string]any{"name": "plain", "url": rc.URL(), "events": []string{"*"}, "secret": "your-webhook-secret"})

		for _, hook := range []webhookJSON{generated, plain} {
			t.Run("seed test send with secret "+hook.Secret[:5], func(t *testing.T) {
				n := len(rc.requests())
				var res testResult
				resp := s.call(t, http.MethodPost, "/api/v1/webhooks/"+hook.ID+"/test", token, rawBody(seedTestBody), http.StatusOK, &res)
				var fields map[string]any
				decodeJSON(t, resp, &fields)
				for _, k := range []string{"success", "statusCode", "responseTimeMs", "responseBody", "error", "logId"} {
					if _, ok := fields[k]; !ok {
						t.Errorf("test answer lacks %q: %s", k, resp.Body)
					}
				}
				if !res.Success || res.StatusCode == nil || *res.StatusCode != 200 || res.Error != nil || res.LogID == "" ||
					res.ResponseBody == nil || *res.ResponseBody != "answer 200" || res.ResponseTimeMs < 0 {
					t.Errorf("test answer = %s, want success with 200, the receiver's body and a log id", resp.Body)
				}

				reqs := rc.requests()
				if len(reqs) != n+1 {
					t.Fatalf("receiver got %d requests, want 1", len(reqs)-n)
				}
				got := reqs[n]
				if got.Method != http.MethodPost {
					t.Errorf("method = %s, want POST", got.Method)
				}
				m := envelopeRE.FindSubmatch(got.Body)
				if m == nil {
					t.Fatalf("body = %s, want the seed's envelope {\"event\",\"timestamp\",\"data\"}", got.Body)
				}
				stamped := string(m[1])
				wantRecent(t, "envelope timestamp", &stamped)
				h := got.Header
				for name, want := range map[string]string{
					"Content-Type":        "application/json",
					"User-Agent":          "webhookd/test",
					"X-Webhook-Event":     "message.new",
					"X-Webhook-Signature": seedSignature(hook.Secret, got.Body),
				} {
					if h.Get(name) != want {
						t.Errorf("%s = %q, want %q", name, h.Get(name), want)
					}
				}
				id := h.Get("X-Webhook-Id")
				if id == "" || h.Get("webhook-id") != id {
					t.Errorf("X-Webhook-Id = %q, webhook-id = %q: want the same non-empty id", id, h.Get("webhook-id"))
				}
				stamp := h.Get("webhook-timestamp")
				sec, err := strconv.ParseInt(stamp, 10, 64)
				if err != nil || math.Abs(time.Since(time.Unix(sec, 0)).Seconds()) > 600 {
					t.Errorf("webhook-timestamp = %q, want Unix seconds near now", stamp)
				}
				if want := standardSignature(t, hook.Secret, h.Get("webhook-id"), stamp, got.Body); !slices.Contains(strings.Fields(h.Get("webhook-signature")), want) {
					t.Errorf("webhook-signature = %q, want it to contain %q", h.Get("webhook-signature"), want)
				}

				var logs page[logJSON]
				s.call(t, http.MethodGet, "/api/v1/webhooks/"+hook.ID+"/logs", token, nil, http.StatusOK, &logs)
				if len(logs.Data) == 0 || logs.Data[0].ID != res.LogID {
					t.Fatalf("logs = %+v, want the test send %s first", logs.Data, res.LogID)
				}
				l := logs.Data[0]
				if !l.Test || l.Status != store.AttemptSuccess || l.StatusCode == nil || *l.StatusCode != 200 ||
					l.EventType != "message.new" || l.WebhookID != hook.ID || l.Attempt != 1 || l.DeliveryID != id || l.EventID == "" {
					t.Errorf("log = %+v, want a successful test attempt of message.new with delivery id %s", l, id)
				}
				if l.RequestBody != nil || l.RequestHeaders != nil {
					t.Errorf("list entry carries the request (%v, %v); only the single entry should", l.RequestHeaders, l.RequestBody)
				}
				wantRecent(t, "createdAt", &l.CreatedAt)

				var full logJSON
				s.call(t, http.MethodGet, "/api/v1/webhooks/"+hook.ID+"/logs/"+res.LogID, token, nil, http.StatusOK, &full)
				if full.RequestBody == nil || *full.RequestBody != string(got.Body) {
					t.Errorf("requestBody = %v, want what the receiver got: %s", full.RequestBody, got.Body)
				}
				for _, name := range []string{"X-Webhook-Signature", "X-Webhook-Event", "X-Webhook-Id", "webhook-id", "webhook-timestamp", "webhook-signature"} {
					if v := full.RequestHeaders[name]; v != h.Get(name) {
						t.Errorf("requestHeaders[%s] = %q, want what was sent: %q", name, v, h.Get(name))
					}
				}
				if full.ResponseBody == nil || *full.ResponseBody != "answer 200" || !full.Test || full.ID != res.LogID {
					t.Errorf("log entry = %+v, want the test send with the receiver's answer", full)
				}
			})
		}

		t.Run("empty body sends a test event", func(t *testing.T) {
			n := len(rc.requests())
			var res testResult
			s.call(t, http.MethodPost, "/api/v1/webhooks/"+plain.ID+"/test", token, nil, http.StatusOK, &res)
			reqs := rc.requests()
			if !res.Success || len(reqs) != n+1 {
				t.Fatalf("test send without a body: %+v, receiver got %d requests", res, len(reqs)-n)
			}
			if ev := reqs[n].Header.Get("X-Webhook-Event"); ev != server.TestEventType {
				t.Errorf("X-Webhook-Event = %q, want %q", ev, server.TestEventType)
			}
			if !strings.HasSuffix(string(reqs[n].Body), `"data":{}}`) {
				t.Errorf("body = %s, want empty data", reqs[n].Body)
			}
		})

		t.Run("receiver answers 500", func(t *testing.T) {
			res := s.sendTest(t, token, plain.ID, "message.new", map[string]int{"respond": 500})
			if res.Success || res.StatusCode == nil || *res.StatusCode != 500 || res.Error == nil || !strings.Contains(*res.Error, "500") {
				t.Errorf("answer = %+v, want failure with statusCode 500 and an error naming it", res)
			}
			if res.ResponseBody == nil || *res.ResponseBody != "answer 500" {
				t.Errorf("responseBody = %v, want the receiver's answer", res.ResponseBody)
			}
			var l logJSON
			s.call(t, http.MethodGet, "/api/v1/webhooks/"+plain.ID+"/logs/"+res.LogID, token, nil, http.StatusOK, &l)
			if l.Status != store.AttemptFailed || !l.Test || l.StatusCode == nil || *l.StatusCode != 500 {
				t.Errorf("log = %+v, want a failed test attempt with 500", l)
			}
		})

		t.Run("redirects are not followed", func(t *testing.T) {
			n := len(rc.requests())
			res := s.sendTest(t, token, plain.ID, "message.new", map[string]int{"respond": 302})
			if res.Success || res.StatusCode == nil || *res.StatusCode != 302 || res.Error == nil || !strings.Contains(*res.Error, "redirect") {
				t.Errorf("answer = %+v, want a failure with 302 and an error saying the redirect was not followed", res)
			}
			if got := len(rc.requests()); got != n+1 {
				t.Errorf("receiver got %d requests, want 1", got-n)
			}
		})

		t.Run("a Location header that is not UTF-8", func(t *testing.T) {
			// A receiver controls the Location header and may put any byte
			// in it; the attempt must still be recorded.
			hostile := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Location", "http://example.com/\xff")
				w.WriteHeader(http.StatusFound)
			}))
			t.Cleanup(hostile.Close)
			hook := s.hookTo(t, token, hostile.URL, "*")
			res := s.sendTest(t, token, hook.ID, "message.new", map[string]int{})
			if res.Success || res.StatusCode == nil || *res.StatusCode != http.StatusFound {
				t.Errorf("answer = %+v, want a failure with 302", res)
			}
			s.call(t, http.MethodGet, "/api/v1/webhooks/"+hook.ID+"/logs/"+res.LogID, token, nil, http.StatusOK, nil)
		})

		t.Run("an answer that is not UTF-8", func(t *testing.T) {
			binary := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = w.Write([]byte{0xff, 'o', 'k'})
			}))
			t.Cleanup(binary.Close)
			hook := s.hookTo(t, token, binary.URL, "*")
			res := s.sendTest(t, token, hook.ID, "message.new", map[string]int{})
			if !res.Success || res.ResponseBody == nil || *res.ResponseBody != "\uFFFDok" {
				t.Errorf("answer = %+v, want success with the body's bad byte replaced", res)
			}
			var l logJSON
			s.call(t, http.MethodGet, "/api/v1/webhooks/"+hook.ID+"/logs/"+res.LogID, token, nil, http.StatusOK, &l)
			if l.ResponseBody == nil || *l.ResponseBody != "\uFFFDok" {
				t.Errorf("logged responseBody = %v, want the body with its bad byte replaced", l.ResponseBody)
			}
		})

		t.Run("long answers are cut to 16 KiB", func(t *testing.T) {
			res := s.sendTest(t, token, plain.ID, "message.new", map[string]int{"bodyBytes": 20 << 10})
			if !res.Success || res.ResponseBody == nil || *res.ResponseBody != strings.Repeat("r", 16<<10) {
				n := -1
				if res.ResponseBody != nil {
					n = len(*res.ResponseBody)
				}
				t.Errorf("success %v, responseBody of %d bytes; want success and the first 16384 bytes", res.Success, n)
			}
		})

		t.Run("unreachable receiver", func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := ln.Addr().String()
			ln.Close() // nothing listens there now: the connection is refused
			dead := s.hookTo(t, token, "http://"+addr+"/hook", "*")
			res := s.sendTest(t, token, dead.ID, "message.new", map[string]int{})
			if res.Success || res.StatusCode != nil || res.Error == nil || res.LogID == "" {
				t.Fatalf("answer = %+v, want failure without a status code, with an error and a log id", res)
			}
			if !strings.Contains(strings.ToLower(*res.Error), "refused") {
				t.Errorf("error = %q, want it to say the connection was refused", *res.Error)
			}
			var l logJSON
			s.call(t, http.MethodGet, "/api/v1/webhooks/"+dead.ID+"/logs/"+res.LogID, token, nil, http.StatusOK, &l)
			if l.Status != store.AttemptFailed || l.Error == nil || *l.Error != *res.Error || l.StatusCode != nil || l.ResponseBody != nil {
				t.Errorf("log = %+v, want the failed attempt with its error", l)
			}
		})

		t.Run("bad test requests", func(t *testing.T) {
			n := len(rc.requests())
			path := "/api/v1/webhooks/" + plain.ID + "/test"
			wantError(t, s.do(t, http.MethodPost, path, token, map[string]any{"eventType": "nope.thing", "payload": 1}), http.StatusBadRequest, "eventType")
			wantError(t, s.do(t, http.MethodPost, path, token, map[string]any{"eventType": 5}), http.StatusBadRequest, "eventType")
			wantError(t, s.do(t, http.MethodPost, path, token, map[string]any{"event": "message.new"}), http.StatusBadRequest, "event")
			wantError(t, s.do(t, http.MethodPost, path, token, rawBody(`{"payload":`)), http.StatusBadRequest)
			wantError(t, s.do(t, http.MethodPost, path, token, rawBody(`{"payload":"`+strings.Repeat("x", server.MaxEventDataBytes)+`"}`)),
				http.StatusRequestEntityTooLarge)
			if got := len(rc.requests()); got != n {
				t.Errorf("rejected test requests reached the receiver %d times", got-n)
			}
		})
	})
}

func TestLogs(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := newTestServer(t, st)
		_, token := s.user(t, "a@example.com")
		rc := newReceiver(t)
		hook := s.hookTo(t, token, rc.URL(), "*")
		other := s.hookTo(t, token, rc.URL(), "*")
		base := "/api/v1/webhooks/" + hook.ID + "/logs"

		empty := page[logJSON]{}
		s.call(t, http.MethodGet, base, token, nil, http.StatusOK, &empty)
		if empty.Data == nil || len(empty.Data) != 0 || empty.NextCursor != nil {
			t.Errorf("logs of a new webhook = %+v, want an empty data array", empty)
		}

		sends := []struct {
			event  string
			status int
		}{
			{"message.new", 200}, {"conversation.created", 500}, {"message.new", 404},
			{"campaign.started", 200}, {"message.new", 200}, {"conversation.created", 503}, {"message.new", 201},
		}
		var sent []string
		for _, sd := range sends {
			res := s.sendTest(t, token, hook.ID, sd.event, map[string]int{"respond": sd.status})
			sent = append(sent, res.LogID)
		}
		s.sendTest(t, token, other.ID, "message.new", map[string]int{}) // another webhook's log stays out
		newestFirst := slices.Clone(sent)
		slices.Reverse(newestFirst)

		var all page[logJSON]
		s.call(t, http.MethodGet, base, token, nil, http.StatusOK, &all)
		if got := logIDs(all.Data); !slices.Equal(got, newestFirst) || all.NextCursor != nil {
			t.Fatalf("logs = %v (next %v), want %v newest first", got, all.NextCursor, newestFirst)
		}
		for i := 1; i < len(all.Data); i++ {
			if parseTime(t, "createdAt", all.Data[i].CreatedAt).After(parseTime(t, "createdAt", all.Data[i-1].CreatedAt)) {
				t.Errorf("log %d is newer than log %d", i, i-1)
			}
		}

		t.Run("pages", func(t *testing.T) {
			var got []string
			var sizes []int
			path := base + "?limit=3"
			for range 10 {
				var p page[logJSON]
				s.call(t, http.MethodGet, path, token, nil, http.StatusOK, &p)
				got = append(got, logIDs(p.Data)...)
				sizes = append(sizes, len(p.Data))
				if p.NextCursor == nil {
					break
				}
				path = base + "?limit=3&cursor=" + url.QueryEscape(*p.NextCursor)
			}
			if !slices.Equal(got, newestFirst) || !slices.Equal(sizes, []int{3, 3, 1}) {
				t.Errorf("pages of 3 = %v in %v, want %v in [3 3 1]", got, sizes, newestFirst)
			}
		})

		filter := func(t *testing.T, query string) []string {
			t.Helper()
			var p page[logJSON]
			s.call(t, http.MethodGet, base+"?"+query, token, nil, http.StatusOK, &p)
			return logIDs(p.Data)
		}
		where := func(keep func(l logJSON) bool) []string {
			var ids []string
			for _, l := range all.Data {
				if keep(l) {
					ids = append(ids, l.ID)
				}
			}
			return ids
		}

		t.Run("filters", func(t *testing.T) {
			for _, tt := range []struct {
				query string
				want  []string
			}{
				{"status=success", where(func(l logJSON) bool { return l.Status == "success" })},
				{"status=failed", where(func(l logJSON) bool { return l.Status == "failed" })},
				{"eventType=message.new", where(func(l logJSON) bool { return l.EventType == "message.new" })},
				{"eventType=conversation.created&status=failed", where(func(l logJSON) bool { return l.EventType == "conversation.created" })},
				{"eventType=campaign.completed", nil},
				{"status=success&limit=1", newestFirst[:1]},
			} {
				if got := filter(t, tt.query); !slices.Equal(got, tt.want) {
					t.Errorf("?%s = %v, want %v", tt.query, got, tt.want)
				}
			}
			if got := filter(t, "status=success"); len(got) != 4 {
				t.Errorf("status=success gave %d logs, want 4", len(got))
			}
			var failed page[logJSON]
			s.call(t, http.MethodGet, base+"?status=failed&limit=2", token, nil, http.StatusOK, &failed)
			if failed.NextCursor == nil {
				t.Fatal("status=failed&limit=2 of 3 has no next cursor")
			}
			var rest page[logJSON]
			s.call(t, http.MethodGet, base+"?status=failed&limit=2&cursor="+url.QueryEscape(*failed.NextCursor), token, nil, http.StatusOK, &rest)
			if got := append(logIDs(failed.Data), logIDs(rest.Data)...); !slices.Equal(got, filter(t, "status=failed")) || rest.NextCursor != nil {
				t.Errorf("filtered pages = %v, want %v", got, filter(t, "status=failed"))
			}
		})

		t.Run("since and until", func(t *testing.T) {
			mid := all.Data[3].CreatedAt
			midT := parseTime(t, "createdAt", mid)
			since := where(func(l logJSON) bool { return !parseTime(t, "createdAt", l.CreatedAt).Before(midT) })
			until := where(func(l logJSON) bool { return parseTime(t, "createdAt", l.CreatedAt).Before(midT) })
			if got := filter(t, "since="+url.QueryEscape(mid)); !slices.Equal(got, since) {
				t.Errorf("since=%s = %v, want %v", mid, got, since)
			}
			if got := filter(t, "until="+url.QueryEscape(mid)); !slices.Equal(got, until) {
				t.Errorf("until=%s = %v, want %v", mid, got, until)
			}
			// Any RFC 3339 offset names the same instant.
			local := midT.In(time.FixedZone("", 2*3600)).Format(time.RFC3339Nano)
			if got := filter(t, "since="+url.QueryEscape(local)); !slices.Equal(got, since) {
				t.Errorf("since=%s = %v, want %v", local, got, since)
			}
			hourAgo := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
			inAnHour := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
			if got := filter(t, "since="+hourAgo+"&until="+inAnHour); !slices.Equal(got, newestFirst) {
				t.Errorf("the last hour = %v, want every log", got)
			}
			if got := filter(t, "since="+inAnHour); len(got) != 0 {
				t.Errorf("since the future = %v, want none", got)
			}
			if got := filter(t, "until="+hourAgo); len(got) != 0 {
				t.Errorf("until an hour ago = %v, want none", got)
			}
		})

		t.Run("bad parameters", func(t *testing.T) {
			for _, tt := range []struct{ query, field string }{
				{"status=bogus", "status"},
				{"status=SUCCESS", "status"},
				{"status=pending", "status"},
				{"since=yesterday", "since"},
				{"until=2024-13-01T00:00:00Z", "until"},
				{"since=1700000000", "since"},
				{"limit=0", "limit"},
				{"limit=501", "limit"},
				{"limit=x", "limit"},
				{"cursor=forged", "cursor"},
				{"cursor=" + base64.RawURLEncoding.EncodeToString([]byte("v1:"+hook.ID+"x")), "cursor"},
				{"eventType=" + strings.Repeat("e", 256), "eventType"},
				// PostgreSQL refuses these bytes in text: a 400, not a 500.
				{"eventType=%ff", "eventType"},
				{"eventType=%00", "eventType"},
				{"eventType=message.new%0A", "eventType"},
			} {
				wantError(t, s.do(t, http.MethodGet, base+"?"+tt.query, token, nil), http.StatusBadRequest, tt.field)
			}
			e := wantError(t, s.do(t, http.MethodGet, base+"?status=bogus&since=x", token, nil), http.StatusBadRequest, "status", "since")
			_ = e
			var p page[logJSON]
			s.call(t, http.MethodGet, base+"?limit=500", token, nil, http.StatusOK, &p)
			if len(p.Data) != len(sent) {
				t.Errorf("limit=500 gave %d logs, want %d", len(p.Data), len(sent))
			}
		})

		t.Run("deleting the webhook ends its logs", func(t *testing.T) {
			s.call(t, http.MethodDelete, "/api/v1/webhooks/"+hook.ID, token, nil, http.StatusNoContent, nil)
			wantError(t, s.do(t, http.MethodGet, base, token, nil), http.StatusNotFound)
			wantError(t, s.do(t, http.MethodGet, base+"/"+sent[0], token, nil), http.StatusNotFound)
			var p page[logJSON]
			s.call(t, http.MethodGet, "/api/v1/webhooks/"+other.ID+"/logs", token, nil, http.StatusOK, &p)
			if len(p.Data) != 1 {
				t.Errorf("the other webhook has %d logs, want its 1", len(p.Data))
			}
		})
	})
}

func logIDs(ls []logJSON) []string {
	ids := make([]string, len(ls))
	for i, l := range ls {
		ids[i] = l.ID
	}
	return ids
}

func TestStats(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := newTestServer(t, st)
		_, token := s.user(t, "a@example.com")
		rc := newReceiver(t)
		hook := s.hookTo(t, token, rc.URL(), "*")

		t.Run("a new webhook", func(t *testing.T) {
			resp := s.call(t, http.MethodGet, "/api/v1/webhooks/"+hook.ID+"/stats", token, nil, http.StatusOK, nil)
			var fields map[string]any
			decodeJSON(t, resp, &fields)
			for _, k := range []string{"totalDeliveries", "successfulDeliveries", "failedDeliveries", "pendingDeliveries", "successRate",
				"averageResponseTimeMs", "p95ResponseTimeMs", "lastDeliveryAt", "lastSuccessAt", "lastFailureAt", "consecutiveFailures"} {
				if _, ok := fields[k]; !ok {
					t.Errorf("stats lack %q: %s", k, resp.Body)
				}
			}
			var got statsJSON
			decodeJSON(t, resp, &got)
			if (got != statsJSON{}) {
				t.Errorf("stats of a new webhook = %s, want zeros and nulls", resp.Body)
			}
		})

		// Two successes, then two failures.
		for _, code := range []int{200, 204, 500, 502} {
			s.sendTest(t, token, hook.ID, "message.new", map[string]int{"respond": code})
		}
		var logs page[logJSON]
		s.call(t, http.MethodGet, "/api/v1/webhooks/"+hook.ID+"/logs", token, nil, http.StatusOK, &logs)

		check := func(t *testing.T, got statsJSON, total, ok, failed, consecutive int64) {
			t.Helper()
			if got.TotalDeliveries != total || got.SuccessfulDeliveries != ok || got.FailedDeliveries != failed || got.ConsecutiveFailures != consecutive {
				t.Errorf("counts = total %d, ok %d, failed %d, consecutive %d; want %d, %d, %d, %d",
					got.TotalDeliveries, got.SuccessfulDeliveries, got.FailedDeliveries, got.ConsecutiveFailures, total, ok, failed, consecutive)
			}
			if want := math.Round(10000*float64(ok)/float64(total)) / 100; got.SuccessRate != want {
				t.Errorf("successRate = %v, want %v", got.SuccessRate, want)
			}
			// Response times are checked against the logged durations, not
			// against a clock.
			var sum int64
			var durations []int64
			for _, l := range logs.Data {
				sum += l.DurationMs
				durations = append(durations, l.DurationMs)
			}
			slices.Sort(durations)
			if want := math.Round(100*float64(sum)/float64(len(durations))) / 100; math.Abs(got.AverageResponseTimeMs-want) > 0.01 {
				t.Errorf("averageResponseTimeMs = %v, want %v (mean of the logged durations %v)", got.AverageResponseTimeMs, want, durations)
			}
			if want := durations[(95*len(durations)+99)/100-1]; got.P95ResponseTimeMs != want {
				t.Errorf("p95ResponseTimeMs = %d, want %d (nearest rank of %v)", got.P95ResponseTimeMs, want, durations)
			}
			last := wantRecent(t, "lastDeliveryAt", got.LastDeliveryAt)
			if newest := parseTime(t, "createdAt", logs.Data[0].CreatedAt); !last.Equal(newest) {
				t.Errorf("lastDeliveryAt = %s, want the newest log's createdAt %s", *got.LastDeliveryAt, logs.Data[0].CreatedAt)
			}
			lastOK := wantRecent(t, "lastSuccessAt", got.LastSuccessAt)
			lastFail := wantRecent(t, "lastFailureAt", got.LastFailureAt)
			if lastOK.After(last) || lastFail.After(last) {
				t.Errorf("lastSuccessAt %s or lastFailureAt %s after lastDeliveryAt %s", *got.LastSuccessAt, *got.LastFailureAt, *got.LastDeliveryAt)
			}
		}

		t.Run("after two successes and two failures", func(t *testing.T) {
			got := s.stats(t, token, hook.ID)
			check(t, got, 4, 2, 2, 2)
			if got.PendingDeliveries != 0 {
				t.Errorf("pendingDeliveries = %d, want 0: test sends are never pending", got.PendingDeliveries)
			}
			if !parseTime(t, "lastFailureAt", *got.LastFailureAt).Equal(parseTime(t, "lastDeliveryAt", *got.LastDeliveryAt)) {
				t.Errorf("lastFailureAt = %s, want lastDeliveryAt %s: the last attempt failed", *got.LastFailureAt, *got.LastDeliveryAt)
			}
			if parseTime(t, "lastSuccessAt", *got.LastSuccessAt).After(parseTime(t, "lastFailureAt", *got.LastFailureAt)) {
				t.Errorf("lastSuccessAt %s after lastFailureAt %s", *got.LastSuccessAt, *got.LastFailureAt)
			}
		})

		t.Run("a success ends the failure streak", func(t *testing.T) {
			s.sendTest(t, token, hook.ID, "message.new", map[string]int{})
			s.call(t, http.MethodGet, "/api/v1/webhooks/"+hook.ID+"/logs", token, nil, http.StatusOK, &logs)
			got := s.stats(t, token, hook.ID)
			check(t, got, 5, 3, 2, 0)
			if !parseTime(t, "lastSuccessAt", *got.LastSuccessAt).Equal(parseTime(t, "lastDeliveryAt", *got.LastDeliveryAt)) {
				t.Errorf("lastSuccessAt = %s, want lastDeliveryAt %s", *got.LastSuccessAt, *got.LastDeliveryAt)
			}
		})

		t.Run("pending deliveries", func(t *testing.T) {
			for range 2 {
				s.call(t, http.MethodPost, "/api/v1/events", token, map[string]any{"event": "campaign.started", "data": 1}, http.StatusAccepted, nil)
			}
			if got := s.stats(t, token, hook.ID); got.PendingDeliveries != 2 || got.TotalDeliveries != 5 {
				t.Errorf("pending %d, total %d; want 2 pending and the 5 attempts", got.PendingDeliveries, got.TotalDeliveries)
			}
		})

		t.Run("since", func(t *testing.T) {
			path := "/api/v1/webhooks/" + hook.ID + "/stats?since="
			var got statsJSON
			s.call(t, http.MethodGet, path+url.QueryEscape(time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)), token, nil, http.StatusOK, &got)
			check(t, got, 5, 3, 2, 0)
			var future statsJSON
			s.call(t, http.MethodGet, path+url.QueryEscape(time.Now().Add(time.Hour).UTC().Format(time.RFC3339)), token, nil, http.StatusOK, &future)
			if future.TotalDeliveries != 0 || future.LastDeliveryAt != nil || future.SuccessRate != 0 {
				t.Errorf("stats since the future = %+v, want no attempts", future)
			}
			wantError(t, s.do(t, http.MethodGet, path+"yesterday", token, nil), http.StatusBadRequest, "since")
		})
	})
}
