package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

func benchStores(b *testing.B, fn func(b *testing.B, s *store.Store)) {
	b.Run("sqlite", func(b *testing.B) { fn(b, storetest.Open(b, storetest.SQLitePath(b))) })
	b.Run("postgres", func(b *testing.B) { fn(b, storetest.Open(b, storetest.PostgresURL(b))) })
}

// BenchmarkPublish measures accepting one event with one matching webhook,
// one transaction per event.
func BenchmarkPublish(b *testing.B) {
	benchStores(b, func(b *testing.B, s *store.Store) {
		u := newUser(&testing.T{}, s, "a@x.io")
		_, _ = s.CreateWebhook(context.Background(), store.CreateWebhookParams{TenantID: u.ID, Name: "h", URL: "https://example.com", Events: []string{"*"}, Secret: "whsec_x", IsActive: true})
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := s.PublishEvents(context.Background(), []store.PublishParams{{TenantID: u.ID, Type: "message.new", Payload: []byte(`{"a":1}`), OccurredAt: time.Now()}}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkPublishGroupCommit measures concurrent publishers sharing
// transactions.
func BenchmarkPublishGroupCommit(b *testing.B) {
	benchStores(b, func(b *testing.B, s *store.Store) {
		u := newUser(&testing.T{}, s, "a@x.io")
		_, _ = s.CreateWebhook(context.Background(), store.CreateWebhookParams{TenantID: u.ID, Name: "h", URL: "https://example.com", Events: []string{"*"}, Secret: "whsec_x", IsActive: true})
		g := s.NewGroupCommitter(256)
		defer g.Close()
		b.SetParallelism(16)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := g.PublishEvents(context.Background(), []store.PublishParams{{TenantID: u.ID, Type: "message.new", Payload: []byte(`{"a":1}`), OccurredAt: time.Now()}}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkLeaseComplete measures the queue's bookkeeping per delivery:
// leasing in batches of 256 and completing them with their log rows.
func BenchmarkLeaseComplete(b *testing.B) { benchLeaseComplete(b, 256) }

// BenchmarkLeaseCompleteSmall is BenchmarkLeaseComplete in leases of 4,
// about what the dispatcher takes at a time when events arrive one a
// request: there the round trips of each lease and completion, not the
// rows, are the cost.
func BenchmarkLeaseCompleteSmall(b *testing.B) { benchLeaseComplete(b, 4) }

func benchLeaseComplete(b *testing.B, size int) {
	benchStores(b, func(b *testing.B, s *store.Store) {
		ctx := context.Background()
		u := newUser(&testing.T{}, s, "a@x.io")
		_, _ = s.CreateWebhook(ctx, store.CreateWebhookParams{TenantID: u.ID, Name: "h", URL: "https://example.com", Events: []string{"*"}, Secret: "whsec_x", IsActive: true})
		batch := make([]store.PublishParams, 256)
		for i := range batch {
			batch[i] = store.PublishParams{TenantID: u.ID, Type: "message.new", Payload: []byte(`{"a":1}`), OccurredAt: time.Now()}
		}
		for n := 0; n < b.N; n += len(batch) {
			if _, err := s.PublishEvents(ctx, batch); err != nil {
				b.Fatal(err)
			}
		}
		b.ResetTimer()
		done := 0
		for done < b.N {
			leased, err := s.LeaseDeliveries(ctx, store.LeaseParams{Limit: size, LeaseFor: time.Minute})
			if err != nil || len(leased) == 0 {
				b.Fatalf("lease: %d, %v", len(leased), err)
			}
			cs := make([]store.Completion, len(leased))
			for i, l := range leased {
				cs[i] = store.Completion{DeliveryID: l.ID, LeaseToken: l.LeaseToken, Log: store.Log{WebhookID: l.WebhookID, EventID: l.EventID,
					DeliveryID: l.ID, EventType: l.EventType, Attempt: l.Attempt, Status: store.AttemptSuccess, StatusCode: 200,
					RequestHeaders: map[string]string{"Content-Type": "application/json"}, RequestBody: l.Payload}}
			}
			if _, err := s.CompleteDeliveries(ctx, cs); err != nil {
				b.Fatal(err)
			}
			done += len(leased)
		}
	})
}
