package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

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
		var l struct {
			Data []struct {
				Status string  `json:"status"`
				Error  *string `json:"error"`
			} `json:"data"`
		}
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
