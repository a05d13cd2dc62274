package store_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

func newFilteredWebhook(t *testing.T, s *store.Store, tenantID, filter string, events ...string) store.Webhook {
	t.Helper()
	w, err := s.CreateWebhook(context.Background(), store.CreateWebhookParams{
		TenantID: tenantID, Name: "filtered", URL: "https://example.com/hook", Events: events, Secret: "whsec_x",
		IsActive: true, Filter: []byte(filter),
	})
	if err != nil {
		t.Fatalf("create webhook: %v", err)
	}
	return w
}

func message(tenantID, data string) store.PublishParams {
	return store.PublishParams{TenantID: tenantID, Type: "message.new", Payload: []byte(data), OccurredAt: time.Now()}
}

func targets(t *testing.T, s *store.Store, eventID string) []string {
	t.Helper()
	got, err := s.DeliveryTargets(context.Background(), eventID)
	if err != nil {
		t.Fatalf("delivery targets: %v", err)
	}
	return got
}

// TestPublishAppliesFilters: a delivery is made only for webhooks whose
// filter matches the event's envelope, and Deliveries counts only those.
func TestPublishAppliesFilters(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		u := newUser(t, s, "f@x.io")
		plain := newWebhook(t, s, u.ID, "message.*")
		inbound := newFilteredWebhook(t, s, u.ID, `{"data.direction":"inbound"}`, "message.*")
		media := newFilteredWebhook(t, s, u.ID, `{"data.type":{"$in":["image","video"]},"event":"message.new"}`, "*")
		newFilteredWebhook(t, s, u.ID, `{"data.direction":"inbound"}`, "user.created") // wrong type
		res, err := s.PublishEvents(ctx, []store.PublishParams{
			message(u.ID, `{"direction":"inbound","type":"text"}`),
			message(u.ID, `{"direction":"outbound","type":"image"}`),
			message(u.ID, `{"direction":"inbound","type":"video"}`),
			message(u.ID, `{"type":"sticker"}`),
		})
		if err != nil {
			t.Fatalf("publish: %v", err)
		}
		want := [][]string{
			{plain.ID, inbound.ID},
			{plain.ID, media.ID},
			{plain.ID, inbound.ID, media.ID},
			{plain.ID},
		}
		for i, r := range res {
			w := slices.Clone(want[i])
			slices.Sort(w)
			if got := targets(t, s, r.Event.ID); !slices.Equal(got, w) {
				t.Errorf("event %d went to %v, want %v", i, got, w)
			}
			if r.Deliveries != len(w) || r.Event.DeliveryCount != len(w) {
				t.Errorf("event %d: Deliveries = %d, DeliveryCount = %d, want %d", i, r.Deliveries, r.Event.DeliveryCount, len(w))
			}
		}
	})
}

// TestFilterUpdateAndClear: a changed filter applies to the next publish
// (the parsed-filter cache follows the stored text), and a cleared one
// lets everything through again.
func TestFilterUpdateAndClear(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		u := newUser(t, s, "f@x.io")
		w := newFilteredWebhook(t, s, u.ID, `{"data.n":1}`, "*")
		if string(w.Filter) != `{"data.n":1}` {
			t.Fatalf("created Filter = %s", w.Filter)
		}
		publish := func(data string) int {
			t.Helper()
			res, err := s.PublishEvents(ctx, []store.PublishParams{message(u.ID, data)})
			if err != nil {
				t.Fatalf("publish: %v", err)
			}
			return res[0].Deliveries
		}
		if n := publish(`{"n":1}`); n != 1 {
			t.Fatalf("n=1 under {data.n:1}: %d deliveries, want 1", n)
		}
		nf := []byte(`{"data.n":2}`)
		got, err := s.UpdateWebhook(ctx, u.ID, w.ID, store.WebhookPatch{Filter: &nf})
		if err != nil || string(got.Filter) != string(nf) {
			t.Fatalf("update filter = %s, %v", got.Filter, err)
		}
		if n := publish(`{"n":1}`); n != 0 {
			t.Fatalf("n=1 under {data.n:2}: %d deliveries, want 0", n)
		}
		if n := publish(`{"n":2}`); n != 1 {
			t.Fatalf("n=2 under {data.n:2}: %d deliveries, want 1", n)
		}
		name := "renamed"
		if got, err := s.UpdateWebhook(ctx, u.ID, w.ID, store.WebhookPatch{Name: &name}); err != nil || string(got.Filter) != string(nf) {
			t.Fatalf("a patch without Filter changed it: %s, %v", got.Filter, err)
		}
		none := []byte{}
		got, err = s.UpdateWebhook(ctx, u.ID, w.ID, store.WebhookPatch{Filter: &none})
		if err != nil || got.Filter != nil {
			t.Fatalf("clear filter = %q, %v; want nil", got.Filter, err)
		}
		if read, err := s.Webhook(ctx, u.ID, w.ID); err != nil || read.Filter != nil {
			t.Fatalf("read back = %q, %v; want no filter", read.Filter, err)
		}
		if n := publish(`{"n":1}`); n != 1 {
			t.Fatalf("after clearing: %d deliveries, want 1", n)
		}
	})
}

