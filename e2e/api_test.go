package e2e

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/webhookd/webhookd/internal/wiretest"
)

// The wire structs the tests decode answers into, shared with the server
// and examples tests.
type (
	loginWire   = wiretest.Login
	webhookWire = wiretest.Webhook
	statsWire   = wiretest.Stats
)

// httpClient bounds every API call, so a hung webhookd fails the test.
var httpClient = &http.Client{Timeout: 30 * time.Second}

// api is the shared API client (internal/wiretest) bound to one test and
// one webhookd, so calls read as curl lines.
type api struct {
	t     testing.TB
	base  string
	token string // Bearer credential: a JWT or an API key
}

// client is the shared client for a's webhookd and credential.
func (a api) client() wiretest.Client {
	return wiretest.Client{HTTP: httpClient, Base: a.base, Token: a.token}
}

// jsonText is the request body for JSON text, nil for "".
func jsonText(text string) any {
	if text == "" {
		return nil
	}
	return text
}

// call sends body (JSON text, "" for none) and returns the status and body.
func (a api) call(method, path, text string) (int, []byte) {
	a.t.Helper()
	r := a.client().Do(a.t, method, path, jsonText(text))
	return r.Status, r.Body
}

// json calls and decodes the answer into out, failing t unless the status
// is want.
func (a api) json(method, path, text string, want int, out any) {
	a.t.Helper()
	a.client().JSON(a.t, method, path, jsonText(text), want, out)
}

// login logs in with the seed's request and returns the access token.
func login(t testing.TB, base, email, password string) string {
	t.Helper()
	var l loginWire
	api{t: t, base: base}.json(http.MethodPost, "/api/v1/auth/login", fmt.Sprintf(seedLoginBody, email, password), http.StatusOK, &l)
	if l.AccessToken == "" {
		t.Fatalf("login as %s: no accessToken", email)
	}
	return l.AccessToken
}

// createWebhook registers url for message.new and returns the webhook.
func createWebhook(t testing.TB, a api, url string) webhookWire {
	t.Helper()
	var w webhookWire
	a.json(http.MethodPost, "/api/v1/webhooks", fmt.Sprintf(`{"name":"e2e","url":%q,"events":["message.new"]}`, url), http.StatusCreated, &w)
	return w
}

// publish publishes n message.new events with data {"n": i}, each of which
// must fan out to exactly one webhook.
func publish(t testing.TB, a api, n int) {
	t.Helper()
	for i := range n {
		var ev wiretest.Accepted
		a.json(http.MethodPost, "/api/v1/events", fmt.Sprintf(`{"event":"message.new","data":{"n":%d}}`, i), http.StatusAccepted, &ev)
		if ev.ID == "" || ev.Deliveries != 1 {
			t.Fatalf("publish event %d: id %q, deliveries %d; want an id and 1 delivery", i, ev.ID, ev.Deliveries)
		}
	}
}

// stats is the webhook's delivery statistics.
func stats(t testing.TB, a api, hookID string) statsWire {
	t.Helper()
	var s statsWire
	a.json(http.MethodGet, "/api/v1/webhooks/"+hookID+"/stats", "", http.StatusOK, &s)
	return s
}

// waitSettled waits until the webhook has no pending deliveries and at
// least n successful ones recorded.
func waitSettled(t testing.TB, a api, hookID string, n int64) statsWire {
	t.Helper()
	var s statsWire
	waitFor(t, 30*time.Second, func() (bool, string) {
		s = stats(t, a, hookID)
		return s.PendingDeliveries == 0 && s.SuccessfulDeliveries >= n,
			fmt.Sprintf("0 pending and %d successful deliveries in the stats, have %+v", n, s)
	})
	return s
}
