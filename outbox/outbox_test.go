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
	crm, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer crm.Close()
	ctx, cancel := context.WithCancel(context.Background())
	if _, _, err := s.PutTenant(ctx, "acme", store.TenantParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateWebhook(ctx, store.CreateWebhookParams{TenantID: "acme", Name: "h", URL: "https://example.com/h", Events: []string{"*"}, Secret: "whsec_x", IsActive: true}); err != nil {
		t.Fatal(err)
	}
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