// TestUnparsableStoredFilterMatchesNothing: a filter the API would refuse,
// written to the database by other means, holds every event back rather
// than failing the publish for the tenant's other webhooks.
func TestUnparsableStoredFilterMatchesNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		u := newUser(t, s, "f@x.io")
		plain := newWebhook(t, s, u.ID, "*")
		newFilteredWebhook(t, s, u.ID, `{"data.n":{"$unknown":1}}`, "*")
		res, err := s.PublishEvents(ctx, []store.PublishParams{message(u.ID, `{"n":1}`)})
		if err != nil {
			t.Fatalf("publish: %v", err)
		}
		if got := targets(t, s, res[0].Event.ID); !slices.Equal(got, []string{plain.ID}) {
			t.Fatalf("went to %v, want only the unfiltered webhook %s", got, plain.ID)
		}
	})
}

// TestLargeFanOutAppliesFilters: the fan-out finished after the events'
// transaction (the fanouts table) filters as the first transaction does,
// whether the publish finishes it or a later resume does.
func TestLargeFanOutAppliesFilters(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		u := newUser(t, s, "big@x.io")
		const hooks = 30
		var even []string
		for i := range hooks {
			if i%2 == 0 {
				even = append(even, newFilteredWebhook(t, s, u.ID, `{"data.parity":"even"}`, "*").ID)
			} else {
				newFilteredWebhook(t, s, u.ID, `{"data.parity":"odd"}`, "*")
			}
		}
		slices.Sort(even)
		s.SetFanOutChunk(4, nil) // far fewer than the matches: the fanouts path

		res, err := s.PublishEvents(ctx, []store.PublishParams{message(u.ID, `{"parity":"even"}`)})
		if err != nil {
			t.Fatalf("publish: %v", err)
		}
		if res[0].Deliveries != len(even) {
			t.Fatalf("Deliveries = %d, want %d", res[0].Deliveries, len(even))
		}
		if got := targets(t, s, res[0].Event.ID); !slices.Equal(got, even) {
			t.Fatalf("finished fan-out went to %d webhooks %v, want the %d even ones", len(got), got, len(even))
		}

		// Left for a resume, as a process stopped after the events'
		// transaction would leave it.
		res, err = s.PublishWithoutFanOut(ctx, []store.PublishParams{message(u.ID, `{"parity":"even"}`)})
		if err != nil {
			t.Fatalf("publish without fan-out: %v", err)
		}
		if n, err := s.ResumeFanOuts(ctx); err != nil || n != len(even) {
			t.Fatalf("resume = %d, %v; want %d deliveries", n, err, len(even))
		}
		if got := targets(t, s, res[0].Event.ID); !slices.Equal(got, even) {
			t.Fatalf("resumed fan-out went to %v, want the even ones", got)
		}
		_, _, _, pending, err := s.FanOutCounts(ctx, u.ID)
		if err != nil || pending != 0 {
			t.Fatalf("pending fan-outs = %d, %v; want 0", pending, err)
		}
	})
}

// BenchmarkPublishFiltered publishes one event at a time to 100 webhooks,
// without filters and with a 5-clause filter on each that the event passes,
// so both insert 100 deliveries and the filters' cost shows as the
// difference in events/s.
func BenchmarkPublishFiltered(b *testing.B) {
	for _, filtered := range []bool{false, true} {
		name := "unfiltered"
		if filtered {
			name = "filtered"
		}
		b.Run(name, func(b *testing.B) {
			benchStores(b, func(b *testing.B, s *store.Store) {
				ctx := context.Background()
				u, err := s.CreateUser(ctx, "bench@x.io", "hash", "")
				if err != nil {
					b.Fatal(err)
				}
				for i := range 100 {
					p := store.CreateWebhookParams{TenantID: u.ID, Name: "h", URL: "https://example.com/h", Events: []string{"*"}, Secret: "whsec_x", IsActive: true}
					if filtered {
						p.Filter = fmt.Appendf(nil, `{"event":"message.new","data.direction":"inbound","data.type":{"$in":["text","image"]},"data.count":{"$gte":1},"data.shard":{"$lt":%d}}`, 2+i)
					}
					if _, err := s.CreateWebhook(ctx, p); err != nil {
						b.Fatal(err)
					}
				}
				ev := message(u.ID, `{"direction":"inbound","type":"text","count":3,"shard":1,"text":"hello there","conversationId":"c_1"}`)
				for b.Loop() {
					res, err := s.PublishEvents(ctx, []store.PublishParams{ev})
					if err != nil || res[0].Deliveries != 100 {
						b.Fatalf("publish = %v, %v; want 100 deliveries", res, err)
					}
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			})
		})
	}
}
