package inbox

import (
	"context"
	"encoding/json"
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

func TestSignatureAndVisibility(t *testing.T) {
	const (
		port      = 3000
		secret    = "whsec_c2VjcmV0c2VjcmV0c2VjcmV0"
		oldSecret = "old-secret-still-in-grace"
	)
	now := time.Now()
	later := now.Add(time.Hour)
	hooks := []store.Webhook{
		// Targets another port: not this process's inbox, so its secret
		// never verifies here.
		{ID: "w-elsewhere", UserID: "mallory", URL: "http://localhost:4000/inbox/signed", Secret: "elsewhere-secret"},
		{ID: "w-alice", UserID: "alice", URL: "http://localhost:3000/inbox/signed", Secret: secret,
			PreviousSecret: oldSecret, PreviousSecretExpiresAt: &later},
		{ID: "w-prefix", UserID: "mallory", URL: "http://127.0.0.1:3000/inbox/signed-too", Secret: "prefix-secret"},
	}
	lookup := func(_ context.Context, name string) ([]store.Webhook, error) {
		if name != "signed" {
			return nil, nil
		}
		return hooks, nil
	}
	in, srv := newServer(t, Config{Lookup: lookup, Port: port})
	body := `{"event":"message.new"}`
	tests := []struct {
		name, inbox, sig, want, webhook string
	}{
		{"verified", "signed", delivery.SignatureHeader(secret, []byte(body)), Verified, "w-alice"},
		{"old secret in grace", "signed", delivery.SignatureHeader(oldSecret, []byte(body)), Verified, "w-alice"},
		{"both in one header", "signed", "sha256=00," + delivery.SignatureHeader(secret, []byte(body)), Verified, "w-alice"},
		{"wrong secret", "signed", delivery.SignatureHeader("nope-nope", []byte(body)), Invalid, ""},
		{"webhook on another port", "signed", delivery.SignatureHeader("elsewhere-secret", []byte(body)), Invalid, ""},
		{"webhook on a longer path", "signed", delivery.SignatureHeader("prefix-secret", []byte(body)), Invalid, ""},
		{"no webhook targets it", "nobody", delivery.SignatureHeader(secret, []byte(body)), Invalid, ""},
		{"unsigned", "signed", "", Unsigned, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.sig != "" {
				h.Set("X-Webhook-Signature", tt.sig)
			}
			post(t, srv.URL+"/inbox/"+tt.inbox, body, h)
			got := in.List(tt.inbox, "alice")[0]
			if got.Signature != tt.want || got.WebhookID != tt.webhook {
				t.Errorf("signature = %q for %q, want %q for %q", got.Signature, got.WebhookID, tt.want, tt.webhook)
			}
			// A verified capture is its webhook owner's alone.
			others := in.List(tt.inbox, "bob")
			if seen := len(others) > 0 && others[0].ID == got.ID; seen == (tt.want == Verified) {
				t.Errorf("bob sees alice's capture: %v, want %v", seen, tt.want != Verified)
			}
		})
	}

	// An expired old secret no longer verifies.
	past := now.Add(-time.Minute)
	hooks[1].PreviousSecretExpiresAt = &past
	post(t, srv.URL+"/inbox/signed", body, http.Header{"X-Webhook-Signature": {delivery.SignatureHeader(oldSecret, []byte(body))}})
	if got := in.List("signed", "alice")[0]; got.Signature != Invalid {
		t.Errorf("expired old secret: signature = %q, want invalid", got.Signature)
	}
}

func TestSubscribe(t *testing.T) {
	const secret = "a-secret-of-alices"
	lookup := func(context.Context, string) ([]store.Webhook, error) {
		return []store.Webhook{{ID: "w1", UserID: "alice", URL: "http://localhost:3000/inbox/live", Secret: secret}}, nil
	}
	in, srv := newServer(t, Config{Lookup: lookup, Port: 3000})
	alice, stopAlice := in.Subscribe("live", "alice")
	bob, stopBob := in.Subscribe("live", "bob")
	defer stopBob()

	body := `{"hello":"stream"}`
	post(t, srv.URL+"/inbox/live", body, http.Header{"X-Webhook-Signature": {delivery.SignatureHeader(secret, []byte(body))}})
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
