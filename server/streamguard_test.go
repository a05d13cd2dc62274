package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/webhookd/webhookd/auth"
	"github.com/webhookd/webhookd/server"
	"github.com/webhookd/webhookd/store/storetest"
)

// withStreamCaps sets the stream caps, as --max-streams and
// --max-streams-per-user do.
func withStreamCaps(total, perUser int) serverOption {
	return func(c *server.Config) { c.MaxStreams, c.MaxStreamsPerUser = total, perUser }
}

// wantStreamRefused asks for a stream and wants the 429 of the limit named.
func wantStreamRefused(t *testing.T, s *testServer, path, token, limit string) {
	t.Helper()
	resp := s.do(t, http.MethodGet, path, token, nil)
	e := wantError(t, resp, http.StatusTooManyRequests)
	if !strings.Contains(e.Message, "("+limit+")") {
		t.Errorf("429 message %q, want it to name the limit %s", e.Message, limit)
	}
	if resp.Header.Get("Retry-After") == "" {
		t.Errorf("429 without Retry-After")
	}
}

// Issue 12 item 7: streams are capped per user and in all.
func TestStreamCaps(t *testing.T) {
	storetest.EachTarget(t, func(t *testing.T, db string) {
		st := storetest.Open(t, db)
		s := newTestServer(t, st, withStreamCaps(3, 2))
		_, alice := cheapUser(t, s, "alice@example.com")
		_, bob := cheapUser(t, s, "bob@example.com")
		_, carol := cheapUser(t, s, "carol@example.com")
		hook := s.hookTo(t, alice, newReceiver(t).URL(), "*")
		logPath := "/api/v1/webhooks/" + hook.ID + "/logs/stream"
		const inboxPath = "/api/v1/inboxes/demo/stream"

		// Both kinds of stream count against one per-user cap.
		first := openStream(t, s, logPath, alice)
		openStream(t, s, inboxPath, alice)
		wantStreamRefused(t, s, inboxPath, alice, "max-streams-per-user")
		wantStreamRefused(t, s, logPath, alice, "max-streams-per-user")
		// Another user has their own share, up to the total.
		openStream(t, s, inboxPath, bob)
		wantStreamRefused(t, s, inboxPath, carol, "max-streams")
		wantStreamRefused(t, s, inboxPath, bob, "max-streams")

		// A stream that ends gives its place back (once its handler has
		// returned, a moment after the reader leaves).
		first.close()
		deadline := time.Now().Add(30 * time.Second)
		for {
			resp, err := streamStatus(s, inboxPath, carol)
			if err != nil {
				t.Fatal(err)
			}
			if resp == http.StatusOK {
				break
			}
			if resp != http.StatusTooManyRequests || time.Now().After(deadline) {
				t.Fatalf("stream after one closed: status %d, want 200 within 30s", resp)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}

// streamStatus opens a stream, reads its status and closes it.
func streamStatus(s *testServer, path, token string) (int, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.srv.URL+path, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// wantEnded waits for a stream's "end" event, with the reason, and its
// close.
func wantEnded(t *testing.T, name string, es *eventStream, reason string) {
	t.Helper()
	for {
		select {
		case ev, open := <-es.events:
			if !open {
				t.Errorf("%s: stream closed without an end event", name)
				return
			}
			if ev.Name != "end" {
				continue // an attempt or capture sent before the end
			}
			var end struct{ Reason string }
			if err := json.Unmarshal(ev.Data, &end); err != nil || !strings.Contains(end.Reason, reason) {
				t.Errorf("%s: end event %s, want reason %q", name, ev.Data, reason)
			}
			select {
			case _, open := <-es.events:
				if open {
					t.Errorf("%s: event after end", name)
				}
			case <-time.After(30 * time.Second):
				t.Errorf("%s: stream still open 30s after its end event", name)
			}
			return
		case <-time.After(30 * time.Second):
			t.Errorf("%s: stream still open 30s after its credential ended", name)
			return
		}
	}
}

// Issue 12 item 7: an open stream ends when its credential stops being
// valid, by the same rule as a new request.
func TestStreamsEndWithTheirCredential(t *testing.T) {
	storetest.EachTarget(t, func(t *testing.T, db string) {
		st := storetest.Open(t, db)
		s := newTestServer(t, st, func(c *server.Config) { c.StreamRecheck = 100 * time.Millisecond })
		ctx := context.Background()
		rc := newReceiver(t)
		// bystander's stream stays open through everyone else's endings.
		_, bystander := cheapUser(t, s, "bystander@example.com")
		stays := openStream(t, s, "/api/v1/inboxes/demo/stream", bystander)

		cases := []struct {
			name   string
			reason string
			// open returns the credential to stream with; end ends it.
			open func(t *testing.T, token string) string
			end  func(t *testing.T, userID, token, credential string)
		}{
			// Disabling ends the user's tokens as a password change does.
			{name: "user disabled", reason: "invalid or expired token",
				end: func(t *testing.T, userID, _, _ string) {
					if err := st.SetUserDisabled(ctx, userID, true); err != nil {
						t.Fatal(err)
					}
				}},
			// The log stream may see its webhook gone first; either reason
			// will do.
			{name: "user deleted", reason: "",
				end: func(t *testing.T, userID, _, _ string) {
					if err := st.DeleteUser(ctx, userID); err != nil {
						t.Fatal(err)
					}
				}},
			{name: "password changed", reason: "invalid",
				end: func(t *testing.T, userID, _, _ string) {
					if err := st.SetPassword(ctx, userID, cheapHash(t, "another password entirely")); err != nil {
						t.Fatal(err)
					}
				}},
			{name: "API key revoked", reason: "invalid",
				open: func(t *testing.T, token string) string { return newAPIKey(t, s, token, "streamer").Key },
				end: func(t *testing.T, _, token, key string) {
					var keys page[apiKeyJSON]
					s.call(t, http.MethodGet, "/api/v1/api-keys", token, nil, http.StatusOK, &keys)
					for _, k := range keys.Data {
						if strings.HasPrefix(key, k.Prefix) {
							s.call(t, http.MethodDelete, "/api/v1/api-keys/"+k.ID, token, nil, http.StatusNoContent, nil)
						}
					}
				}},
			{name: "API key's user disabled", reason: "disabled",
				open: func(t *testing.T, token string) string { return newAPIKey(t, s, token, "streamer").Key },
				end: func(t *testing.T, userID, _, _ string) {
					if err := st.SetUserDisabled(ctx, userID, true); err != nil {
						t.Fatal(err)
					}
				}},
			{name: "token expired", reason: "expired",
				// A token with seconds to live, signed as the server's are;
				// it ends on its own.
				open: func(t *testing.T, token string) string {
					short, err := auth.NewTokens(testJWTSecret, 5*time.Second)
					if err != nil {
						t.Fatal(err)
					}
					id, version, err := s.tokens.Verify(token)
					if err != nil {
						t.Fatal(err)
					}
					tok, err := short.Issue(id, version)
					if err != nil {
						t.Fatal(err)
					}
					return tok
				},
				end: func(*testing.T, string, string, string) {}},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				u, token := cheapUser(t, s, strings.ReplaceAll(c.name, " ", "-")+"@example.com")
				credential := token
				if c.open != nil {
					credential = c.open(t, token)
				}
				hook := s.hookTo(t, token, rc.URL(), "*")
				logs := openStream(t, s, "/api/v1/webhooks/"+hook.ID+"/logs/stream", credential)
				box := openStream(t, s, "/api/v1/inboxes/demo/stream", credential)
				c.end(t, u.ID, token, credential)
				wantEnded(t, "log stream", logs, c.reason)
				wantEnded(t, "inbox stream", box, c.reason)
			})
		}
		// The rule ends only streams whose credential ended.
		resp, err := http.Post(s.srv.URL+"/inbox/demo", "text/plain", strings.NewReader("still here"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if ev := stays.next(t); ev.Name != "capture" {
			t.Errorf("bystander's stream sent %q, want the capture", ev.Name)
		}
	})
}
