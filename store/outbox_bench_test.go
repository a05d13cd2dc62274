package store_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

// BenchmarkConsumeOutbox measures the consumer's transaction alone: b.N
// committed outbox rows of one tenant with one webhook, consumed 1,000 a
// transaction into events and deliveries. Reported as rows/s.
func BenchmarkConsumeOutbox(b *testing.B) {
	url := storetest.PostgresURL(b)
	s := storetest.Open(b, url)
	crm, err := sql.Open("pgx", url)
	if err != nil {
		b.Fatal(err)
	}
	defer crm.Close()
	ctx := context.Background()
	if _, _, err := s.PutTenant(ctx, "acme", store.TenantParams{}); err != nil {
		b.Fatal(err)
	}
	if _, err := s.CreateWebhook(ctx, store.CreateWebhookParams{TenantID: "acme", Name: "h", URL: "https://example.com/h", Events: []string{"*"}, Secret: "whsec_x", IsActive: true}); err != nil {
		b.Fatal(err)
	}
	if _, err := crm.Exec(`INSERT INTO webhook_outbox (tenant, event, data) SELECT 'acme', 'message.new', jsonb_build_object('seq', g, 'padding', repeat('x', 200)) FROM generate_series(1, $1) g`, b.N); err != nil {
		b.Fatal(err)
	}
	check := func(store.OutboxRow) string { return "" }
	b.ResetTimer()
	start := time.Now()
	taken := 0
	for taken < b.N {
		res, err := s.ConsumeOutbox(ctx, store.ConsumeOutboxParams{Limit: 1000, Check: check})
		if err != nil {
			b.Fatal(err)
		}
		if res.Taken == 0 {
			b.Fatalf("outbox empty after %d of %d rows", taken, b.N)
		}
		taken += res.Taken
	}
	b.ReportMetric(float64(taken)/time.Since(start).Seconds(), "rows/s")
}
