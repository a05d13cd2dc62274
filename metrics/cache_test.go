package metrics_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/webhookd/webhookd/metrics"
	"github.com/webhookd/webhookd/metrics/metricstest"
	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

// countingSource is the real store, counting the reads the collector makes.
type countingSource struct {
	*store.Store
	queue, hooks atomic.Int64
}

func (c *countingSource) Queue(ctx context.Context) (store.QueueStats, error) {
	c.queue.Add(1)
	return c.Store.Queue(ctx)
}

func (c *countingSource) CountWebhooks(ctx context.Context) (store.WebhookCounts, error) {
	c.hooks.Add(1)
	return c.Store.CountWebhooks(ctx)
}

// fakeClock is a clock the test moves.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Issue 12 item 9: scrapes within the interval share one read of the
// database, concurrent ones too; the next scrape after it reads anew.
func TestStateIsReadOncePerInterval(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		u, err := s.CreateUser(ctx, "a@x.io", "h", "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateWebhook(ctx, store.CreateWebhookParams{TenantID: u.ID, Name: "h", URL: "https://example.com", Events: []string{"*"}, Secret: "whsec_x", IsActive: true}); err != nil {
			t.Fatal(err)
		}
		publish := func() {
			t.Helper()
			if _, err := s.PublishEvents(ctx, []store.PublishParams{{TenantID: u.ID, Type: "message.new", Payload: []byte(`{}`), OccurredAt: time.Now()}}); err != nil {
				t.Fatal(err)
			}
		}
		publish()
		src := &countingSource{Store: s}
		clock := &fakeClock{now: time.Now()}
		m := metrics.New(src, slog.Default(), metrics.StateEvery(5*time.Second), metrics.WithClock(clock.Now))
		due := func() float64 {
			return metricstest.Value(t, scrape(t, m.Handler()), "webhookd_queue_deliveries", map[string]string{"state": "due"})
		}

		if got := due(); got != 1 {
			t.Fatalf("due = %v, want 1", got)
		}
		// Ten scrapes at once and ten more in turn, within the interval.
		srv := httptest.NewServer(m.Handler())
		defer srv.Close()
		var wg sync.WaitGroup
		for range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := http.Get(srv.URL)
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}()
		}
		wg.Wait()
		publish() // not seen until the interval is over
		for range 10 {
			clock.Add(400 * time.Millisecond)
			if got := due(); got != 1 {
				t.Fatalf("due = %v within the interval, want the kept 1", got)
			}
		}
		if q, h := src.queue.Load(), src.hooks.Load(); q != 1 || h != 1 {
			t.Errorf("21 scrapes within the interval read the queue %d times and the webhooks %d times, want once each", q, h)
		}

		clock.Add(time.Second) // 5s after the read
		if got := due(); got != 2 {
			t.Errorf("due = %v after the interval, want 2", got)
		}
		if q, h := src.queue.Load(), src.hooks.Load(); q != 2 || h != 2 {
			t.Errorf("after the interval: %d queue reads and %d webhook reads, want 2 each", q, h)
		}
	})
}
