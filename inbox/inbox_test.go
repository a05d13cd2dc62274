package inbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/webhookd/webhookd/delivery"
	"github.com/webhookd/webhookd/store"
)

// newServer starts an httptest server over a fresh Inbox.
func newServer(t testing.TB, cfg Config) (*Inbox, *httptest.Server) {
	t.Helper()
	in := New(cfg)
	srv := httptest.NewServer(in)
	t.Cleanup(srv.Close)
	return in, srv
}

// send makes a request with body to url and returns the status.
func send(t testing.TB, method, url, body string, header http.Header) int {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

func post(t testing.TB, url, body string, header http.Header) int {
	t.Helper()
	return send(t, http.MethodPost, url, body, header)
}

func TestCaptureAndList(t *testing.T) {
	in, srv := newServer(t, Config{})
	h := http.Header{"Content-Type": {"application/json"}, "X-Webhook-Event": {"message.new"}}
	if got := post(t, srv.URL+"/inbox/demo?x=1", `{"n":1}`, h); got != http.StatusOK {
		t.Fatalf("capture status = %d, want 200", got)
	}
	if got := send(t, http.MethodPut, srv.URL+"/inbox/demo", "<script>alert(1)</script>", nil); got != http.StatusOK {
		t.Fatalf("capture status = %d, want 200", got)
	}
	if got := send(t, http.MethodPost, srv.URL+"/inbox/demo", "\xff\xfe", nil); got != http.StatusOK {
		t.Fatalf("capture status = %d, want 200", got)
	}
	got := in.List("demo", "anyone")
	if len(got) != 3 {
		t.Fatalf("got %d captures, want 3", len(got))
	}
	if got[0].Body != "//4=" || !got[0].BodyBase64 {
		t.Errorf("binary body = %q base64=%v, want //4= true", got[0].Body, got[0].BodyBase64)
	}
	if got[1].Body != "<script>alert(1)</script>" || got[1].Method != http.MethodPut || got[2].Body != `{"n":1}` {
		t.Errorf("captures newest first = %+v", got)
	}
	first := got[2]
	if first.Method != http.MethodPost || first.Query != "x=1" || first.Inbox != "demo" || first.Path != "/inbox/demo" {
		t.Errorf("capture = %+v, want POST /inbox/demo?x=1 in demo", first)
	}
	if v := first.Headers["X-Webhook-Event"]; len(v) != 1 || v[0] != "message.new" {
		t.Errorf("X-Webhook-Event header = %v, want [message.new]", v)
	}
	if first.ReceivedAt.IsZero() || first.Signature != Unsigned || first.Size != 7 {
		t.Errorf("receivedAt = %v, signature = %q, size %d; want a time, unsigned, 7", first.ReceivedAt, first.Signature, first.Size)
	}
	if other := in.List("other", "anyone"); len(other) != 0 {
		t.Errorf("other inbox has %d captures, want 0", len(other))
	}
}

func TestBounds(t *testing.T) {
	in, srv := newServer(t, Config{PerInbox: 3, MaxInboxes: 2, MaxBody: 4})
	for i := range 5 {
		post(t, srv.URL+"/inbox/a", fmt.Sprint(i), nil)
	}
	var bodies []string
	for _, c := range in.List("a", "u") {
		bodies = append(bodies, c.Body)
	}
	if strings.Join(bodies, ",") != "4,3,2" {
		t.Errorf("ring keeps %v, want [4 3 2]", bodies)
	}

	post(t, srv.URL+"/inbox/b", "b", nil)
	post(t, srv.URL+"/inbox/a", "again", nil) // a is now the most recently used
	post(t, srv.URL+"/inbox/c", "c", nil)     // evicts b
	if n := in.Len(); n != 2 {
		t.Errorf("inboxes = %d, want 2", n)
	}
	if got := in.List("b", "u"); len(got) != 0 {
		t.Errorf("evicted inbox b still has %d captures", len(got))
	}
	if got := in.List("a", "u"); len(got) != 3 {
		t.Errorf("inbox a has %d captures, want 3", len(got))
	}

	post(t, srv.URL+"/inbox/c", "123456", nil)
	c := in.List("c", "u")[0]
	if c.Body != "1234" || !c.Truncated || c.Size != 6 {
		t.Errorf("long body kept as %q truncated=%v size=%d, want \"1234\" true 6", c.Body, c.Truncated, c.Size)
	}
}

func TestRoutes(t *testing.T) {
	in, srv := newServer(t, Config{})
	tests := []struct {
		method, path string
		want         int
	}{
		{http.MethodGet, "/inbox/demo", http.StatusOK},
		{http.MethodHead, "/inbox/demo", http.StatusOK},
		{http.MethodPut, "/inbox/demo", http.StatusOK},
		{http.MethodDelete, "/inbox/demo", http.StatusOK},
		{http.MethodGet, "/inbox/bad%20name", http.StatusNotFound},
		{http.MethodPost, "/inbox/-leading-dash", http.StatusNotFound},
		{http.MethodGet, "/inbox/", http.StatusNotFound},
		{http.MethodPost, "/inbox/demo/other", http.StatusNotFound},
		{http.MethodGet, "/elsewhere", http.StatusNotFound},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(tt.method, srv.URL+tt.path, nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != tt.want {
			t.Errorf("%s %s = %d, want %d", tt.method, tt.path, res.StatusCode, tt.want)
		}
	}
	// GET and HEAD describe the inbox; only PUT and DELETE were captured.
	if got := in.List("demo", "u"); len(got) != 2 {
		t.Errorf("demo has %d captures, want 2 (GET and HEAD are not captured)", len(got))
	}
}

// deliveries is a Lookup over a fixed map of delivery id to webhook; the id
// "d-broken" fails as a database might.
func deliveries(m map[string]store.Webhook) Lookup {
	return func(_ context.Context, id string) (store.Webhook, error) {
		if id == "d-broken" {
			return store.Webhook{}, errors.New("database is down")
		}
		w, ok := m[id]
		if !ok {
			return store.Webhook{}, fmt.Errorf("no delivery %s: %w", id, store.ErrNotFound)
		}
		return w, nil
	}
}

// TestSignatureAndVisibility checks who sees a capture and its verdict
// (issue 12, item 6): a capture naming a known delivery is its webhook's
// owner's alone, verified only against that webhook's secrets when the
// webhook targets this inbox exactly and the body arrived whole; any other
// capture is everyone's and costs no HMAC.
func TestSignatureAndVisibility(t *testing.T) {
	const (
		port      = 3000
		secret    = "whsec_c2VjcmV0c2VjcmV0c2VjcmV0"
		oldSecret = "old-secret-still-in-grace"
	)
	now := time.Now()
	later := now.Add(time.Hour)
	alice := store.Webhook{ID: "w-alice", TenantID: "alice", URL: "http://localhost:3000/inbox/signed", Secret: secret,
		PreviousSecret: oldSecret, PreviousSecretExpiresAt: &later}
	hooks := map[string]store.Webhook{
		"d-alice": alice,
		// Another port: not this process's inbox.
		"d-elsewhere": {ID: "w-elsewhere", TenantID: "mallory", URL: "http://localhost:4000/inbox/signed", Secret: "elsewhere-secret"},
		// Similar names are other inboxes.
		"d-prefix": {ID: "w-prefix", TenantID: "mallory", URL: "http://127.0.0.1:3000/inbox/signed-too", Secret: "prefix-secret"},
		"d-slash":  {ID: "w-slash", TenantID: "mallory", URL: "http://127.0.0.1:3000/inbox/signed/", Secret: "slash-secret"},
		// A query does not change where a delivery arrives.
		"d-query": {ID: "w-query", TenantID: "carol", URL: "http://[::1]:3000/inbox/signed?x=1", Secret: "query-secret"},
	}
	in, srv := newServer(t, Config{Lookup: deliveries(hooks), Port: port, MaxBody: 64})
	body := `{"event":"message.new"}`
	long := strings.Repeat("x", 65)
	sign := func(secret string) string { return delivery.SignatureHeader(secret, []byte(body)) }
	tests := []struct {
		name, inbox, id, sig, body string
		// owner is who alone sees the capture: "" for everyone, "none"
		// for no one.
		want, webhook, owner string
		hmacs                int64
	}{
		{"verified", "signed", "d-alice", sign(secret), body, Verified, "w-alice", "alice", 1},
		{"old secret in grace", "signed", "d-alice", sign(oldSecret), body, Verified, "w-alice", "alice", 2},
		{"both in one header", "signed", "d-alice", "sha256=00," + sign(secret), body, Verified, "w-alice", "alice", 1},
		{"query on the webhook URL", "signed", "d-query", sign("query-secret"), body, Verified, "w-query", "carol", 1},
		// Still hers: it may be her real delivery after a rotation.
		{"wrong secret on her delivery", "signed", "d-alice", sign("nope-nope"), body, Invalid, "w-alice", "alice", 2},
		{"her delivery, unsigned", "signed", "d-alice", "", body, Unsigned, "w-alice", "alice", 0},
		{"her delivery over the body limit", "signed", "d-alice", delivery.SignatureHeader(secret, []byte(long)), long, Invalid, "w-alice", "alice", 0},
		{"her delivery at another inbox", "other", "d-alice", sign(secret), body, Invalid, "w-alice", "alice", 0},
		{"webhook on another port", "signed", "d-elsewhere", sign("elsewhere-secret"), body, Invalid, "w-elsewhere", "mallory", 0},
		{"webhook on a longer path", "signed", "d-prefix", sign("prefix-secret"), body, Invalid, "w-prefix", "mallory", 0},
		{"webhook with a trailing slash", "signed", "d-slash", sign("slash-secret"), body, Invalid, "w-slash", "mallory", 0},
		{"unknown delivery", "signed", "d-unknown", sign(secret), body, Invalid, "", "", 0},
		{"no delivery named", "signed", "", sign(secret), body, Invalid, "", "", 0},
		{"malformed delivery id", "signed", "d-alice%", sign(secret), body, Invalid, "", "", 0},
		{"lookup fails", "signed", "d-broken", sign(secret), body, Invalid, "", "none", 0},
		{"unsigned", "signed", "", "", body, Unsigned, "", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.sig != "" {
				h.Set("X-Webhook-Signature", tt.sig)
			}
			if tt.id != "" {
				h.Set("X-Webhook-Id", tt.id)
				h.Set("Webhook-Id", tt.id)
			}
			before := in.hmacs.Load()
			post(t, srv.URL+"/inbox/"+tt.inbox, tt.body, h)
			if n := in.hmacs.Load() - before; n != tt.hmacs {
				t.Errorf("%d signatures computed, want %d", n, tt.hmacs)
			}
			in.mu.Lock()
			ring := in.boxes[tt.inbox].ring
			got := ring[len(ring)-1]
			in.mu.Unlock()
			if got.Signature != tt.want || got.WebhookID != tt.webhook {
				t.Errorf("signature = %q for %q, want %q for %q", got.Signature, got.WebhookID, tt.want, tt.webhook)
			}
			for _, user := range []string{"alice", "bob", "carol", "mallory"} {
				list := in.List(tt.inbox, user)
				seen := len(list) > 0 && list[0].ID == got.ID
				if want := tt.owner == "" || tt.owner == user; seen != want {
					t.Errorf("%s sees the capture: %v, want %v", user, seen, want)
				}
			}
		})
	}

	// The two id headers must agree; a genuine delivery's always do.
	post(t, srv.URL+"/inbox/signed", body, http.Header{"X-Webhook-Id": {"d-alice"}, "Webhook-Id": {"d-other"}, "X-Webhook-Signature": {sign(secret)}})
	if got := in.List("signed", "bob")[0]; got.Signature != Invalid || got.WebhookID != "" {
		t.Errorf("disagreeing ids: %+v, want an anonymous invalid capture", got)
	}

	// An expired old secret no longer verifies.
	past := now.Add(-time.Minute)
	alice.PreviousSecretExpiresAt = &past
	hooks["d-alice"] = alice
	post(t, srv.URL+"/inbox/signed", body, http.Header{"X-Webhook-Id": {"d-alice"}, "X-Webhook-Signature": {sign(oldSecret)}})
	if got := in.List("signed", "alice")[0]; got.Signature != Invalid {
		t.Errorf("expired old secret: signature = %q, want invalid", got.Signature)
	}
}

// TestExpect checks that a delivery announced before it is stored, as a
// test send is, is attributed as a stored one, and forgotten when done.
func TestExpect(t *testing.T) {
	const secret = "test-send-secret"
	in, srv := newServer(t, Config{Port: 3000})
	w := store.Webhook{ID: "w1", TenantID: "alice", URL: "http://localhost:3000/inbox/t", Secret: secret}
	body := `{"n":1}`
	h := http.Header{"X-Webhook-Id": {"d-test"}, "X-Webhook-Signature": {delivery.SignatureHeader(secret, []byte(body))}}
	done := in.Expect("d-test", w)
	again := in.Expect("d-test", w)
	post(t, srv.URL+"/inbox/t", body, h)
	if got := in.List("t", "alice"); len(got) != 1 || got[0].Signature != Verified || got[0].WebhookID != "w1" {
		t.Errorf("alice's captures = %+v, want her verified test send", got)
	}
	if got := in.List("t", "bob"); len(got) != 0 {
		t.Errorf("bob sees %d captures, want none", len(got))
	}
	done()
	done() // twice is harmless
	post(t, srv.URL+"/inbox/t", body, h)
	if got := in.List("t", "alice")[0]; got.Signature != Verified {
		t.Errorf("with one announce still open: %q, want verified", got.Signature)
	}
	again()
	post(t, srv.URL+"/inbox/t", body, h)
	if got := in.List("t", "bob"); len(got) != 1 || got[0].Signature != Invalid {
		t.Errorf("after done, bob sees %+v, want the now anonymous capture", got)
	}
	if n := len(in.expected); n != 0 {
		t.Errorf("%d expectations left, want 0", n)
	}
}

func TestSubscribe(t *testing.T) {
	const secret = "a-secret-of-alices"
	lookup := deliveries(map[string]store.Webhook{
		"d1": {ID: "w1", TenantID: "alice", URL: "http://localhost:3000/inbox/live", Secret: secret},
	})
	in, srv := newServer(t, Config{Lookup: lookup, Port: 3000})
	alice, stopAlice := in.Subscribe("live", "alice")
	bob, stopBob := in.Subscribe("live", "bob")
	defer stopBob()

	body := `{"hello":"stream"}`
	post(t, srv.URL+"/inbox/live", body, http.Header{"X-Webhook-Id": {"d1"}, "X-Webhook-Signature": {delivery.SignatureHeader(secret, []byte(body))}})
	post(t, srv.URL+"/inbox/live", "anyone's", nil)

	for _, want := range []string{body, "anyone's"} {
		select {
		case c := <-alice:
			if c.Body != want || c.Inbox != "live" {
				t.Errorf("alice got %q in %q, want %q", c.Body, c.Inbox, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("alice got nothing, want %q", want)
		}
	}
	select {
	case c := <-bob:
		if c.Body != "anyone's" {
			t.Errorf("bob got %q: another user's verified delivery", c.Body)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("bob got nothing, want the unsigned capture")
	}
	stopAlice()
	if _, open := <-alice; open {
		t.Error("alice's channel still open after stop")
	}
	stopAlice() // twice is harmless
}

// TestEvictSubscribed checks that evicting an inbox with live readers
// closes each reader's channel once, and that the readers' own
// unsubscribes afterwards, as the stream handler defers them, do not close
// it again (issue 12, item 6c: "close of closed channel").
func TestEvictSubscribed(t *testing.T) {
	in, srv := newServer(t, Config{MaxInboxes: 1})
	var chans []<-chan Capture
	var stops []func()
	for _, user := range []string{"alice", "bob"} {
		ch, stop := in.Subscribe("watched", user)
		chans, stops = append(chans, ch), append(stops, stop)
	}
	post(t, srv.URL+"/inbox/other", "evicts watched", nil)
	for i, ch := range chans {
		if _, open := <-ch; open {
			t.Errorf("reader %d: channel still open after eviction", i)
		}
	}
	for _, stop := range stops {
		stop()
		stop()
	}
	// A reader of the new inbox of the same name is not touched by the
	// old readers' unsubscribes.
	ch, stop := in.Subscribe("watched", "carol")
	defer stop()
	stops[0]()
	post(t, srv.URL+"/inbox/watched", "hello", nil)
	select {
	case c, open := <-ch:
		if !open || c.Body != "hello" {
			t.Errorf("new reader got %+v (open %v), want hello", c, open)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("new reader got nothing")
	}
}

func TestCaptureJSON(t *testing.T) {
	c := Capture{ID: 1, Inbox: "x", Signature: Verified, WebhookID: "w", owner: "secret-owner",
		ReceivedAt: time.Date(2024, 1, 1, 13, 0, 0, 120_456_789, time.FixedZone("CET", 3600))}
	raw, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), "secret-owner") || !strings.Contains(string(raw), `"webhookId":"w"`) {
		t.Errorf("capture JSON = %s: want webhookId and no owner", raw)
	}
	if strings.Count(string(raw), `"receivedAt"`) != 1 || !strings.Contains(string(raw), `"receivedAt":"2024-01-01T12:00:00.120Z"`) {
		t.Errorf("capture JSON = %s: want one receivedAt, in UTC with milliseconds", raw)
	}
}

// TestMemoryBound checks that captures across every inbox stay within
// MaxBytes, dropping the oldest of the least recently used inbox first, so
// that anonymous senders cannot fill the process's memory.
func TestMemoryBound(t *testing.T) {
	in, srv := newServer(t, Config{MaxBytes: 10_000, MaxBody: 4_000})
	body := strings.Repeat("x", 3_000)
	post(t, srv.URL+"/inbox/old", body, nil)
	post(t, srv.URL+"/inbox/old", body, nil)
	post(t, srv.URL+"/inbox/new", body, nil)
	post(t, srv.URL+"/inbox/new", body, nil) // over 10,000: old's oldest goes
	in.mu.Lock()
	total := in.bytes
	in.mu.Unlock()
	if total > 10_000 {
		t.Errorf("inboxes hold %d bytes, want at most 10,000", total)
	}
	if got := len(in.List("old", "u")); got != 1 {
		t.Errorf("the least recently used inbox keeps %d captures, want 1", got)
	}
	if got := len(in.List("new", "u")); got != 2 {
		t.Errorf("the inbox just written keeps %d captures, want 2", got)
	}
	for range 10 {
		post(t, srv.URL+"/inbox/new", body, nil)
	}
	if got := len(in.List("old", "u")); got != 0 {
		t.Errorf("after more captures elsewhere, old keeps %d, want 0", got)
	}
	if got := in.List("new", "u"); len(got) != 3 || got[0].Body != body {
		t.Errorf("new keeps %d captures, want the 3 newest", len(got))
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	var sum int64
	for _, b := range in.boxes {
		for _, c := range b.ring {
			sum += captureBytes(c)
		}
	}
	if sum != in.bytes {
		t.Errorf("byte count %d, want the captures' %d", in.bytes, sum)
	}
}
