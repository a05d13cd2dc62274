package store_test

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

// BenchmarkFilteredReads measures every documented log filter and stats
// window against one webhook with a million attempt logs
// (WEBHOOKD_BENCH_LOGS overrides the count): four fifths spread over 30
// days, one fifth bunched in the last hour, the ten oldest failed and of a
// type no other row has. The rows are built inside the database in one
// statement; PostgreSQL's schema is fresh and never analysed.
//
//	go test -bench BenchmarkFilteredReads -run '^$' -benchtime 50x ./store/
func BenchmarkFilteredReads(b *testing.B) {
	n := benchLogCount()
	b.Run("sqlite", func(b *testing.B) { benchReads(b, storetest.Open(b, storetest.SQLitePath(b)), n) })
	b.Run("postgres", func(b *testing.B) { benchReads(b, storetest.Open(b, storetest.PostgresURL(b)), n) })
}

func benchReads(b *testing.B, s *store.Store, n int) {
	ctx := context.Background()
	w := benchWebhook(b, s)
	now := time.Now()
	spread, bunched := n*4/5, n-n*4/5
	start := time.Now()
	if err := s.BulkSeedLogs(ctx, w.ID, store.BulkLogs{
		Spread: spread, SpreadFrom: now.Add(-30 * 24 * time.Hour), SpreadStep: 30 * 24 * time.Hour / time.Duration(spread),
		Bunched: bunched, BunchFrom: now.Add(-time.Hour), BunchStep: time.Hour / time.Duration(bunched), Rare: 10,
	}); err != nil {
		b.Fatal(err)
	}
	b.Logf("built %d log rows in %v", n, time.Since(start).Round(time.Millisecond))
	at := func(d time.Duration) *time.Time { t := now.Add(d); return &t }
	page := store.Page{Limit: 50}
	logs := []struct {
		name string
		f    store.LogFilter
		min  int // rows the page must hold
	}{
		{"logs", store.LogFilter{Page: page}, 50},
		{"logs?status=failed", store.LogFilter{Status: store.AttemptFailed, Page: page}, 10},
		{"logs?status=failed&since=-7d", store.LogFilter{Status: store.AttemptFailed, Since: at(-7 * 24 * time.Hour), Page: page}, 0},
		{"logs?eventType=user.created", store.LogFilter{EventType: "user.created", Page: page}, 10},
		{"logs?eventType=none", store.LogFilter{EventType: "no.such.type", Page: page}, 0},
		{"logs?eventType=message.read", store.LogFilter{EventType: "message.read", Page: page}, 50},
		{"logs?status=success&eventType=user.created", store.LogFilter{Status: store.AttemptSuccess, EventType: "user.created", Page: page}, 0},
		{"logs?status=failed&eventType=message.new", store.LogFilter{Status: store.AttemptFailed, EventType: "message.new", Page: page}, 0},
		{"logs?since=-1h", store.LogFilter{Since: at(-time.Hour), Page: page}, 50},
		{"logs?since=-30m&until=-20m", store.LogFilter{Since: at(-30 * time.Minute), Until: at(-20 * time.Minute), Page: page}, 50},
		{"logs?since=-20d&until=-19d", store.LogFilter{Since: at(-20 * 24 * time.Hour), Until: at(-19 * 24 * time.Hour), Page: page}, 50},
		{"logs?until=-29d", store.LogFilter{Until: at(-29 * 24 * time.Hour), Page: page}, 50},
	}
	for _, c := range logs {
		b.Run(c.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				got, _, err := s.ListLogs(ctx, w.TenantID, w.ID, c.f)
				if err != nil || len(got) < c.min {
					b.Fatalf("%d logs, %v", len(got), err)
				}
			}
		})
	}
	b.Run("logs?cursor=50000-rows-in", func(b *testing.B) {
		// A cursor 50,000 rows into the table.
		f := store.LogFilter{Page: store.Page{Limit: 500}}
		for range 100 {
			_, next, err := s.ListLogs(ctx, w.TenantID, w.ID, f)
			if err != nil {
				b.Fatal(err)
			}
			f.Page.Before = next
		}
		f.Page.Limit = 50
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if got, _, err := s.ListLogs(ctx, w.TenantID, w.ID, f); err != nil || len(got) != 50 {
				b.Fatalf("%d logs, %v", len(got), err)
			}
		}
	})
	for _, c := range []struct {
		name  string
		since *time.Time
	}{
		{"stats", nil},
		{"stats?since=-1h", at(-time.Hour)},
		{"stats?since=-30m", at(-30*time.Minute - 17*time.Second)},
		{"stats?since=-24h", at(-24 * time.Hour)},
		{"stats?since=-30d", at(-30 * 24 * time.Hour)},
	} {
		b.Run(c.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				st, err := s.WebhookStats(ctx, w.TenantID, w.ID, c.since)
				if err != nil || st.TotalAttempts == 0 {
					b.Fatalf("stats = %+v, %v", st, err)
				}
			}
		})
	}
	for _, hours := range []int{24, 168} {
		b.Run("stats/series?hours="+strconv.Itoa(hours), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				now := time.Now()
				since := now.Truncate(time.Hour).Add(-time.Duration(hours-1) * time.Hour)
				got, err := s.WebhookSeries(ctx, w.TenantID, w.ID, since, time.Hour, now)
				if err != nil || len(got) != hours {
					b.Fatalf("%d buckets, %v", len(got), err)
				}
			}
		})
	}
}

// benchLogCount is how many attempt logs the read benchmarks build: a
// million, or WEBHOOKD_BENCH_LOGS.
func benchLogCount() int {
	if v, err := strconv.Atoi(os.Getenv("WEBHOOKD_BENCH_LOGS")); err == nil && v > 0 {
		return v
	}
	return 1_000_000
}

// benchWebhook creates an owner and one webhook of it to hang logs on.
func benchWebhook(b *testing.B, s *store.Store) store.Webhook {
	b.Helper()
	ctx := context.Background()
	u, err := s.CreateUser(ctx, "a@x.io", "h", "")
	if err != nil {
		b.Fatal(err)
	}
	w, err := s.CreateWebhook(ctx, store.CreateWebhookParams{TenantID: u.ID, Name: "h", URL: "https://example.com", Events: []string{"*"}, Secret: "whsec_x", IsActive: true})
	if err != nil {
		b.Fatal(err)
	}
	return w
}
