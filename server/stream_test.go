package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/webhookd/webhookd/delivery"
	"github.com/webhookd/webhookd/store/storetest"
)

// sseEvent is one Server-Sent Event.
type sseEvent struct {
	Name, ID string
	Data     []byte
}

// eventStream reads a Server-Sent Events response as the console does.
type eventStream struct {
	events chan sseEvent
	cancel context.CancelFunc
	done   chan struct{}
}

// openStream opens an event stream and waits for its "ready" event.
func openStream(t testing.TB, s *testServer, path, token string) *eventStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	// The shared client's timeout would cut the stream.
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("GET %s: %v", path, err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		resp.Body.Close()
		cancel()
		t.Fatalf("GET %s: status %d, Content-Type %q; want 200 text/event-stream", path, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	es := &eventStream{events: make(chan sseEvent, 1000), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(es.done)
		defer close(es.events)
		defer resp.Body.Close()
		lines := bufio.NewScanner(resp.Body)
		lines.Buffer(make([]byte, 64<<10), 4<<20)
		var ev sseEvent
		for lines.Scan() {
			line := lines.Text()
			switch {
			case line == "":
				if ev.Name != "" {
					es.events <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, ":"):
			case strings.HasPrefix(line, "event: "):
				ev.Name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "id: "):
				ev.ID = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "data: "):
				ev.Data = append(ev.Data, strings.TrimPrefix(line, "data: ")...)
			}
		}
	}()
	t.Cleanup(es.close)
	if ev := es.next(t); ev.Name != "ready" {
		t.Fatalf("first event %q, want ready", ev.Name)
	}
	return es
}

func (es *eventStream) close() {
	es.cancel()
	<-es.done
}

// next returns the next event, failing after a generous wait.
func (es *eventStream) next(t testing.TB) sseEvent {
	t.Helper()
	select {
	case ev, ok := <-es.events:
		if !ok {
			t.Fatal("stream ended, want another event")
		}
		return ev
	case <-time.After(30 * time.Second):
		t.Fatal("no event within 30s")
	}
	return sseEvent{}
}

// quiet fails if an event arrives within a short while: what the filter
// excludes must not come.
func (es *eventStream) quiet(t testing.TB, within time.Duration) {
	t.Helper()
	select {
	case ev, ok := <-es.events:
		if ok {
			t.Fatalf("unexpected event %q: %s", ev.Name, ev.Data)
		}
	case <-time.After(within):
	}
}

func TestLogStream(t *testing.T) {
	storetest.EachTarget(t, func(t *testing.T, db string) {
		st := storetest.Open(t, db)
		s := newTestServer(t, st)
		_, token := s.user(t, "stream@example.com")
		_, otherToken := s.user(t, "other@example.com")
		rc := newReceiver(t)
		hook := s.hookTo(t, token, rc.URL(), "*")
		before := s.sendTest(t, token, hook.ID, "message.new", map[string]int{"n": 0})

		all := openStream(t, s, "/api/v1/webhooks/"+hook.ID+"/logs/stream", token)
		failed := openStream(t, s, "/api/v1/webhooks/"+hook.ID+"/logs/stream?status=failed", token)
		byType := openStream(t, s, "/api/v1/webhooks/"+hook.ID+"/logs/stream?eventType=conversation.created", token)

		// Attempts logged after the stream opened arrive, oldest first;
		// the one before it does not.
		ok1 := s.sendTest(t, token, hook.ID, "message.new", map[string]int{"n": 1})
		bad := s.sendTest(t, token, hook.ID, "conversation.created", map[string]int{"respond": 500})
		for _, want := range []testResult{ok1, bad} {
			ev := all.next(t)
			var l logJSON
			if err := json.Unmarshal(ev.Data, &l); err != nil {
				t.Fatalf("log event data %s: %v", ev.Data, err)
			}
			if ev.Name != "log" || l.ID != want.LogID || ev.ID != want.LogID || l.WebhookID != hook.ID {
				t.Errorf("event %q id %q log %+v, want log %s", ev.Name, ev.ID, l, want.LogID)
			}
			if l.ID == before.LogID {
				t.Errorf("the attempt made before the stream opened was streamed")
			}
		}
		for name, es := range map[string]*eventStream{"status=failed": failed, "eventType": byType} {
			ev := es.next(t)
			var l logJSON
			if err := json.Unmarshal(ev.Data, &l); err != nil {
				t.Fatal(err)
			}
			if l.ID != bad.LogID || l.Status != "failed" {
				t.Errorf("%s stream sent %+v, want only the failed conversation.created attempt %s", name, l, bad.LogID)
			}
		}
		all.quiet(t, 2500*time.Millisecond) // nothing is sent twice

		// A published event's deliveries stream too.
		runDispatcher(t, st)
		var ev eventResult
		s.call(t, http.MethodPost, "/api/v1/events", token, map[string]any{"event": "message.new", "data": map[string]int{"n": 2}},
			http.StatusAccepted, &ev)
		var l logJSON
		if err := json.Unmarshal(all.next(t).Data, &l); err != nil {
			t.Fatal(err)
		}
		if l.EventID != ev.ID || l.Status != "success" {
			t.Errorf("streamed %+v, want the delivery of event %s", l, ev.ID)
		}

		// Another user's webhook, bad filters and a start in the past are
		// refused before the stream opens.
		wantError(t, s.do(t, http.MethodGet, "/api/v1/webhooks/"+hook.ID+"/logs/stream", otherToken, nil), http.StatusNotFound)
		wantError(t, s.do(t, http.MethodGet, "/api/v1/webhooks/"+hook.ID+"/logs/stream", "", nil), http.StatusUnauthorized)
		wantError(t, s.do(t, http.MethodGet, "/api/v1/webhooks/"+hook.ID+"/logs/stream?status=pending", token, nil), http.StatusBadRequest, "status")
		wantError(t, s.do(t, http.MethodGet, "/api/v1/webhooks/"+hook.ID+"/logs/stream?since=2024-01-01T00:00:00Z", token, nil), http.StatusBadRequest, "since")
	})
}

