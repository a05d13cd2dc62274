package e2e

import (
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/webhookd/webhookd/internal/wiretest"
	"github.com/webhookd/webhookd/store/storetest"
)

// TestE2EPrivateTargetGuard checks that without --allow-private-targets a
// webhook can neither be saved for a private address, by literal or by a
// name that resolves to one, nor be delivered to one: a webhook saved while
// the flag was on (as a DNS answer that changed after the check would be)
// is refused on the address actually dialled.
func TestE2EPrivateTargetGuard(t *testing.T) {
	t.Parallel()
	storetest.EachTarget(t, func(t *testing.T, db string) {
		t.Parallel()
		rc := newReceiver(t)
		port := rc.URL[strings.LastIndex(rc.URL, ":"):]
		// /etc/hosts maps this machine's own name to 127.0.0.1.
		byName := "http://vm" + port + "/hook"

		open := startServe(t, db, adminEnv)
		a := api{t: t, base: open.URL, token: login(t, open.URL, adminEmail, adminPassword)}
		hook := createWebhook(t, a, byName)
		open.stop()

		guarded := startServe(t, db, append(adminEnv, "WEBHOOKD_ALLOW_PRIVATE_TARGETS=false"), deliveryArgs...)
		a.base = guarded.URL
		for _, url := range []string{rc.URL + "/hook", byName, "http://169.254.169.254/latest/meta-data/", "http://[::1]:9/x", "http://localhost:3000/x"} {
			code, body := a.call(http.MethodPost, "/api/v1/webhooks", `{"name":"x","url":"`+url+`","events":["*"]}`)
			if code != http.StatusBadRequest || !strings.Contains(string(body), "--allow-private-targets") || !strings.Contains(string(body), `"field":"url"`) {
				t.Errorf("create %s: %d %s; want 400 on url naming --allow-private-targets", url, code, body)
			}
		}
		var l wiretest.Page[wiretest.Log]
		publish(t, a, 1)
		waitFor(t, 30*time.Second, func() (bool, string) {
			a.json(http.MethodGet, "/api/v1/webhooks/"+hook.ID+"/logs", "", http.StatusOK, &l)
			return len(l.Data) > 0, "a logged attempt"
		})
		if l.Data[0].Status != "failed" || l.Data[0].Error == nil || !strings.Contains(*l.Data[0].Error, "not allowed") {
			t.Errorf("attempt to a private address: %+v, want failed as not allowed", l.Data[0])
		}
		if got := len(rc.all()); got != 0 {
			t.Errorf("the private receiver got %d requests, want none", got)
		}
	})
}

