package server_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/webhookd/webhookd/auth"
	"github.com/webhookd/webhookd/catalog"
	"github.com/webhookd/webhookd/console"
	"github.com/webhookd/webhookd/delivery"
	"github.com/webhookd/webhookd/inbox"
	"github.com/webhookd/webhookd/internal/wiretest"
	"github.com/webhookd/webhookd/server"
	"github.com/webhookd/webhookd/store"
)

// testPassword is every test user's password.
const testPassword = "correct horse battery staple"

// testJWTSecret signs the test server's tokens; tests forge tokens with it.
var testJWTSecret = []byte("server-test-jwt-secret-0123456789")

// testTTL is the test server's token lifetime.
const testTTL = time.Hour

var (
	hashOnce sync.Once
	hashed   string
	hashErr  error
)

// passwordHash hashes testPassword once per test binary: bcrypt is slow on
// purpose, and slower still under -race.
func passwordHash(t testing.TB) string {
	t.Helper()
	hashOnce.Do(func() { hashed, hashErr = auth.HashPassword(testPassword) })
	if hashErr != nil {
		t.Fatalf("hash password: %v", hashErr)
	}
	return hashed
}

// testServer is the API served in-process over a real store and real
// outgoing HTTP.
type testServer struct {
	st     *store.Store
	tokens *auth.Tokens
	srv    *httptest.Server
	// closeStreams ends open event streams, as shutdown does.
	closeStreams func()
}

// serverOption adjusts the server's configuration before it is built.
type serverOption func(*server.Config)

// withCatalog serves a catalogue extended with extra types, as
// --event-types does.
func withCatalog(t testing.TB, extra ...string) serverOption {
	t.Helper()
	cat, err := catalog.New(extra...)
	if err != nil {
		t.Fatalf("catalog.New(%q): %v", extra, err)
	}
	return func(c *server.Config) { c.Catalog = cat }
}

// newTestServer serves the API over st on an httptest server closed when t
// ends.
func newTestServer(t testing.TB, st *store.Store, opts ...serverOption) *testServer {
	t.Helper()
	cat, err := catalog.New()
	if err != nil {
		t.Fatalf("catalog.New: %v", err)
	}
	tokens, err := auth.NewTokens(testJWTSecret, testTTL)
	if err != nil {
		t.Fatalf("auth.NewTokens: %v", err)
	}
	sender := delivery.NewSender(delivery.SenderConfig{Version: "test", Timeout: 10 * time.Second})
	t.Cleanup(sender.Close)
	// The listener comes first: the inbox knows its own port.
	srv := httptest.NewUnstartedServer(nil)
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	logger := slog.New(slog.NewTextHandler(testLogWriter{t}, nil))
	inboxes := inbox.New(inbox.Config{Lookup: st.DeliveryWebhook, Port: port, Logger: logger})
	cfg := server.Config{
		Store:   st,
		Catalog: cat,
		Tokens:  tokens,
		Sender:  delivery.TestSender{Sender: sender, Store: st, Expect: inboxes.Expect},
		Logger:  logger,
		Version: "test",
		Inbox:   inboxes,
		Console: console.Handler(),
		Now:     st.Now, // one clock, as main wires it
	}
	for _, o := range opts {
		o(&cfg)
	}
	api, err := server.New(cfg)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	srv.Config.Handler = api
	srv.Start()
	t.Cleanup(srv.Close)
	t.Cleanup(api.CloseStreams) // srv.Close waits for open streams
	// A bounded wait turns a hung handler into a failure naming the request.
	srv.Client().Timeout = time.Minute
	return &testServer{st: st, tokens: tokens, srv: srv, closeStreams: api.CloseStreams}
}

// testLogWriter sends the server's log lines to the test log, so that a
// 500's logged cause shows up beside the failure.
type testLogWriter struct{ t testing.TB }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// user creates a user with testPassword and returns it with an access token.
func (s *testServer) user(t testing.TB, email string) (store.User, string) {
	t.Helper()
	return s.userWithHash(t, email, passwordHash(t))
}

// userWithHash creates a user with the given password hash and returns it
// with an access token.
func (s *testServer) userWithHash(t testing.TB, email, hash string) (store.User, string) {
	t.Helper()
	u, err := s.st.CreateUser(context.Background(), email, hash, "")
	if err != nil {
		t.Fatalf("create user %s: %v", email, err)
	}
	token, err := s.tokens.Issue(u.ID, u.TokenVersion)
	if err != nil {
		t.Fatalf("issue token: %v", err)
	}
	return u, token
}

