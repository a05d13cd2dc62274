// Package outbox runs the transactional outbox's consumer (issue 17): it
// turns the rows the CRM commits into webhook_outbox into events, batch by
// batch, through store.ConsumeOutbox, woken by the table's NOTIFY trigger
// and, should a notification be missed, by a poll.
package outbox

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/webhookd/webhookd/store"
)

// Defaults of Config.
const (
	DefaultBatch    = 1000
	DefaultPoll     = time.Second
	DefaultParallel = 3
)

// Observer is told what the consumer did, for the metrics.
type Observer interface {
	EventsAccepted(n int)
	OutboxConsumed(res store.ConsumeOutboxResult)
}

// Config is what a Consumer needs.
type Config struct {
	Store *store.Store
	// Owner is the tenant of rows whose tenant is NULL (--outbox-owner);
	// "" means the database's only tenant (see store.ConsumeOutboxParams).
	Owner string
	// Check is the event check POST /api/v1/events makes, handed in by
	// the app so that both publishers share it.
	Check store.OutboxCheck
	// MaxDataBytes is the largest event data publishing accepts (the
	// app hands in server.MaxEventDataBytes): a row far past it is dead
	// unread (see store.ConsumeOutboxParams).
	MaxDataBytes int
	// Wake wakes the dispatcher after events with deliveries commit.
	Wake   func()
	Logger *slog.Logger
	// Observer, when set, is told each batch's outcome.
	Observer Observer
	// Batch is the most rows one transaction takes (DefaultBatch).
	Batch int
	// Poll is how long the consumer waits for a notification before it
	// looks anyway (DefaultPoll), jittered.
	Poll time.Duration
	// Parallel is how many batches are consumed at once while the outbox
	// has a backlog (DefaultParallel): SKIP LOCKED gives each transaction
	// its own rows, and most of a batch's time is PostgreSQL writing
	// events and deliveries, which another transaction can overlap. Three
	// on two CPUs kept PostgreSQL busier than two, while one batch is in
	// Go (reading, checking) or between round trips: a median of 9,448
	// rows/s against 5,561 in three runs each at a load of 9-11; four did
	// no better (7,937).
	Parallel int
}

// Consumer takes webhook_outbox's rows until its Run's context ends.
type Consumer struct {
	cfg  Config
	wake chan struct{}
	// notify asks Run's notifier to wake the other processes'
	// dispatchers; notifying is set while that notifier runs.
	notify    chan struct{}
	notifying atomic.Bool
}

// New returns a consumer; Run starts it.
func New(cfg Config) *Consumer {
	if cfg.Batch < 1 {
		cfg.Batch = DefaultBatch
	}
	if cfg.Poll <= 0 {
		cfg.Poll = DefaultPoll
	}
	if cfg.Parallel < 1 {
		cfg.Parallel = DefaultParallel
	}
	if cfg.Wake == nil {
		cfg.Wake = func() {}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Consumer{cfg: cfg, wake: make(chan struct{}, 1), notify: make(chan struct{}, 1)}
}

// Wake makes the consumer look at the outbox now (non-blocking).
func (c *Consumer) Wake() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Run consumes until ctx ends: a batch after every wake-up (a
// notification, or the poll), and while batches come back full, Parallel
// of them at once until the backlog is gone. It owns its LISTEN goroutine
// and waits for it before returning. A transaction cut off by ctx rolls
// back, leaving its rows for the next run: nothing is lost or published
// twice.
func (c *Consumer) Run(ctx context.Context) {
	listenDone := make(chan struct{})
	go func() {
		defer close(listenDone)
		c.cfg.Store.ListenForOutbox(ctx, c.Wake, c.cfg.Logger)
	}()
	defer func() { <-listenDone }()
	notifierDone := make(chan struct{})
	c.notifying.Store(true)
	go func() {
		defer close(notifierDone)
		c.notifyOthers(ctx)
	}()
	defer func() { <-notifierDone; c.notifying.Store(false) }()
	backoff := 100 * time.Millisecond
	for {
		err := c.drain(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			c.cfg.Logger.Warn("outbox: consume a batch; trying again", "err", err, "retry_in", backoff)
			if !sleep(ctx, backoff) {
				return
			}
			backoff = min(2*backoff, 10*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		// Between a sixth below and above the poll, so that processes
		// sharing the database do not look in step.
		jitter := time.Duration(rand.Int64N(int64(c.cfg.Poll)/3+1)) - c.cfg.Poll/6
		t := time.NewTimer(c.cfg.Poll + jitter)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-c.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// drain consumes one batch and, when it comes back full (a backlog),
// runs Parallel workers that each take batch after batch until one comes
// back short, then returns the first error. Each worker starts its next
// batch as soon as its last one commits: waiting for every worker's batch
// before starting the next round left a CPU idle while the slowest batch
// of each round finished.
func (c *Consumer) drain(ctx context.Context) error {
	res, err := c.RunOnce(ctx)
	if err != nil || !c.full(res) {
		return err
	}
	var mu sync.Mutex
	var first error
	var wg sync.WaitGroup
	for range c.cfg.Parallel {
		wg.Go(func() {
			for ctx.Err() == nil {
				res, err := c.RunOnce(ctx)
				if err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					return
				}
				if !c.full(res) {
					return
				}
			}
		})
	}
	wg.Wait()
	return first
}

// full reports whether a batch suggests more rows are waiting.
func (c *Consumer) full(res store.ConsumeOutboxResult) bool {
	return res.Taken >= c.cfg.Batch || res.Limited
}

// RunOnce consumes one batch, wakes the dispatcher when it created
// deliveries, and logs and reports what it did.
func (c *Consumer) RunOnce(ctx context.Context) (store.ConsumeOutboxResult, error) {
	res, err := c.cfg.Store.ConsumeOutbox(ctx, store.ConsumeOutboxParams{Limit: c.cfg.Batch, Owner: c.cfg.Owner, Check: c.cfg.Check, MaxDataBytes: c.cfg.MaxDataBytes})
	if err != nil {
		return res, err
	}
	if res.Deliveries > 0 {
		c.cfg.Wake()
		// Other processes' dispatchers share the sending: tell them
		// too, now rather than at their next poll. Under Run the
		// notifier does it, so that the next batch does not wait for
		// that transaction's commit; batches that commit meanwhile
		// share the one NOTIFY that follows.
		if c.notifying.Load() {
			select {
			case c.notify <- struct{}{}:
			default:
			}
		} else {
			c.notifyWork(ctx)
		}
	}
	if res.Dead > 0 {
		c.cfg.Logger.Warn("outbox: rows could not become events and were moved to webhook_outbox_dead (see GET /api/v1/outbox/dead)", "dead", res.Dead)
	}
	if c.cfg.Observer != nil && res.Taken > 0 {
		c.cfg.Observer.EventsAccepted(res.Events)
		c.cfg.Observer.OutboxConsumed(res)
	}
	return res, nil
}

// notifyOthers sends a NOTIFY of work after each request on c.notify
// until ctx ends.
func (c *Consumer) notifyOthers(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.notify:
			c.notifyWork(ctx)
		}
	}
}

// notifyWork wakes the other processes' dispatchers. Failing to is no
// loss: they still poll.
func (c *Consumer) notifyWork(ctx context.Context) {
	if err := c.cfg.Store.NotifyWork(ctx); err != nil && ctx.Err() == nil {
		c.cfg.Logger.Warn("outbox: wake other processes", "err", err)
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