// TestE2EInboxNeedsNoPrivateTargets checks the one exception to the guard:
// without --allow-private-targets a webhook may target this process's own
// inbox, on its own port and nowhere else on loopback, and its deliveries
// arrive there verified; --inbox=false takes the exception away.
func TestE2EInboxNeedsNoPrivateTargets(t *testing.T) {
	t.Parallel()
	storetest.EachTarget(t, func(t *testing.T, db string) {
		t.Parallel()
		guarded := startServe(t, db, append(adminEnv, "WEBHOOKD_ALLOW_PRIVATE_TARGETS=false"), deliveryArgs...)
		a := api{t: t, base: guarded.URL, token: login(t, guarded.URL, adminEmail, adminPassword)}
		port := guarded.URL[strings.LastIndex(guarded.URL, ":"):]
		// Another port on loopback, held so that it stays another.
		held, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("hold a port: %v", err)
		}
		defer held.Close()
		other := held.Addr().String()

		hook := createWebhook(t, a, guarded.URL+"/inbox/e2e")
		// By name too; for another event type, so that each event below
		// fans out to one webhook.
		a.json(http.MethodPost, "/api/v1/webhooks", `{"name":"by name","url":"http://localhost`+port+`/inbox/by-name","events":["conversation.created"]}`,
			http.StatusCreated, nil)
		for _, url := range []string{
			guarded.URL + "/api/v1/webhooks",               // this process, but not its inbox
			"http://" + other + "/inbox/e2e",               // an inbox path on another port
			"http://localhost" + port + "/inbox/",          // no inbox name
			"http://169.254.169.254" + port + "/inbox/e2e", // this port, not loopback
		} {
			code, body := a.call(http.MethodPost, "/api/v1/webhooks", `{"name":"x","url":"`+url+`","events":["*"]}`)
			if code != http.StatusBadRequest || !strings.Contains(string(body), "--allow-private-targets") {
				t.Errorf("create %s: %d %s; want 400 naming --allow-private-targets", url, code, body)
			}
		}

		publish(t, a, 1)
		var captures struct {
			Data []struct {
				Body      string `json:"body"`
				Signature string `json:"signature"`
				WebhookID string `json:"webhookId"`
			} `json:"data"`
		}
		waitFor(t, 30*time.Second, func() (bool, string) {
			a.json(http.MethodGet, "/api/v1/inboxes/e2e", "", http.StatusOK, &captures)
			return len(captures.Data) > 0, "a delivery in the inbox"
		})
		if c := captures.Data[0]; c.Signature != "verified" || c.WebhookID != hook.ID || !strings.Contains(c.Body, `"data":{"n":0}`) {
			t.Errorf("inbox capture = %+v, want the published event, verified for webhook %s", c, hook.ID)
		}
		var s statsWire
		waitFor(t, 30*time.Second, func() (bool, string) {
			s = stats(t, a, hook.ID)
			return s.SuccessfulDeliveries == 1, "one successful delivery"
		})
		guarded.stop()

		off := startServe(t, db, append(adminEnv, "WEBHOOKD_ALLOW_PRIVATE_TARGETS=false"), "--inbox=false", "--console=false")
		a.base = off.URL
		offPort := off.URL[strings.LastIndex(off.URL, ":"):]
		code, body := a.call(http.MethodPost, "/api/v1/webhooks", `{"name":"x","url":"http://127.0.0.1`+offPort+`/inbox/e2e","events":["*"]}`)
		if code != http.StatusBadRequest {
			t.Errorf("with --inbox=false, create an inbox webhook: %d %s, want 400", code, body)
		}
		for _, path := range []string{"/", "/console/app.js", "/inbox/e2e"} {
			if code, _ := (api{t: t, base: off.URL}).call(http.MethodGet, path, ""); code != http.StatusNotFound {
				t.Errorf("with --inbox=false --console=false, GET %s = %d, want 404", path, code)
			}
		}
	})
}

// TestE2EInboxExemptionIsThisListenerOnly checks that the inbox exemption
// opens the loopback address webhookd is bound to and no other (issue 12,
// item 1): bound to 127.0.0.1, the same port on [::1] may be another
// process, which neither a saved URL nor the address dialled for localhost
// may reach; an inbox path that a server cleaning paths reads as another
// route is refused too.
func TestE2EInboxExemptionIsThisListenerOnly(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "webhookd.db")
	guarded := startServe(t, db, append(adminEnv, "WEBHOOKD_ALLOW_PRIVATE_TARGETS=false"), deliveryArgs...)
	a := api{t: t, base: guarded.URL, token: login(t, guarded.URL, adminEmail, adminPassword)}
	port := guarded.URL[strings.LastIndex(guarded.URL, ":"):]
	ln, err := net.Listen("tcp6", "[::1]"+port)
	if err != nil {
		t.Skipf("no second listener on [::1]%s: %v", port, err)
	}
	var reached atomic.Int64
	other := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached.Add(1) })}
	go other.Serve(ln)
	t.Cleanup(func() { other.Close() })

	for _, url := range []string{
		"http://[::1]" + port + "/inbox/x",
		"http://127.0.0.2" + port + "/inbox/x",
		guarded.URL + "/inbox/../admin",
		guarded.URL + "/inbox/x%2f..%2f..%2fadmin",
	} {
		code, body := a.call(http.MethodPost, "/api/v1/webhooks", `{"name":"x","url":"`+url+`","events":["*"]}`)
		if code != http.StatusBadRequest || !strings.Contains(string(body), "--allow-private-targets") {
			t.Errorf("create %s: %d %s; want 400 naming --allow-private-targets", url, code, body)
		}
	}
	// localhost is both addresses: the dial to [::1] is refused and the one
	// to 127.0.0.1 reaches this process's inbox.
	hook := createWebhook(t, a, "http://localhost"+port+"/inbox/mine")
	var out struct {
		Success bool `json:"success"`
	}
	for range 3 {
		a.json(http.MethodPost, "/api/v1/webhooks/"+hook.ID+"/test", "", http.StatusOK, &out)
		if !out.Success {
			t.Errorf("test send to this process's inbox by localhost failed")
		}
	}
	if n := reached.Load(); n != 0 {
		t.Errorf("the other process on [::1]%s got %d requests, want none", port, n)
	}
}
