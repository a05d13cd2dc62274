package outbox_test

import (
	"context"
	"database/sql"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/webhookd/webhookd/outbox"
	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

// recorder is an Observer that signals each consumed batch.
type recorder struct {
	mu       sync.Mutex
	events   int
	consumed chan store.ConsumeOutboxResult
}

func (r *recorder) EventsAccepted(n int) { r.mu.Lock(); r.events += n; r.mu.Unlock() }
func (r *recorder) OutboxConsumed(res store.ConsumeOutboxResult) {
	r.consumed <- res
}

// acmeOutbox gives s a tenant "acme" with one webhook taking every event,
// and returns a connection to s's database (url) as the CRM has, closed
// when t ends.
func acmeOutbox(t *testing.T, s *store.Store, url string) *sql.DB {
	t.Helper()
	crm, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { crm.Close() })
	ctx := context.Background()
	if _, _, err := s.PutTenant(ctx, "acme", store.TenantParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateWebhook(ctx, store.CreateWebhookParams{TenantID: "acme", Name: "h", URL: "https://example.com/h", Events: []string{"*"}, Secret: "whsec_x", IsActive: true}); err != nil {
		t.Fatal(err)
	}
	return crm
}

// TestConsumerWokenByNotify: with a poll of an hour, a committed row is
// consumed only if the insert trigger's NOTIFY wakes the consumer; and
// the consumer wakes the dispatcher (Wake) after creating deliveries, and
// another process's too (here a second store listening for work).
func TestConsumerWokenByNotify(t *testing.T) {
	url := storetest.PostgresURL(t)
	s := storetest.Open(t, url)
	other := storetest.Open(t, url)
	otherWoken := make(chan struct{}, 100)
	listenCtx, stopListening := context.WithCancel(context.Background())
	var listening sync.WaitGroup
	listening.Go(func() {
		other.ListenForWork(listenCtx, func() {
			select {
			case otherWoken <- struct{}{}:
			default:
			}
		}, slog.New(slog.DiscardHandler))
	})
	defer func() { stopListening(); listening.Wait() }()
	crm := acmeOutbox(t, s, url)
	ctx, cancel := context.WithCancel(context.Background())
	rec := &recorder{consumed: make(chan store.ConsumeOutboxResult, 10)}
	woken := make(chan struct{}, 10)
	c := outbox.New(outbox.Config{Store: s, Check: func(store.OutboxRow) string { return "" }, Poll: time.Hour, Observer: rec,
		Wake: func() { woken <- struct{}{} }})
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx) }()
	defer func() { cancel(); <-done }()

	// The first look, at start, finds nothing; the LISTEN may still be
	// connecting, so insert until a notification gets through.
	deadline := time.After(time.Minute)
	for {
		if _, err := crm.Exec(`INSERT INTO webhook_outbox (tenant, event, data) VALUES ('acme', 'message.new', '{"n":1}')`); err != nil {
			t.Fatal(err)
		}
		select {
		case res := <-rec.consumed:
			if res.Events < 1 || res.Deliveries < 1 {
				t.Errorf("consumed %+v, want events with deliveries", res)
			}
			select {
			case <-woken:
			case <-deadline:
				t.Fatal("the dispatcher was not woken after deliveries were created")
			}
			// The other process's listener may connect after the first
			// batch: forget what it heard so far, then each further row
			// (the CRM's inserts notify only the outbox's channel) must
			// wake it through the consumer.
			for {
				for len(otherWoken) > 0 {
					<-otherWoken
				}
				if _, err := crm.Exec(`INSERT INTO webhook_outbox (tenant, event, data) VALUES ('acme', 'message.new', '{"n":2}')`); err != nil {
					t.Fatal(err)
				}
				select {
				case <-otherWoken:
					return
				case <-deadline:
					t.Fatal("another process listening for work was not woken after deliveries were created")
				case <-time.After(2 * time.Second):
				}
			}
		case <-time.After(2 * time.Second):
		case <-deadline:
			t.Fatal("no row consumed within a minute: the NOTIFY did not wake the consumer (its poll is an hour)")
		}
	}
}

// TestConsumerDrainsABacklog: rows committed before the consumer starts,
// many batches' worth, are all consumed with no notification (the poll
// is an hour) by Parallel workers taking batch after batch, each row
// becoming exactly one event.
func TestConsumerDrainsABacklog(t *testing.T) {
	url := storetest.PostgresURL(t)
	s := storetest.Open(t, url)
	crm := acmeOutbox(t, s, url)
	ctx, cancel := context.WithCancel(context.Background())
	const rows = 205
	if _, err := crm.Exec(`INSERT INTO webhook_outbox (tenant, event, data) SELECT 'acme', 'message.new', jsonb_build_object('n', g) FROM generate_series(1, $1) g`, rows); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{consumed: make(chan store.ConsumeOutboxResult, rows)}
	c := outbox.New(outbox.Config{Store: s, Check: func(store.OutboxRow) string { return "" }, Poll: time.Hour, Observer: rec,
		Batch: 10, Parallel: 3})
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx) }()
	defer func() { cancel(); <-done }()

	taken := 0
	deadline := time.After(time.Minute)
	for taken < rows {
		select {
		case res := <-rec.consumed:
			taken += res.Taken
		case <-deadline:
			t.Fatalf("%d of %d rows consumed within a minute", taken, rows)
		}
	}
	if taken != rows {
		t.Errorf("%d rows taken, want %d", taken, rows)
	}
	var events, distinct, left int
	if err := crm.QueryRow(`SELECT COUNT(*), COUNT(DISTINCT payload), (SELECT COUNT(*) FROM webhook_outbox) FROM events WHERE tenant_id = 'acme'`).Scan(&events, &distinct, &left); err != nil {
		t.Fatal(err)
	}
	if events != rows || distinct != rows || left != 0 {
		t.Errorf("%d events (%d distinct), %d rows left; want %d events, one per row, and none left", events, distinct, left, rows)
	}
}
