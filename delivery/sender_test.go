package delivery

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// request returns a delivery attempt to url.
func request(url string) Request {
	return Request{
		DeliveryID: "0190b7a0-0000-7000-8000-000000000001", EventType: "message.new",
		OccurredAt: time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC), Data: []byte(`{"messageId":"msg_1","text":"<hi> & bye"}`),
		URL: url, Secret: "your-webhook-secret",
	}
}

func TestSenderSuccess(t *testing.T) {
	for _, code := range []int{200, 201, 202, 204, 299} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
				w.WriteHeader(code)
				_, _ = w.Write([]byte("thanks"))
			})
			out := newTestSender(t, 5*time.Second).Send(context.Background(), request(rc.URL))
			if !out.Success || out.StatusCode != code || out.Error != "" || out.Canceled {
				t.Errorf("Send() = success %v, status %d, error %q, canceled %v; want success, %d, no error",
					out.Success, out.StatusCode, out.Error, out.Canceled, code)
			}
			if code != http.StatusNoContent && string(out.ResponseBody) != "thanks" {
				t.Errorf("ResponseBody = %q, want %q", out.ResponseBody, "thanks")
			}
			if rc.count() != 1 {
				t.Errorf("receiver got %d requests, want 1", rc.count())
			}
		})
	}
}

func TestSenderFailures(t *testing.T) {
	refused := func(t *testing.T) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		return "http://" + addr + "/hook"
	}
	hangs := func(t *testing.T) string {
		return newReceiver(t, func(_ http.ResponseWriter, r *http.Request, _ int) { <-r.Context().Done() }).URL
	}
	hangsUp := func(t *testing.T) string {
		return newReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
		}).URL
	}
	tests := []struct {
		name       string
		url        func(t *testing.T) string
		wantStatus int
		wantError  string // a part of Outcome.Error
	}{
		{"500", func(t *testing.T) string { return newReceiver(t, status(500)).URL }, 500, "HTTP 500"},
		{"404", func(t *testing.T) string { return newReceiver(t, status(404)).URL }, 404, "HTTP 404"},
		{"429", func(t *testing.T) string { return newReceiver(t, status(429)).URL }, 429, "HTTP 429"},
		{"connection refused", refused, 0, "connection refused"},
		{"timeout", hangs, 0, "timeout"},
		{"connection closed without an answer", hangsUp, 0, "connection closed by the receiver"},
		{"invalid URL", func(*testing.T) string { return "://nope" }, 0, "invalid request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := newTestSender(t, 200*time.Millisecond).Send(context.Background(), request(tt.url(t)))
			if out.Success {
				t.Fatalf("Send() succeeded, want a failed attempt")
			}
			if out.Canceled {
				t.Errorf("Canceled = true, want false: the receiver failed, not webhookd")
			}
			if out.StatusCode != tt.wantStatus {
				t.Errorf("StatusCode = %d, want %d", out.StatusCode, tt.wantStatus)
			}
			if !strings.Contains(out.Error, tt.wantError) {
				t.Errorf("Error = %q, want it to contain %q", out.Error, tt.wantError)
			}
		})
	}
}

func TestSenderDNSFailure(t *testing.T) {
	out := newTestSender(t, 2*time.Second).Send(context.Background(), request("http://does-not-exist.invalid/hook"))
	if strings.HasPrefix(out.Error, "timeout") {
		t.Skipf("no DNS resolver answers here (%s); the DNS wording cannot be checked", out.Error)
	}
	if out.Success || !strings.HasPrefix(out.Error, "DNS:") || !strings.Contains(out.Error, "does-not-exist.invalid") {
		t.Errorf("Send() = success %v, error %q; want a failure naming DNS and the host", out.Success, out.Error)
	}
}

func TestSenderRetryAfter(t *testing.T) {
	rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
		w.Header().Set("Retry-After", "120")
		w.WriteHeader(http.StatusTooManyRequests)
	})
	out := newTestSender(t, 5*time.Second).Send(context.Background(), request(rc.URL))
	if out.Success || out.RetryAfter != 2*time.Minute {
		t.Errorf("Send() = success %v, RetryAfter %s; want a failure with RetryAfter 2m0s", out.Success, out.RetryAfter)
	}
}

func TestSenderCanceledIsNotAnAttempt(t *testing.T) {
	arrived := make(chan struct{}, 1)
	rc := newReceiver(t, func(_ http.ResponseWriter, r *http.Request, _ int) {
		arrived <- struct{}{}
		<-r.Context().Done()
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan Outcome, 1)
	go func() { done <- newTestSender(t, 10*time.Second).Send(ctx, request(rc.URL)) }()
	recv(t, "the request to arrive", arrived)
	cancel()
	out := recv(t, "Send to return", done)
	if !out.Canceled || out.Success {
		t.Errorf("Send() after cancel = canceled %v, success %v, error %q; want canceled", out.Canceled, out.Success, out.Error)
	}
}

func TestSenderDoesNotFollowRedirects(t *testing.T) {
	target := newReceiver(t, nil)
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		http.Redirect(w, r, target.URL+"/elsewhere", http.StatusFound)
	})
	out := newTestSender(t, 5*time.Second).Send(context.Background(), request(rc.URL))
	if out.Success || out.StatusCode != http.StatusFound || !strings.Contains(out.Error, "redirect not followed") {
		t.Errorf("Send() = success %v, status %d, error %q; want a failed 302 saying the redirect was not followed",
			out.Success, out.StatusCode, out.Error)
	}
	if n := target.count(); n != 0 {
		t.Errorf("redirect target got %d requests, want 0", n)
	}
}

