package store_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/webhookd/webhookd/store"
)

// BenchmarkFanOutNeighbour measures what issue 12's large batch costs
// another owner: one owner publishes 1,000 events (about 90 KB of data) to
// 200 webhooks, 200,000 deliveries, in one request, while another owner
// publishes one event at a time, back to back, through the same group
// committer. It reports the other owner's worst and 99th-percentile publish
// latency while the batch was being accepted, and how long the batch took.
// Run it with -benchtime 1x: each iteration is one whole batch.
func BenchmarkFanOutNeighbour(b *testing.B) {
	benchStores(b, func(b *testing.B, s *store.Store) {
		ctx := context.Background()
		var worst, p99, batch time.Duration
		var during int
		for i := 0; i < b.N; i++ {
			big := newUser(&testing.T{}, s, fmt.Sprintf("big%d@x.io", i))
			small := newUser(&testing.T{}, s, fmt.Sprintf("small%d@x.io", i))
			for range 200 {
				if _, err := s.CreateWebhook(ctx, store.CreateWebhookParams{TenantID: big.ID, Name: "h", URL: "https://example.com", Events: []string{"*"}, Secret: "whsec_x", IsActive: true}); err != nil {
					b.Fatal(err)
				}
			}
			if _, err := s.CreateWebhook(ctx, store.CreateWebhookParams{TenantID: small.ID, Name: "h", URL: "https://example.com", Events: []string{"*"}, Secret: "whsec_x", IsActive: true}); err != nil {
				b.Fatal(err)
			}
			events := make([]store.PublishParams, 1000)
			for j := range events {
				events[j] = store.PublishParams{TenantID: big.ID, Type: "message.new", OccurredAt: time.Now(),
					Payload: fmt.Appendf(nil, `{"campaignId":"cmp_1","contactId":"contact_%06d","text":"hello there, %06d"}`, j, j)}
			}
			g := s.NewGroupCommitter(256)
			stop := make(chan struct{})
			lat := make(chan []time.Duration, 1)
			go func() {
				var ds []time.Duration
				for {
					select {
					case <-stop:
						lat <- ds
						return
					default:
					}
					start := time.Now()
					if _, err := g.PublishEvents(ctx, []store.PublishParams{{TenantID: small.ID, Type: "message.new", Payload: []byte(`{"a":1}`), OccurredAt: time.Now()}}); err != nil {
						b.Error(err)
					}
					ds = append(ds, time.Since(start))
				}
			}()
			time.Sleep(50 * time.Millisecond) // the neighbour is publishing before the batch arrives
			start := time.Now()
			res, err := g.PublishEvents(ctx, events)
			batch = time.Since(start)
			close(stop)
			ds := <-lat
			g.Close()
			if err != nil || len(res) != 1000 || res[0].Deliveries != 200 {
				b.Fatalf("batch = %d results, %v", len(res), err)
			}
			slices.Sort(ds)
			worst, p99, during = ds[len(ds)-1], ds[len(ds)*99/100], len(ds)
		}
		b.ReportMetric(float64(worst.Microseconds())/1000, "worst-ms")
		b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(batch.Microseconds())/1000, "batch-ms")
		b.ReportMetric(float64(during), "neighbour-publishes")
	})
}

// BenchmarkFanOutDrain measures the writer's share of issue 13's 10,000
// webhook fan-out, phase by phase, without HTTP: one event published to
// 10,000 webhooks of one owner (WEBHOOKD_BENCH_WEBHOOKS overrides the
// count), then leased 192 at a time, as a lone owner's dispatcher leases
// (WEBHOOKD_BENCH_LEASE), and completed in batches of 64
// (WEBHOOKD_BENCH_COMPLETE), all successes. It reports the
// milliseconds each phase took in all. Run it with -benchtime 1x:
//
//	go test -bench BenchmarkFanOutDrain -run '^$' -benchtime 1x ./store/
func BenchmarkFanOutDrain(b *testing.B) {
	n, leaseBatch, completeBatch := envInt("WEBHOOKD_BENCH_WEBHOOKS", 10_000), envInt("WEBHOOKD_BENCH_LEASE", 192), envInt("WEBHOOKD_BENCH_COMPLETE", 64)
	benchStores(b, func(b *testing.B, s *store.Store) {
		ctx := context.Background()
		var publish, lease, complete time.Duration
		for i := 0; i < b.N; i++ {
			u := newUser(&testing.T{}, s, fmt.Sprintf("fan%d@x.io", i))
			for range n {
				if _, err := s.CreateWebhook(ctx, store.CreateWebhookParams{TenantID: u.ID, Name: "h", URL: "https://example.com", Events: []string{"*"}, Secret: "whsec_x", IsActive: true}); err != nil {
					b.Fatal(err)
				}
			}
			g := s.NewGroupCommitter(256)
			start := time.Now()
			res, err := g.PublishEvents(ctx, []store.PublishParams{{TenantID: u.ID, Type: "message.new", OccurredAt: time.Now(),
				Payload: []byte(`{"campaignId":"cmp_1","contactId":"contact_000001","text":"hello there"}`)}})
			publish += time.Since(start)
			g.Close()
			if err != nil || len(res) != 1 || res[0].Deliveries != n {
				b.Fatalf("publish = %+v, %v", res, err)
			}
			done := 0
			for done < n {
				start = time.Now()
				leased, err := s.LeaseDeliveries(ctx, store.LeaseParams{Limit: leaseBatch, LeaseFor: time.Minute})
				lease += time.Since(start)
				if err != nil || len(leased) == 0 {
					b.Fatalf("lease after %d: %d, %v", done, len(leased), err)
				}
				for lo := 0; lo < len(leased); lo += completeBatch {
					cs := make([]store.Completion, 0, completeBatch)
					for _, l := range leased[lo:min(lo+completeBatch, len(leased))] {
						cs = append(cs, store.Completion{DeliveryID: l.ID, LeaseToken: l.LeaseToken, Log: store.Log{WebhookID: l.WebhookID, EventID: l.EventID,
							DeliveryID: l.ID, EventType: l.EventType, Attempt: l.Attempt, Status: store.AttemptSuccess, StatusCode: 200, DurationMs: 1,
							RequestHeaders: map[string]string{"Content-Type": "application/json"}, RequestBody: l.Payload}})
					}
					start = time.Now()
					fenced, err := s.CompleteDeliveries(ctx, cs)
					complete += time.Since(start)
					if err != nil || fenced != len(cs) {
						b.Fatalf("complete: %d of %d, %v", fenced, len(cs), err)
					}
				}
				done += len(leased)
			}
		}
		b.ReportMetric(float64(publish.Milliseconds())/float64(b.N), "publish-ms")
		b.ReportMetric(float64(lease.Milliseconds())/float64(b.N), "lease-ms")
		b.ReportMetric(float64(complete.Milliseconds())/float64(b.N), "complete-ms")
	})
}

// envInt is the positive integer in the environment variable name, or def.
func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