func TestStreamsEndOnShutdown(t *testing.T) {
	st := storetest.Open(t, storetest.SQLitePath(t))
	s := newTestServer(t, st)
	_, token := s.user(t, "shutdown@example.com")
	hook := s.hookTo(t, token, newReceiver(t).URL(), "*")
	logs := openStream(t, s, "/api/v1/webhooks/"+hook.ID+"/logs/stream", token)
	box := openStream(t, s, "/api/v1/inboxes/demo/stream", token)
	s.closeStreams()
	for name, es := range map[string]*eventStream{"log": logs, "inbox": box} {
		select {
		case _, open := <-es.events:
			if open {
				t.Errorf("%s stream sent an event after CloseStreams, want it ended", name)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("%s stream still open 30s after CloseStreams", name)
		}
	}
}

func TestWebhookSeries(t *testing.T) {
	storetest.EachTarget(t, func(t *testing.T, db string) {
		st := storetest.Open(t, db)
		s := newTestServer(t, st)
		_, token := s.user(t, "series@example.com")
		_, otherToken := s.user(t, "other@example.com")
		rc := newReceiver(t)
		hook := s.hookTo(t, token, rc.URL(), "*")
		for _, respond := range []int{200, 200, 200, 500} {
			s.sendTest(t, token, hook.ID, "message.new", map[string]int{"respond": respond})
		}
		type bucket struct {
			Start         string   `json:"start"`
			Total         int64    `json:"total"`
			Success       int64    `json:"success"`
			Failed        int64    `json:"failed"`
			SuccessRate   *float64 `json:"successRate"`
			AvgDurationMs *float64 `json:"avgDurationMs"`
			MaxDurationMs *int64   `json:"maxDurationMs"`
		}
		var got struct {
			BucketSeconds int64    `json:"bucketSeconds"`
			Buckets       []bucket `json:"buckets"`
		}
		s.call(t, http.MethodGet, "/api/v1/webhooks/"+hook.ID+"/stats/series", token, nil, http.StatusOK, &got)
		if got.BucketSeconds != 3600 || len(got.Buckets) != 24 {
			t.Fatalf("series has %d buckets of %ds, want 24 of 3600s", len(got.Buckets), got.BucketSeconds)
		}
		for i, b := range got.Buckets {
			start := parseTime(t, "start", b.Start)
			if start.Minute() != 0 || start.Second() != 0 {
				t.Errorf("bucket %d starts at %s, want a whole hour", i, b.Start)
			}
			if i > 0 && start.Sub(parseTime(t, "start", got.Buckets[i-1].Start)) != time.Hour {
				t.Errorf("bucket %d starts at %s, want an hour after the one before", i, b.Start)
			}
			if i < len(got.Buckets)-1 && (b.Total != 0 || b.SuccessRate != nil || b.AvgDurationMs != nil || b.MaxDurationMs != nil) {
				t.Errorf("bucket %d = %+v, want empty with null rate and latency", i, b)
			}
		}
		// The attempts can straddle an hour's turn; the last two buckets
		// hold them all.
		last, prev := got.Buckets[23], got.Buckets[22]
		if total := last.Total + prev.Total; total != 4 || last.Success+prev.Success != 3 || last.Failed+prev.Failed != 1 {
			t.Errorf("last buckets = %+v, %+v; want 4 attempts, 3 successful, 1 failed", prev, last)
		}
		if prev.Total == 0 {
			if last.SuccessRate == nil || *last.SuccessRate != 0.75 || last.AvgDurationMs == nil || last.MaxDurationMs == nil {
				t.Errorf("last bucket = %+v, want success rate 0.75 and latencies", last)
			}
		}

		var week struct{ Buckets []bucket }
		s.call(t, http.MethodGet, "/api/v1/webhooks/"+hook.ID+"/stats/series?hours=168", token, nil, http.StatusOK, &week)
		if len(week.Buckets) != 168 {
			t.Errorf("hours=168 gave %d buckets", len(week.Buckets))
		}
		for _, q := range []string{"0", "169", "-1", "1.5", "x", "99999999999999999999"} {
			wantError(t, s.do(t, http.MethodGet, "/api/v1/webhooks/"+hook.ID+"/stats/series?hours="+q, token, nil), http.StatusBadRequest, "hours")
		}
		wantError(t, s.do(t, http.MethodGet, "/api/v1/webhooks/"+hook.ID+"/stats/series", otherToken, nil), http.StatusNotFound)
	})
}

// capture is an inbox capture as the API shows it.
type capture struct {
	ID         int64               `json:"id"`
	Inbox      string              `json:"inbox"`
	Method     string              `json:"method"`
	Headers    map[string][]string `json:"headers"`
	Body       string              `json:"body"`
	Signature  string              `json:"signature"`
	WebhookID  string              `json:"webhookId"`
	ReceivedAt string              `json:"receivedAt"`
}

func TestInbox(t *testing.T) {
	storetest.EachTarget(t, func(t *testing.T, db string) {
		st := storetest.Open(t, db)
		s := newTestServer(t, st)
		_, alice := s.user(t, "alice@example.com")
		_, bob := s.user(t, "bob@example.com")
		inboxURL := s.srv.URL + "/inbox/demo"

		aliceLive := openStream(t, s, "/api/v1/inboxes/demo/stream", alice)
		bobLive := openStream(t, s, "/api/v1/inboxes/demo/stream", bob)

		// Alice's webhook delivers to this process's own inbox: the capture
		// verifies against its secret and is hers alone.
		hook := s.hookTo(t, alice, inboxURL, "*")
		// (The test client's encoding/json escapes <, > and & as \u003c…;
		// webhookd passes the payload's bytes on as they came.)
		sent := s.sendTest(t, alice, hook.ID, "message.new", map[string]string{"text": "<script>x</script>"})
		if !sent.Success {
			t.Fatalf("test send to the inbox = %+v, want success", sent)
		}
		var c capture
		if err := json.Unmarshal(aliceLive.next(t).Data, &c); err != nil {
			t.Fatal(err)
		}
		if c.Signature != "verified" || c.WebhookID != hook.ID || c.Inbox != "demo" || c.Method != http.MethodPost ||
			!strings.Contains(c.Body, `"text":"\u003cscript\u003ex\u003c/script\u003e"`) || c.Headers["X-Webhook-Event"][0] != "message.new" {
			t.Errorf("alice's live capture = %+v, want her verified test delivery", c)
		}

		// Anyone's unsigned request is captured and shown to both.
		resp, err := http.Post(inboxURL+"?from=curl", "text/plain", strings.NewReader("hello"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST %s = %d, want 200", inboxURL, resp.StatusCode)
		}
		for name, es := range map[string]*eventStream{"alice": aliceLive, "bob": bobLive} {
			var got capture
			if err := json.Unmarshal(es.next(t).Data, &got); err != nil {
				t.Fatal(err)
			}
			if got.Body != "hello" || got.Signature != "unsigned" {
				t.Errorf("%s's next capture = %+v, want the unsigned hello (and bob never alice's delivery)", name, got)
			}
		}

		var list page[capture]
		s.call(t, http.MethodGet, "/api/v1/inboxes/demo", alice, nil, http.StatusOK, &list)
		if len(list.Data) != 2 || list.Data[0].Body != "hello" || list.Data[1].WebhookID != hook.ID {
			t.Errorf("alice's inbox = %+v, want hello then her delivery", list.Data)
		}
		s.call(t, http.MethodGet, "/api/v1/inboxes/demo", bob, nil, http.StatusOK, &list)
		if len(list.Data) != 1 || list.Data[0].Body != "hello" {
			t.Errorf("bob's inbox = %+v, want only the unsigned hello", list.Data)
		}

		// A signature made with another secret is shown as invalid.
		req, _ := http.NewRequest(http.MethodPost, inboxURL, strings.NewReader("{}"))
		req.Header.Set("X-Webhook-Signature", delivery.SignatureHeader("not-the-secret", []byte("{}")))
		if resp, err := http.DefaultClient.Do(req); err != nil {
			t.Fatal(err)
		} else {
			resp.Body.Close()
		}
		if err := json.Unmarshal(bobLive.next(t).Data, &c); err != nil || c.Signature != "invalid" {
			t.Errorf("forged capture = %+v (%v), want signature invalid", c, err)
		}

		wantError(t, s.do(t, http.MethodGet, "/api/v1/inboxes/demo", "", nil), http.StatusUnauthorized)
		wantError(t, s.do(t, http.MethodGet, "/api/v1/inboxes/a%20b", alice, nil), http.StatusBadRequest, "name")
		wantError(t, s.do(t, http.MethodGet, "/api/v1/inboxes/"+strings.Repeat("n", 65)+"/stream", alice, nil), http.StatusBadRequest, "name")
		// GET describes the inbox and captures nothing.
		s.call(t, http.MethodGet, "/inbox/demo", "", nil, http.StatusOK, nil)
		s.call(t, http.MethodGet, "/api/v1/inboxes/demo", bob, nil, http.StatusOK, &list)
		if len(list.Data) != 2 {
			t.Errorf("bob's inbox has %d captures after a GET, want 2", len(list.Data))
		}
	})
}