// response is an answer read in full.
type response = wiretest.Response

// rawBody is a request body sent exactly as given, for malformed input.
type rawBody = wiretest.Raw

// do sends a request: body nil sends none, rawBody (or a string) goes as
// is, anything else is JSON-encoded. headers are name, value pairs.
func (s *testServer) do(t testing.TB, method, path, token string, body any, headers ...string) response {
	t.Helper()
	resp, err := s.send(method, path, token, body, headers...)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp
}

// send is do for goroutines other than the test's, which must not call
// t.Fatal: it returns its failure instead.
func (s *testServer) send(method, path, token string, body any, headers ...string) (response, error) {
	return wiretest.Client{HTTP: s.srv.Client(), Base: s.srv.URL, Token: token}.Send(method, path, body, headers...)
}

// call sends a request, requires status want and decodes the JSON answer
// into out (unless out is nil).
func (s *testServer) call(t testing.TB, method, path, token string, body any, want int, out any, headers ...string) response {
	t.Helper()
	resp := s.do(t, method, path, token, body, headers...)
	if resp.Status != want {
		t.Fatalf("%s %s: status %d, want %d; body %s", method, path, resp.Status, want, resp.Body)
	}
	if out != nil {
		decodeJSON(t, resp, out)
	}
	return resp
}

// decodeJSON decodes a JSON answer, requiring the JSON content type.
func decodeJSON(t testing.TB, resp response, out any) {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type = %q, want application/json; body %s", ct, resp.Body)
	}
	if err := json.Unmarshal(resp.Body, out); err != nil {
		t.Fatalf("decode %s: %v", resp.Body, err)
	}
}

// apiError is the error body every failure has.
type apiError = wiretest.Error

// wantError requires resp to be the JSON error shape with status want and a
// detail naming each of fields.
func wantError(t testing.TB, resp response, want int, fields ...string) apiError {
	t.Helper()
	if resp.Status != want {
		t.Fatalf("status %d, want %d; body %s", resp.Status, want, resp.Body)
	}
	var e apiError
	decodeJSON(t, resp, &e)
	if e.StatusCode != want {
		t.Errorf("statusCode = %d, want %d", e.StatusCode, want)
	}
	if e.Error != http.StatusText(want) {
		t.Errorf("error = %q, want %q", e.Error, http.StatusText(want))
	}
	if e.Message == "" {
		t.Errorf("message is empty in %s", resp.Body)
	}
	for _, f := range fields {
		if msg, ok := e.Detail(f); !ok {
			t.Errorf("details name no %q field: %s", f, resp.Body)
		} else if msg == "" {
			t.Errorf("detail for %q has no message", f)
		}
	}
	return e
}

// The API's answers, as the shared wire structs read them.
type (
	webhookJSON = wiretest.Webhook
	page[T any] = wiretest.Page[T]
	statsJSON   = wiretest.Stats
	testResult  = wiretest.TestResult
	logJSON     = wiretest.Log
)

// createWebhook creates a webhook from body and returns it.
func (s *testServer) createWebhook(t testing.TB, token string, body map[string]any) webhookJSON {
	t.Helper()
	var w webhookJSON
	s.call(t, http.MethodPost, "/api/v1/webhooks", token, body, http.StatusCreated, &w)
	return w
}

// hookTo creates an active webhook for url subscribed to events.
func (s *testServer) hookTo(t testing.TB, token, url string, events ...string) webhookJSON {
	t.Helper()
	return s.createWebhook(t, token, map[string]any{"name": "hook", "url": url, "events": events})
}

// webhookIDs lists every webhook of the token's user, following cursors.
func (s *testServer) webhookIDs(t testing.TB, token string) []string {
	t.Helper()
	var ids []string
	path := "/api/v1/webhooks?limit=100"
	for range 100 {
		var p page[webhookJSON]
		s.call(t, http.MethodGet, path, token, nil, http.StatusOK, &p)
		for _, w := range p.Data {
			ids = append(ids, w.ID)
		}
		if p.NextCursor == nil {
			return ids
		}
		path = "/api/v1/webhooks?limit=100&cursor=" + *p.NextCursor
	}
	t.Fatalf("webhook list never ended")
	return nil
}

