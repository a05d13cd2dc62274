package store_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

// TestOrderingKeyOfAnySize is a CRM whose ordering key's field holds
// 20 KB of incompressible text (a conversation id that is in fact a
// blob): PostgreSQL refused the delivery's row in deliveries_ordering_idx
// ("index row size exceeds btree maximum"), so the publish failed, and an
// outbox batch holding such a row failed whole, again and again, keeping
// every tenant's rows behind it. A long key is now stored as its digest:
// equal keys still share a queue, different ones still do not.
func TestOrderingKeyOfAnySize(t *testing.T) {
	blob := func() string {
		b := make([]byte, 15_000)
		if _, err := rand.Read(b); err != nil {
			t.Fatal(err)
		}
		return base64.StdEncoding.EncodeToString(b)
	}
	a, b := blob(), blob()
	c := &clock{}
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		c.t = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
		f := newOrderedFixture(t, s, c)
		f.publish(t, [2]any{a, 1}, [2]any{a, 2}, [2]any{b, 3})
		got := f.lease(t)
		if !slices.Equal(keysOf(got), []int{1, 3}) {
			t.Fatalf("leased %v of the FIFO webhook, want the heads of the two long keys: [1 3]", keysOf(got))
		}
		if k, l := got[1].OrderingKey, got[3].OrderingKey; len(k) > 100 || len(l) > 100 || k == l {
			t.Fatalf("long keys stored as %d and %d bytes (equal: %v): want short and different", len(k), len(l), k == l)
		}
		f.complete(t, done(got[1], true, nil), done(got[3], true, nil))
		if got = f.lease(t); !slices.Equal(keysOf(got), []int{2}) {
			t.Fatalf("after 1 and 3: leased %v, want [2]", keysOf(got))
		}
	}, store.WithClock(c.now))
	short := strings.Repeat("k", 64)
	if got := store.OrderingKeyValue("data.k", "message.new", time.Time{}, []byte(`{"k":"`+short+`"}`)); got != short {
		t.Fatalf("a 64-byte key became %q, want it as it is", got)
	}
}

// TestOutboxRowWithLongOrderingKey: the outbox row with a long ordering
// key becomes an event like any other, and the rows behind it flow.
func TestOutboxRowWithLongOrderingKey(t *testing.T) {
	s, crm := outboxDB(t)
	ctx := context.Background()
	if _, _, err := s.PutTenant(ctx, "acme", store.TenantParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateWebhook(ctx, store.CreateWebhookParams{TenantID: "acme", Name: "fifo", URL: "https://example.com/fifo",
		Events: []string{"*"}, Secret: "whsec_x", IsActive: true, Ordering: store.OrderingFIFO, OrderingKey: "data.k"}); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 15_000)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	long := base64.StdEncoding.EncodeToString(b)
	for _, k := range []string{long, "short", long} {
		if _, err := crm.Exec(`INSERT INTO webhook_outbox (tenant, event, data) VALUES ('acme', 'message.new', jsonb_build_object('k', $1::text))`, k); err != nil {
			t.Fatal(err)
		}
	}
	res, err := s.ConsumeOutbox(ctx, store.ConsumeOutboxParams{Limit: 100, Check: knownTypes("message.new")})
	if err != nil {
		t.Fatalf("consume a batch holding a 20 kB ordering key: %v", err)
	}
	if res.Taken != 3 || res.Events != 3 || res.Deliveries != 3 {
		t.Fatalf("consumed %+v, want 3 rows, 3 events, 3 deliveries", res)
	}
}
