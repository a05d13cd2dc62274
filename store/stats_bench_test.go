package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

// BenchmarkWebhookStats measures GET …/stats against a webhook with a
// million attempt logs (WEBHOOKD_BENCH_LOGS overrides the count), built
// through the store's own log inserts: all time from the kept counters, and
// since an hour ago from the per-minute and per-hour counts.
// BenchmarkFilteredReads covers every other filter and window.
func BenchmarkWebhookStats(b *testing.B) {
	n := benchLogCount()
	b.Run("sqlite", func(b *testing.B) { benchStats(b, storetest.Open(b, storetest.SQLitePath(b)), n) })
	b.Run("postgres", func(b *testing.B) { benchStats(b, storetest.Open(b, storetest.PostgresURL(b)), n) })
}

func benchStats(b *testing.B, s *store.Store, n int) {
	ctx := context.Background()
	w := benchWebhook(b, s)
	// A month of attempts, oldest first, one every few seconds.
	start := time.Now().Add(-30 * 24 * time.Hour)
	step := 30 * 24 * time.Hour / time.Duration(n)
	const perTx = 10_000
	for done := 0; done < n; {
		logs := make([]store.Log, 0, perTx)
		for i := 0; i < perTx && done < n; i, done = i+1, done+1 {
			l := store.Log{WebhookID: w.ID, EventID: "e", DeliveryID: "d", EventType: "message.new", Attempt: 1,
				Status: store.AttemptSuccess, StatusCode: 200, DurationMs: int64(done % 250), RequestHeaders: map[string]string{},
				RequestBody: []byte(`{}`), CreatedAt: start.Add(time.Duration(done) * step)}
			if done%10 == 0 {
				l.Status, l.StatusCode = store.AttemptFailed, 500
			}
			logs = append(logs, l)
		}
		if err := s.SeedLogs(ctx, logs); err != nil {
			b.Fatal(err)
		}
	}
	hourAgo := time.Now().Add(-time.Hour)
	b.Run("all-time", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			st, err := s.WebhookStats(ctx, w.TenantID, w.ID, nil)
			if err != nil || st.TotalAttempts != int64(n) {
				b.Fatalf("stats = %+v, %v", st, err)
			}
		}
	})
	b.Run("since-1h", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := s.WebhookStats(ctx, w.TenantID, w.ID, &hourAgo); err != nil {
				b.Fatal(err)
			}
		}
	})
}