// getWebhook returns the raw answer of GET /api/v1/webhooks/:id, for
// comparing a webhook before and after a rejected write.
func (s *testServer) getWebhook(t testing.TB, token, id string) string {
	t.Helper()
	return string(s.call(t, http.MethodGet, "/api/v1/webhooks/"+id, token, nil, http.StatusOK, nil).Body)
}

func (s *testServer) stats(t testing.TB, token, webhookID string) statsJSON {
	t.Helper()
	var st statsJSON
	s.call(t, http.MethodGet, "/api/v1/webhooks/"+webhookID+"/stats", token, nil, http.StatusOK, &st)
	return st
}

// pending is how many deliveries of the webhook wait to be sent.
func (s *testServer) pending(t testing.TB, token, webhookID string) int64 {
	t.Helper()
	return s.stats(t, token, webhookID).PendingDeliveries
}

// sendTest makes a test send of eventType with payload and returns its
// outcome.
func (s *testServer) sendTest(t testing.TB, token, webhookID, eventType string, payload any) testResult {
	t.Helper()
	var res testResult
	s.call(t, http.MethodPost, "/api/v1/webhooks/"+webhookID+"/test", token,
		map[string]any{"eventType": eventType, "payload": payload}, http.StatusOK, &res)
	return res
}

// captured is one request a receiver got.
type captured struct {
	Method string
	Header http.Header
	Body   []byte
}

// receiver is a real HTTP endpoint that records what it gets. The status it
// answers with is the "respond" field of the delivered data, 200 without
// one, so each send chooses its own outcome; "bodyBytes" asks for an answer
// of that many bytes instead of "answer <status>".
type receiver struct {
	srv  *httptest.Server
	mu   sync.Mutex
	reqs []captured
}

func newReceiver(t testing.TB) *receiver {
	t.Helper()
	rc := &receiver{}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.reqs = append(rc.reqs, captured{Method: r.Method, Header: r.Header.Clone(), Body: body})
		rc.mu.Unlock()
		var env struct {
			Data struct {
				Respond   int `json:"respond"`
				BodyBytes int `json:"bodyBytes"`
			} `json:"data"`
		}
		_ = json.Unmarshal(body, &env)
		status := http.StatusOK
		if env.Data.Respond != 0 {
			status = env.Data.Respond
		}
		if status >= 300 && status < 400 {
			w.Header().Set("Location", "http://example.com/elsewhere")
		}
		w.WriteHeader(status)
		if env.Data.BodyBytes > 0 {
			_, _ = io.WriteString(w, strings.Repeat("r", env.Data.BodyBytes))
			return
		}
		_, _ = io.WriteString(w, "answer "+strconv.Itoa(status))
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) URL() string { return rc.srv.URL + "/hook" }

// requests returns what the receiver got so far. A test send returns only
// after the receiver answered, so no waiting is needed.
func (rc *receiver) requests() []captured {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.reqs)
}

// seedSignature computes the seed's X-Webhook-Signature independently of
// package delivery.
func seedSignature(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// standardSignature computes the Standard Webhooks signature independently
// of package delivery.
func standardSignature(t testing.TB, secret, id, timestamp string, body []byte) string {
	t.Helper()
	key := []byte(secret)
	if rest, ok := strings.CutPrefix(secret, "whsec_"); ok {
		var err error
		if key, err = base64.StdEncoding.DecodeString(rest); err != nil {
			t.Fatalf("secret %q is not whsec_ base64: %v", secret, err)
		}
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + timestamp + "."))
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// parseTime parses an API timestamp, which must be UTC with milliseconds.
func parseTime(t testing.TB, field, s string) time.Time {
	t.Helper()
	ts, err := time.Parse("2006-01-02T15:04:05.000Z", s)
	if err != nil {
		t.Fatalf("%s = %q, want UTC with milliseconds such as 2024-01-01T12:00:00.000Z: %v", field, s, err)
	}
	return ts
}

// wantRecent requires a timestamp to be a real time near now: not the zero
// time, not far off.
func wantRecent(t testing.TB, field string, s *string) time.Time {
	t.Helper()
	if s == nil {
		t.Fatalf("%s is null, want a recent time", field)
	}
	ts := parseTime(t, field, *s)
	if d := time.Since(ts); d < -time.Minute || d > 10*time.Minute {
		t.Fatalf("%s = %s, want a time near now (%s)", field, *s, time.Now().UTC().Format(time.RFC3339))
	}
	return ts
}
