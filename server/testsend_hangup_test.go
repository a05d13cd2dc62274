package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/webhookd/webhookd/server"
	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

// hangupWatch passes test sends on and closes gone when the request that
// asked for one is over (its context is done), so a test can act after
// the server has seen the caller hang up.
type hangupWatch struct {
	server.TestSender
	gone chan struct{}
}

func (h hangupWatch) SendTest(ctx context.Context, w store.Webhook, eventType string, payload []byte) (store.Log, error) {
	go func() {
		<-ctx.Done()
		close(h.gone)
	}()
	return h.TestSender.SendTest(ctx, w, eventType, payload)
}

// TestTestSendCallerHangsUp checks that an API caller who hangs up during
// POST /webhooks/{id}/test does not get the attempt recorded as
// "canceled: webhookd was shutting down": the send goes on and its log
// holds the receiver's answer (issue 14 item 7).
func TestTestSendCallerHangsUp(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		arrived, release := make(chan struct{}, 1), make(chan struct{})
		rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			arrived <- struct{}{}
			select {
			case <-release:
				w.WriteHeader(http.StatusOK)
			case <-r.Context().Done():
			}
		}))
		t.Cleanup(rc.Close)
		t.Cleanup(func() {
			select {
			case <-release:
			default:
				close(release)
			}
		})
		gone := make(chan struct{})
		s := newTestServer(t, st, func(c *server.Config) { c.Sender = hangupWatch{TestSender: c.Sender, gone: gone} })
		u, token := s.user(t, "a@example.com")
		hook := s.hookTo(t, token, rc.URL, "*")

		ctx, cancel := context.WithCancel(context.Background())
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.srv.URL+"/api/v1/webhooks/"+hook.ID+"/test", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		callDone := make(chan error, 1)
		go func() {
			resp, err := s.srv.Client().Do(req)
			if err == nil {
				resp.Body.Close()
			}
			callDone <- err
		}()
		wait := func(what string, ch <-chan struct{}) {
			t.Helper()
			select {
			case <-ch:
			case <-time.After(30 * time.Second):
				t.Fatalf("timed out waiting for %s", what)
			}
		}
		wait("the test send to reach the receiver", arrived)
		cancel()
		if err := <-callDone; err == nil {
			t.Fatal("the canceled API call got an answer")
		}
		wait("the server to see the caller hang up", gone)
		close(release)

		var logs []store.Log
		deadline := time.Now().Add(30 * time.Second)
		for len(logs) == 0 && time.Now().Before(deadline) {
			if logs, _, err = st.ListLogs(context.Background(), u.ID, hook.ID, store.LogFilter{Page: store.Page{Limit: 10}}); err != nil {
				t.Fatal(err)
			}
			if len(logs) == 0 {
				time.Sleep(20 * time.Millisecond)
			}
		}
		if len(logs) != 1 {
			t.Fatalf("%d logged attempts, want the test send's one", len(logs))
		}
		l := logs[0]
		if !l.Test || l.Status != store.AttemptSuccess || l.StatusCode != http.StatusOK || strings.Contains(l.Error, "shutting down") {
			t.Errorf("test send logged as test %v, %s, HTTP %d, error %q; want a successful test attempt with the receiver's 200", l.Test, l.Status, l.StatusCode, l.Error)
		}
	})
}
