package server_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/webhookd/webhookd/delivery"
	"github.com/webhookd/webhookd/netguard"
	"github.com/webhookd/webhookd/netguard/netguardtest"
	"github.com/webhookd/webhookd/server"
	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

// guardSpellings are ways of writing an internal address (issue 12, item
// 1), each with the words its refusal must use: the class of address.
var guardSpellings = []struct{ url, class string }{
	{"http://[::1%251]:8080/", "loopback IPv6 address with a zone"},
	{"http://[::1%25lo]:8080/", "loopback IPv6 address with a zone"},
	{"http://[fe80::1%25eth0]/", "link-local IPv6 address with a zone"},
	{"http://[fd00:ec2::254%25eth0]/", "private) IPv6 address with a zone"},
	{"http://[0:0:0:0:0:0:0:1%25lo]:8080/", "loopback IPv6 address with a zone"},
	{"http://2130706433/", "loopback"},
	{"http://0177.0.0.1/", "loopback"},
	{"http://0x7f.1/", "loopback"},
	{"http://127.1/", "loopback"},
	{"http://127.000.000.001/", "loopback"},
	{"http://0xa9.254.169.254/latest/meta-data/", "link-local"},
	{"http://[::ffff:127.0.0.1]/", "loopback"},
	{"http://[::ffff:7f00:1]/", "loopback"},
	{"http://[64:ff9b::7f00:1]/", "NAT64"},
	{"http://[2002:7f00:1::]/", "6to4"},
	{"http://[::127.0.0.1]/", "IPv4-compatible"},
	{"http://0.0.0.0:8080/", `"this network"`},
	{"http://[::]:8080/", "unspecified"},
	{"http://localhost.:8080/", "loopback host"},
	{"http://%EF%BC%91%EF%BC%92%EF%BC%97.0.0.1/", "non-ASCII"},
	{"http://db.internal.test/", "resolves to a private (RFC 1918) address"},
	{"http://metadata.internal.test/latest/meta-data/", "resolves to a link-local"},
}

// TestGuardRefusesSpellings saves each spelling through POST, PUT and PATCH
// on both databases: a 400 on url that says what kind of address it is and
// never what a name resolved to, and nothing stored.
func TestGuardRefusesSpellings(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		resolver := netguardtest.Resolver(t, map[string][]netip.Addr{
			"db.internal.test":       {netip.MustParseAddr("10.20.30.40")},
			"metadata.internal.test": {netip.MustParseAddr("169.254.169.254")},
			"public.example.test":    {netip.MustParseAddr("93.184.216.34")},
		})
		guard := netguard.Policy{Resolver: resolver}
		s := newTestServer(t, st, func(c *server.Config) { c.CheckURL = guard.CheckURL })
		_, token := s.user(t, "a@example.com")
		hook := s.hookTo(t, token, "https://public.example.test/hook", "*")
		before := s.getWebhook(t, token, hook.ID)
		for _, sp := range guardSpellings {
			for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodPatch} {
				path, body := "/api/v1/webhooks/"+hook.ID, map[string]any{"url": sp.url}
				if method == http.MethodPost {
					path, body = "/api/v1/webhooks", validHook(body)
				}
				e := wantError(t, s.do(t, method, path, token, body), http.StatusBadRequest, "url")
				msg, _ := e.Detail("url")
				if !strings.Contains(msg, sp.class) {
					t.Errorf("%s %s: url detail %q, want it to say %q", method, sp.url, msg, sp.class)
				}
				for _, internal := range []string{"10.20.30.40", "169.254.169.254"} {
					if strings.Contains(sp.url, "internal.test") && strings.Contains(e.Message+msg, internal) {
						t.Errorf("%s %s: %q names the address the host resolved to", method, sp.url, msg)
					}
				}
			}
		}
		if ids := s.webhookIDs(t, token); len(ids) != 1 {
			t.Errorf("%d webhooks after refused creates, want 1", len(ids))
		}
		if after := s.getWebhook(t, token, hook.ID); after != before {
			t.Errorf("a refused update changed the webhook:\nbefore %s\n after %s", before, after)
		}
	})
}

// TestTestSendZonedLoopback sends a test event to a webhook stored with a
// zoned loopback URL (saved before the guard refused those, or straight
// into the database): the receiver on [::1] must not be reached and its
// answer must not come back, even with --allow-private-targets.
func TestTestSendZonedLoopback(t *testing.T) {
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("this machine has no IPv6 loopback, so there is no zoned receiver to test: %v", err)
	}
	var hits atomic.Int32
	rc := &httptest.Server{Listener: ln, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = io.WriteString(w, "internal answer: secret-admin-data")
	})}}
	rc.Start()
	t.Cleanup(rc.Close)
	port := ln.Addr().(*net.TCPAddr).Port
	lo := ""
	if ifs, err := net.Interfaces(); err == nil {
		for _, i := range ifs {
			if i.Flags&net.FlagLoopback != 0 {
				lo = i.Name
			}
		}
	}
	if lo == "" {
		t.Skip("no loopback interface to name in a zone")
	}
	targets := []string{
		fmt.Sprintf("http://[::1%%25%s]:%d/hook", lo, port),
		fmt.Sprintf("http://[::1%%251]:%d/hook", port),
		fmt.Sprintf("http://[0:0:0:0:0:0:0:1%%25%s]:%d/hook", lo, port),
	}
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		for _, guard := range []netguard.Policy{{}, {AllowPrivate: true}} {
			// As serve wires it: the guard at save time and on every dial.
			sender := delivery.NewSender(delivery.SenderConfig{Version: "test", Timeout: 10 * time.Second, DialControl: guard.Control})
			t.Cleanup(sender.Close)
			s := newTestServer(t, st, func(c *server.Config) {
				c.CheckURL = guard.CheckURL
				c.Sender = delivery.TestSender{Sender: sender, Store: st}
			})
			u, token := s.user(t, fmt.Sprintf("private-%v@example.com", guard.AllowPrivate))
			for _, target := range targets {
				w, err := st.CreateWebhook(context.Background(), store.CreateWebhookParams{
					TenantID: u.ID, Name: "zoned", URL: target, Events: []string{"*"}, Secret: "zoned-secret-0123456", IsActive: true,
				})
				if err != nil {
					t.Fatalf("store the webhook: %v", err)
				}
				res := s.sendTest(t, token, w.ID, "message.new", map[string]string{"hello": "world"})
				if res.Success || res.Error == nil || !strings.Contains(*res.Error, "not allowed") {
					t.Errorf("allowPrivate=%v: test send to %s = %+v, want a failure saying the address is not allowed", guard.AllowPrivate, target, res)
				}
				if res.ResponseBody != nil && strings.Contains(*res.ResponseBody, "internal answer") {
					t.Errorf("allowPrivate=%v: test send to %s handed back the internal answer %q", guard.AllowPrivate, target, *res.ResponseBody)
				}
			}
		}
	})
	if n := hits.Load(); n != 0 {
		t.Errorf("the receiver on [::1] got %d requests, want none", n)
	}
}