func TestSenderTruncatesResponseBody(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 100<<10/16) // 100 KiB
	rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ int) { _, _ = w.Write(big) })
	out := newTestSender(t, 5*time.Second).Send(context.Background(), request(rc.URL))
	if !out.Success {
		t.Fatalf("Send() failed: %s", out.Error)
	}
	if len(out.ResponseBody) != MaxResponseBody || MaxResponseBody != 16<<10 {
		t.Errorf("kept %d bytes of the answer (MaxResponseBody %d), want the first 16 KiB", len(out.ResponseBody), MaxResponseBody)
	}
	if !bytes.Equal(out.ResponseBody, big[:len(out.ResponseBody)]) {
		t.Errorf("kept body is not the start of the answer")
	}
}

func TestSenderHeaders(t *testing.T) {
	rc := newReceiver(t, nil)
	s := NewSender(SenderConfig{Version: "1.2.3-test", Timeout: 5 * time.Second})
	t.Cleanup(s.Close)
	req := request(rc.URL)
	before := time.Now().Unix()
	out := s.Send(context.Background(), req)
	after := time.Now().Unix()
	if !out.Success {
		t.Fatalf("Send() failed: %s", out.Error)
	}
	got := rc.requests()
	if len(got) != 1 {
		t.Fatalf("receiver got %d requests, want 1", len(got))
	}
	h, body := got[0].Header, got[0].Body

	wantBody := Envelope(req.EventType, req.OccurredAt, req.Data)
	if !bytes.Equal(body, wantBody) {
		t.Errorf("body = %s, want %s", body, wantBody)
	}
	if !bytes.Equal(out.RequestBody, body) {
		t.Errorf("Outcome.RequestBody = %s, want the body sent, %s", out.RequestBody, body)
	}
	ts, err := strconv.ParseInt(h.Get("webhook-timestamp"), 10, 64)
	if err != nil || ts < before || ts > after {
		t.Errorf("webhook-timestamp = %q, want Unix seconds within [%d, %d]", h.Get("webhook-timestamp"), before, after)
	}
	want := map[string]string{
		"Content-Type":        "application/json",
		"User-Agent":          "webhookd/1.2.3-test",
		"X-Webhook-Event":     req.EventType,
		"X-Webhook-Id":        req.DeliveryID,
		"X-Webhook-Signature": SignatureHeader(req.Secret, body),
		"webhook-id":          req.DeliveryID,
		"webhook-timestamp":   strconv.FormatInt(ts, 10),
		"webhook-signature":   StandardSignature(req.Secret, req.DeliveryID, ts, body),
	}
	for name, v := range want {
		if got := h.Get(name); got != v {
			t.Errorf("header %s = %q, want %q", name, got, v)
		}
		if got := out.RequestHeaders[name]; got != v {
			t.Errorf("Outcome.RequestHeaders[%q] = %q, want %q (what was sent)", name, got, v)
		}
	}
}

// TestSenderKeepsHealthyConnections checks that failures at one receiver do
// not drop the keep-alive connections to another: retryablehttp closes the
// client's idle connections after every failed request unless the Sender
// hides that method.
func TestSenderKeepsHealthyConnections(t *testing.T) {
	var newConns atomic.Int64
	healthy := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok"))
	}))
	healthy.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			newConns.Add(1)
		}
	}
	healthy.Start()
	t.Cleanup(healthy.Close)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refusedURL := "http://" + ln.Addr().String()
	ln.Close()
	hanging := newReceiver(t, func(_ http.ResponseWriter, r *http.Request, _ int) { <-r.Context().Done() })
	hangsUp := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			conn.Close()
		}
	})
	failing := []string{refusedURL, hangsUp.URL, refusedURL, hanging.URL, refusedURL, hangsUp.URL}

	s := newTestSender(t, 300*time.Millisecond)
	for i := range 3 * len(failing) {
		if out := s.Send(context.Background(), request(healthy.URL)); !out.Success {
			t.Fatalf("send %d to the healthy receiver failed: %s", i, out.Error)
		}
		if out := s.Send(context.Background(), request(failing[i%len(failing)])); out.Success {
			t.Fatalf("send %d to a failing receiver succeeded", i)
		}
	}
	if n := newConns.Load(); n != 1 {
		t.Errorf("healthy receiver saw %d new connections over %d sends, want 1: failures elsewhere dropped its keep-alive connection",
			n, 3*len(failing))
	}
}

// TestSenderKeepsABurstsConnections sends two bursts of 200 concurrent
// requests to one receiver that answers only once the whole burst has
// arrived, so each burst needs 200 connections at once: the second must
// find the first's connections idle, not open them again. The sender kept
// 64 idle connections a host, and the second burst dialled 136 more.
func TestSenderKeepsABurstsConnections(t *testing.T) {
	const burst = 200
	var opened atomic.Int64
	var arrived atomic.Int64
	release := make(chan struct{})
	var mu sync.Mutex
	rc := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		ch := release
		mu.Unlock()
		if arrived.Add(1)%burst == 0 {
			close(ch)
		}
		<-ch
	}))
	rc.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			opened.Add(1)
		}
	}
	rc.Start()
	t.Cleanup(rc.Close)
	s := NewSender(SenderConfig{Version: "test", Timeout: 10 * time.Second, MaxConnsPerHost: 256})
	t.Cleanup(s.Close)
	for wave := range 2 {
		mu.Lock()
		release = make(chan struct{})
		mu.Unlock()
		var wg sync.WaitGroup
		for range burst {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if out := s.Send(context.Background(), request(rc.URL)); !out.Success {
					t.Errorf("burst %d: send failed: %s", wave+1, out.Error)
				}
			}()
		}
		wg.Wait()
	}
	if n := opened.Load(); n != burst {
		t.Errorf("two bursts of %d opened %d connections, want %d: the second should reuse the first's", burst, n, burst)
	}
}
