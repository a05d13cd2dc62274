package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

// TestInboxCapturesStayPrivate is issue 12, item 6: a user's deliveries to
// the inbox, custom Authorization header and all, are shown to that user
// alone, in the list and live, even (a) when the body is over the inbox's
// 1 MiB limit, and (b) when hundreds of other users' webhooks, created
// first, point at similar inbox URLs.
func TestInboxCapturesStayPrivate(t *testing.T) {
	storetest.EachTarget(t, func(t *testing.T, db string) {
		st := storetest.Open(t, db)
		h := newOpsHarness(t, st, opsSetup{})
		_, aliceToken := h.user(t, "alice@example.com")
		bob, bobToken := h.user(t, "bob@example.com")
		mallory, _ := h.user(t, "mallory@example.com")
		inboxURL := h.srv.URL + "/inbox/demo"

		// (b) 210 webhooks of other users, older than alice's, at URLs that
		// mention /inbox/demo: other inboxes, and this one with a query.
		ctx := context.Background()
		for i := range 210 {
			owner := []string{bob.ID, mallory.ID}[i%2]
			url := []string{inboxURL + fmt.Sprint(i), inboxURL + "/", inboxURL + "?x=" + fmt.Sprint(i)}[i%3]
			if _, err := st.CreateWebhook(ctx, store.CreateWebhookParams{TenantID: owner, Name: "decoy", URL: url,
				Events: []string{"*"}, Secret: fmt.Sprintf("decoy-secret-%d", i), IsActive: true}); err != nil {
				t.Fatalf("create decoy %d: %v", i, err)
			}
		}
		const credential = "Bearer alice-receiver-credential"
		hook := h.createWebhook(t, aliceToken, map[string]any{"name": "inbox", "url": inboxURL, "events": []string{"*"},
			"headers": map[string]string{"Authorization": credential}})

		aliceLive := openStream(t, h.testServer, "/api/v1/inboxes/demo/stream", aliceToken)
		bobLive := openStream(t, h.testServer, "/api/v1/inboxes/demo/stream", bobToken)
		// marker posts a capture that must be anyone's: bob's next live
		// capture must be it, proving none of alice's came before.
		marker := func(text string, headers ...string) {
			t.Helper()
			req, err := http.NewRequest(http.MethodPost, inboxURL, strings.NewReader(text))
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i+1 < len(headers); i += 2 {
				req.Header.Set(headers[i], headers[i+1])
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("POST %s = %d, want 200", inboxURL, resp.StatusCode)
			}
			var c capture
			if err := json.Unmarshal(bobLive.next(t).Data, &c); err != nil {
				t.Fatal(err)
			}
			if c.Body != text || c.WebhookID != "" {
				t.Fatalf("bob's next live capture = %.200q from webhook %q, want the anonymous %q", c.Body, c.WebhookID, text)
			}
			c = capture{}
			if err := json.Unmarshal(aliceLive.next(t).Data, &c); err != nil || c.Body != text || c.WebhookID != "" {
				t.Fatalf("alice's next live capture = %.200q from webhook %q (%v), want the anonymous %q", c.Body, c.WebhookID, err, text)
			}
		}
		aliceNext := func(what string) capture {
			t.Helper()
			var c capture
			if err := json.Unmarshal(aliceLive.next(t).Data, &c); err != nil {
				t.Fatal(err)
			}
			if c.WebhookID != hook.ID || len(c.Headers["Authorization"]) != 1 || c.Headers["Authorization"][0] != credential {
				t.Fatalf("alice's live %s = webhook %q, Authorization %q; want hers, with her header", what, c.WebhookID, c.Headers["Authorization"])
			}
			return c
		}

		// A delivery through the dispatcher, found in the store by its id.
		h.opsPublish(t, aliceToken, "message.new", map[string]string{"text": "small"})
		if c := aliceNext("delivery"); c.Signature != "verified" {
			t.Errorf("alice's delivery: signature %q, want verified", c.Signature)
		}
		marker("one")

		// (a) A delivery over the 1 MiB body limit: not verified, still hers.
		big := map[string]string{"pad": strings.Repeat("x", 1<<20-20)}
		h.opsPublish(t, aliceToken, "message.new", big)
		if c := aliceNext("oversized delivery"); c.Signature != "invalid" {
			t.Errorf("alice's oversized delivery: signature %q, want invalid (truncated)", c.Signature)
		}
		marker("two")

		// A test send, announced to the inbox before it is stored; small,
		// then oversized.
		if res := h.sendTest(t, aliceToken, hook.ID, "message.new", map[string]string{"text": "test"}); !res.Success {
			t.Fatalf("test send = %+v, want success", res)
		}
		if c := aliceNext("test send"); c.Signature != "verified" {
			t.Errorf("alice's test send: signature %q, want verified", c.Signature)
		}
		h.sendTest(t, aliceToken, hook.ID, "message.new", big)
		aliceNext("oversized test send")
		marker("three")

		// Captures naming deliveries they are not are anyone's, and
		// invalid; one naming alice's real delivery is hers alone, and
		// invalid too: a forger learns nothing of hers and cannot pass
		// for her.
		logs := h.opsLogs(t, aliceToken, hook.ID)
		realID := logs[len(logs)-1].DeliveryID
		forgedSig := "sha256=" + strings.Repeat("0", 64)
		marker("sql", "X-Webhook-Id", sqlDrop, "X-Webhook-Signature", forgedSig)
		marker("wildcard", "X-Webhook-Id", "%", "Webhook-Id", "%")
		marker("10 kB", "X-Webhook-Id", strings.Repeat("d", 10000))
		marker("disagreeing", "X-Webhook-Id", realID, "Webhook-Id", store.NewID(), "X-Webhook-Signature", forgedSig)
		req, _ := http.NewRequest(http.MethodPost, inboxURL, strings.NewReader("forged"))
		req.Header.Set("X-Webhook-Id", realID)
		req.Header.Set("X-Webhook-Signature", forgedSig)
		if resp, err := http.DefaultClient.Do(req); err != nil {
			t.Fatal(err)
		} else {
			resp.Body.Close()
		}
		var forged capture
		if err := json.Unmarshal(aliceLive.next(t).Data, &forged); err != nil {
			t.Fatal(err)
		}
		if forged.Body != "forged" || forged.Signature != "invalid" || forged.WebhookID != hook.ID {
			t.Errorf("alice's live capture = %.200q, %q from webhook %q; want the forged one, invalid, naming her webhook", forged.Body, forged.Signature, forged.WebhookID)
		}
		marker("four")

		var list page[capture]
		h.call(t, http.MethodGet, "/api/v1/inboxes/demo", aliceToken, nil, http.StatusOK, &list)
		if len(list.Data) != 13 {
			t.Errorf("alice lists %d captures, want 13 (4 of hers, the forged one, 8 anyone's)", len(list.Data))
		}
		var bobs page[capture] // fresh: decoding into list would keep alice's fields
		h.call(t, http.MethodGet, "/api/v1/inboxes/demo", bobToken, nil, http.StatusOK, &bobs)
		if len(bobs.Data) != 8 {
			t.Errorf("bob lists %d captures, want the 8 anyone's", len(bobs.Data))
		}
		for _, c := range bobs.Data {
			if c.WebhookID != "" || len(c.Headers["Authorization"]) != 0 {
				t.Errorf("bob lists capture %d of webhook %q with Authorization %q", c.ID, c.WebhookID, c.Headers["Authorization"])
			}
		}
	})
}
