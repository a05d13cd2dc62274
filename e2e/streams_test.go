package e2e

// Issue 12 item 7 on the real binary: --max-streams-per-user refuses the
// stream past it, and `webhookd user disable` ends a stream opened before.

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/webhookd/webhookd/internal/wiretest"
	"github.com/webhookd/webhookd/store/storetest"
)

func TestE2EStreamCapAndEnd(t *testing.T) {
	storetest.EachTarget(t, func(t *testing.T, db string) {
		p := startServe(t, db, adminEnv, "--max-streams-per-user", "1", "--max-streams", "5",
			"--write-timeout", "10s", "--max-connections", "100")
		token := login(t, p.URL, adminEmail, adminPassword)
		open := func() *http.Response {
			ctx, cancel := context.WithCancel(context.Background())
			t.Cleanup(cancel)
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+"/api/v1/inboxes/e2e/stream", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := http.DefaultClient.Do(req) // no timeout: a stream
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { resp.Body.Close() })
			return resp
		}
		stream := open()
		if stream.StatusCode != http.StatusOK {
			t.Fatalf("first stream: status %d, want 200", stream.StatusCode)
		}
		events := bufio.NewScanner(stream.Body)
		if !events.Scan() || events.Text() != "event: ready" {
			t.Fatalf("first stream starts %q, want event: ready", events.Text())
		}

		second := open()
		var e wiretest.Error
		if err := json.NewDecoder(second.Body).Decode(&e); err != nil {
			t.Fatal(err)
		}
		if second.StatusCode != http.StatusTooManyRequests || !strings.Contains(e.Message, "max-streams-per-user") || second.Header.Get("Retry-After") == "" {
			t.Errorf("second stream: %d %q (Retry-After %q), want 429 naming max-streams-per-user", second.StatusCode, e.Message, second.Header.Get("Retry-After"))
		}

		mustWebhookd(t, nil, "", "user", "disable", "--db", db, "--email", adminEmail)
		// The stream ends with an end event within a few seconds (the
		// scanner's reads are bounded by the 30s below).
		ended := make(chan string, 1)
		go func() {
			var last string
			for events.Scan() {
				if line := events.Text(); strings.HasPrefix(line, "event: ") {
					last = line
				}
			}
			ended <- last
		}()
		select {
		case last := <-ended:
			if last != "event: end" {
				t.Errorf("stream closed after %q, want event: end last", last)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("stream still open 30s after user disable")
		}
	})
}
