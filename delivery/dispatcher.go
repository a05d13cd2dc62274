package delivery

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/webhookd/webhookd/store"
)

// DispatcherConfig configures a Dispatcher. Zero values take the defaults noted.
type DispatcherConfig struct {
	Store    *store.Store
	Sender   *Sender
	Schedule Schedule
	Logger   *slog.Logger
	// Workers bounds sends in flight across all webhooks (default 256).
	Workers int
	// PerWebhook bounds sends in flight to one webhook (default 16).
	PerWebhook int
	// PerOwner bounds sends in flight to one owner's webhooks while another
	// owner has due deliveries that could go now (default Workers/4, at
	// least 1). The only owner with such deliveries may go past it into
	// all but the last PerOwner free workers, which stay free for the next
	// owner whose deliveries fall due: one owner's receivers that never
	// answer hold at most Workers-PerOwner workers and cannot keep another
	// owner's deliveries waiting for a timeout. Counted in this process
	// only.
	PerOwner int
	// BatchSize bounds one lease (default 256).
	BatchSize int
	// LeaseFor is how long a lease holds (default: twice the send timeout
	// plus 30s); a crashed process's deliveries come back after it.
	LeaseFor time.Duration
	// Poll is the longest the dispatcher sleeps without being woken, to
	// notice work from other processes and expired leases (default 5s).
	Poll time.Duration
	// Grace is how long in-flight sends may finish at shutdown before they
	// are cut off and released (default 10s).
	Grace time.Duration
	// Timeout is the per-attempt timeout the lease must outlast.
	Timeout time.Duration
	// Observer, when set, is told of every attempt (metrics).
	Observer Observer
	// Now is the clock pacing and waits for due deliveries read, which
	// compare with times the store stamped; main passes the store's
	// (default time.Now).
	Now func() time.Time
}

// Observer is told of each attempt's outcome.
type Observer interface {
	ObserveAttempt(success bool, statusCode int, d time.Duration)
}

// Dispatcher leases due deliveries, sends them on a bounded pool of
// goroutines and records their outcomes.
type Dispatcher struct {
	cfg  DispatcherConfig
	log  *slog.Logger
	wake chan struct{}

	mu        sync.Mutex
	pace      map[string]time.Time // rate-limited webhook → earliest next send
	inFlight  int
	perHook   map[string]int
	perOwner  map[string]int // sends in flight by owner (tenant id)
	running   bool
	stopping  bool
	sends     sync.WaitGroup
	completed chan completion

	// sendCtx outlives the soft stop and is canceled at the hard stop, so
	// sends get the grace period to finish.
	sendCtx    context.Context
	cancelSend context.CancelFunc

	// recordBackoff is the first wait before recording outcomes again
	// after the database failed; tests shorten it.
	recordBackoff time.Duration
	// slowLease is how long a lease may take before it is logged as a
	// warning: a lease reads a bounded window, so a slow one means the
	// database is overloaded or planned the lease badly. Tests lower it.
	slowLease time.Duration
	// stopRecording is closed when the shutdown grace is over: outcomes
	// the database still refuses are given up then.
	stopRecording chan struct{}
	// linger and lingerBatch: see fillBatch; tests change them.
	linger      time.Duration
	lingerBatch int
	// leaseLinger is the least time between two leases when the first did
	// not fill its batch and the loop was woken for the second: see
	// leaseLingerDefault. Tests change it.
	leaseLinger time.Duration
	// lingerInFlight is how many sends must be in flight for a woken loop
	// to linger (see busy); leaseLingerInFlight by default. Tests change it.
	lingerInFlight int
	// onLinger, when set (tests), is called as the loop starts to linger.
	onLinger func()
	// onLease, when set (tests), is called as a lease begins, after its
	// snapshot of the counts: a test holds a lease open with it.
	onLease func()
	// partialLeaseAt is when the last lease that took fewer than it asked
	// for ended, zero after a lease that filled its batch. Only the loop
	// reads and writes it.
	partialLeaseAt time.Time

	// Handoff (see handoff.go), under mu: workers reserved by publishes
	// not yet committed; whether a lease is between its snapshot of the
	// counts and the start of its sends (what a publish reserves or claims
	// then is tentative); the reservations with tentative workers or
	// claims, settled when that lease ends; whether a lease ran short of
	// workers while some were reserved; and what due deliveries the last
	// lease may have left behind, which freed workers could take.
	reserved int
	leasing  bool
	settling []*reservation
	// droppedHooks counts, by webhook, claims dropped when a lease ended
	// whose deliveries are not released yet (see settleLocked).
	droppedHooks map[string]int
	// unreleased are handed deliveries a release failed for: the loop
	// tries again before it leases (retryReleases).
	unreleased []store.LeasedDelivery
	starved    bool
	behind     behind
}

type completion struct {
	lease store.LeasedDelivery
	out   Outcome
}

// NewDispatcher builds a Dispatcher.
func NewDispatcher(cfg DispatcherConfig) *Dispatcher {
	if cfg.Workers <= 0 {
		cfg.Workers = 256
	}
	if cfg.PerWebhook <= 0 {
		cfg.PerWebhook = 16
	}
	if cfg.PerOwner <= 0 {
		cfg.PerOwner = DefaultPerOwner(cfg.Workers)
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 256
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.LeaseFor <= 0 {
		cfg.LeaseFor = 2*cfg.Timeout + 30*time.Second
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 5 * time.Second
	}
	if cfg.Grace <= 0 {
		cfg.Grace = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	d := &Dispatcher{
		cfg: cfg, log: cfg.Logger, wake: make(chan struct{}, 1), behind: behind{pool: true},
		perHook: map[string]int{}, perOwner: map[string]int{}, pace: map[string]time.Time{},
		completed: make(chan completion, cfg.Workers), recordBackoff: 100 * time.Millisecond,
		slowLease: time.Second, stopRecording: make(chan struct{}),
		linger: completionLinger, lingerBatch: completionLingerBatch, leaseLinger: leaseLingerDefault, lingerInFlight: leaseLingerInFlight,
	}
	d.sendCtx, d.cancelSend = context.WithCancel(context.Background())
	return d
}

// DefaultPerOwner is the per-owner cap for a pool of workers when none is
// configured: a quarter of the pool, at least one.
func DefaultPerOwner(workers int) int { return max(1, workers/4) }

// paceHorizon is the longest a leased delivery of a rate-limited webhook
// waits for its turn while it holds a worker: a lease takes no more of such
// a webhook than its rate allows within this span (at least one), and the
// webhook is left out of leases until its next send is permitted.
const paceHorizon = 20 * time.Millisecond

// Running reports whether Run is dispatching (started and not stopping).
func (d *Dispatcher) Running() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.running && !d.stopping
}

// Wake tells the dispatcher that work may be due now. It never blocks.
func (d *Dispatcher) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run dispatches until ctx is canceled, then stops leasing, gives in-flight
// sends the grace period, releases those that did not finish, records every
// outcome and returns.
func (d *Dispatcher) Run(ctx context.Context) error {
	d.mu.Lock()
	if d.running {
		d.mu.Unlock()
		return errors.New("delivery: dispatcher already running")
	}
	d.running = true
	d.mu.Unlock()

	completerDone := make(chan struct{})
	go func() {
		defer close(completerDone)
		d.complete()
	}()

	d.loop(ctx)
	d.mu.Lock()
	d.stopping = true
	d.mu.Unlock()
	// A last try for handed deliveries a release failed for: left, they
	// wait for their leases to end.
	if err := d.retryReleases(context.Background()); err != nil {
		d.log.Error("release handed deliveries at shutdown", "err", err)
	}

	// Soft stop: no new leases; in-flight sends get the grace period, and
	// so do tries to record outcomes while the database is unavailable.
	giveUp := time.AfterFunc(d.cfg.Grace, func() { close(d.stopRecording) })
	defer giveUp.Stop()
	done := make(chan struct{})
	go func() { d.sends.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d.cfg.Grace):
		d.log.Warn("shutdown grace over; cutting off in-flight deliveries", "grace", d.cfg.Grace)
		d.cancelSend()
		<-done
	}
	d.cancelSend()
	close(d.completed)
	<-completerDone
	return nil
}

func (d *Dispatcher) loop(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for ctx.Err() == nil {
		started, skip, err := d.runOnce(ctx)
		var wait time.Duration
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return
			}
			d.log.Error("lease deliveries", "err", err)
			wait = time.Second
		case started > 0 && skip.more:
			// The batch may not have held everything due.
			continue
		case d.full() || d.starvedByReservations():
			// A finishing send wakes the loop, and so does the end of
			// the reservations that held the workers a lease found
			// taken (endReservationLocked). Asking NextDueAt here would
			// say "due now" of what no worker can take, and the loop
			// would lease and ask again every millisecond until then.
			wait = d.cfg.Poll
		default:
			// Jittered so several processes do not poll in step.
			wait = time.Duration(float64(d.cfg.Poll) * (0.8 + 0.4*rand.Float64()))
			next, err := d.cfg.Store.NextDueAt(ctx, skip.webhooks, skip.owners...)
			if err != nil && ctx.Err() == nil {
				d.log.Error("find next due delivery", "err", err)
			}
			if next != nil {
				wait = min(wait, max(next.Sub(d.cfg.Now()), 0)+time.Millisecond)
			}
			if !skip.paced.IsZero() {
				// A paced webhook may be leased again then.
				wait = min(wait, max(skip.paced.Sub(d.cfg.Now()), 0)+time.Millisecond)
			}
		}
		timer.Reset(wait)
		woken := false
		select {
		case <-ctx.Done():
		case <-d.wake:
			woken = true
		case <-timer.C:
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		if rest := d.leaseLinger - time.Since(d.partialLeaseAt); woken && !d.partialLeaseAt.IsZero() && rest > 0 && d.busy() {
			d.lingerBeforeLease(ctx, rest)
		}
	}
}

// lingerBeforeLease waits out the rest of the lease linger (see
// leaseLinger) before a woken loop leases again, so that the wake-ups of a
// busy dispatcher (every publish commit, every finished send while the
// pool is mostly free) are served by one lease instead of one each. Wakes
// that arrive meanwhile are left in the channel, where they only repeat
// this one.
func (d *Dispatcher) lingerBeforeLease(ctx context.Context, rest time.Duration) {
	if d.onLinger != nil {
		d.onLinger()
	}
	t := time.NewTimer(rest)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// busy reports whether at least d.lingerInFlight sends are in flight: only
// then does a woken loop linger before it leases (see leaseLinger). A
// dispatcher with few sends in flight is not what keeps the writer busy,
// and at a steady few hundred events a second every lease falls within
// the linger of the one before: lingering there doubled the median
// publish-to-arrival latency (1.2 to 2.8 ms at 500 events/s, SQLite) and
// saved no transaction worth having.
func (d *Dispatcher) busy() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.inFlight >= d.lingerInFlight
}

// starvedByReservations reports whether the last lease found workers it
// could have used held by publishes' reservations (see Reserve): their end
// wakes the loop.
func (d *Dispatcher) starvedByReservations() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.starved
}

// full reports whether every worker is busy.
func (d *Dispatcher) full() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.inFlight >= d.cfg.Workers
}

// skipped is what a lease left out: webhooks at their cap or waiting out
// their rate limit, owners held to their cap, and when the earliest paced
// webhook may send again (zero: none is waiting).
type skipped struct {
	webhooks, owners []string
	paced            time.Time
	// more is set when the lease took all it asked for, so more may be
	// due. A lease that took fewer took all it could: leasing again at
	// once only repeats the transaction to take nothing (a lone owner's
	// fan-out, held to the workers it leaves free, did so after every
	// lease); the loop waits for a send to end or the next due time.
	more bool
}

// runOnce leases what free workers can take and starts sending it. It
// returns how many deliveries it started and what it left out.
func (d *Dispatcher) runOnce(ctx context.Context) (int, skipped, error) {
	if err := d.retryReleases(ctx); err != nil {
		// Not returned: a release that keeps failing must not hold up
		// the leases of everything else.
		d.log.Error("release handed deliveries", "err", err)
	}
	free, inFlight, ownerInFlight, skip := d.leaseState()
	defer d.endLease()
	if free <= 0 || ctx.Err() != nil {
		return 0, skip, nil
	}
	if d.onLease != nil {
		d.onLease()
	}
	limit := min(free, d.cfg.BatchSize)
	start := time.Now()
	lease, err := d.cfg.Store.LeaseDue(ctx, store.LeaseParams{
		Limit: limit, LeaseFor: d.cfg.LeaseFor, SkipWebhooks: skip.webhooks,
		PerWebhook: d.cfg.PerWebhook, InFlight: inFlight,
		PerOwner: d.cfg.PerOwner, OwnerInFlight: ownerInFlight, FreeWorkers: free, PaceHorizon: paceHorizon,
	})
	if took := time.Since(start); took > d.slowLease {
		// Leases are the delivery rate's ceiling: one that takes seconds
		// caps it at a few batches a second, whatever the receivers do.
		d.log.Warn("slow lease of due deliveries", "duration", took, "leased", len(lease.Deliveries), "limit", limit, "err", err)
	}
	if err != nil {
		return 0, skip, err
	}
	// An owner held to its cap can take no more until one of its sends
	// ends, which wakes the loop: its due deliveries are not waited for.
	skip.owners = lease.OwnersAtCap
	skip.more = len(lease.Deliveries) == limit
	d.partialLeaseAt = time.Time{}
	if !skip.more {
		d.partialLeaseAt = time.Now()
	}
	started := d.startSends(ctx, lease.Deliveries)
	d.noteLeftDue(skip)
	return started, skip, nil
}

// leaseState reads, under d.mu, what runOnce leases against: the free
// workers, each webhook's and each owner's sends in flight, and the
// webhooks to skip (at their cap, or waiting out their rate limit, the
// soonest of which sets skip.paced).
func (d *Dispatcher) leaseState() (int, map[string]int, map[string]int, skipped) {
	var skip skipped
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.cfg.Now()
	free := d.beginLeaseLocked()
	inFlight := make(map[string]int, len(d.perHook))
	for id, n := range d.perHook {
		inFlight[id] = n
		if n >= d.cfg.PerWebhook {
			skip.webhooks = append(skip.webhooks, id)
		}
	}
	// A webhook waiting out its rate limit is not leased until its next
	// send is permitted, so its deliveries wait in the database, not in a
	// worker.
	for id, next := range d.pace {
		if !next.After(now) {
			delete(d.pace, id)
			continue
		}
		skip.webhooks = append(skip.webhooks, id)
		if skip.paced.IsZero() || next.Before(skip.paced) {
			skip.paced = next
		}
	}
	ownerInFlight := make(map[string]int, len(d.perOwner))
	for id, n := range d.perOwner {
		ownerInFlight[id] = n
	}
	return free, inFlight, ownerInFlight, skip
}

// startSends starts a send for each leased delivery that its webhook's cap
// and rate allow now, gives the rest back to the queue, and returns how
// many it started.
func (d *Dispatcher) startSends(ctx context.Context, leased []store.LeasedDelivery) int {
	var overflow []store.LeasedDelivery
	started := 0
	d.mu.Lock()
	now := d.cfg.Now()
	for _, l := range leased {
		if d.perHook[l.WebhookID] >= d.cfg.PerWebhook {
			overflow = append(overflow, l)
			continue
		}
		wait, ok := d.paceLocked(l, now)
		if !ok {
			overflow = append(overflow, l)
			continue
		}
		d.perHook[l.WebhookID]++
		d.perOwner[l.TenantID]++
		d.inFlight++
		d.sends.Add(1)
		started++
		go d.send(l, wait)
	}
	d.mu.Unlock()
	if len(overflow) > 0 {
		// The batch held more for one webhook than its cap or its rate
		// allows now: give the rest back rather than hold them past their
		// turn or hold a worker while they wait.
		if err := d.cfg.Store.ReleaseDeliveries(context.WithoutCancel(ctx), overflow); err != nil {
			d.log.Error("release deliveries over a webhook's cap or rate", "err", err)
		}
	}
	return started
}

// attemptTimeout is the webhook's own timeout, never longer than the
// dispatcher's: the lease is sized from the dispatcher's timeout, and an
// attempt that outlived its lease could be sent twice.
func (d *Dispatcher) attemptTimeout(l store.LeasedDelivery) time.Duration {
	t := time.Duration(l.TimeoutSeconds) * time.Second
	if t <= 0 || t > d.cfg.Timeout {
		return d.cfg.Timeout
	}
	return t
}

// paceLocked returns how long a send to a rate-limited webhook waits for
// its turn (see pace), and records when the webhook's next send is
// permitted. A delivery whose turn is more than paceHorizon off is not sent
// (ok is false) and goes back to the database until then, rather than hold
// a worker. d.mu must be held.
func (d *Dispatcher) paceLocked(l store.LeasedDelivery, now time.Time) (wait time.Duration, ok bool) {
	wait, next, ok := pace(now, d.pace[l.WebhookID], l.RateLimit, paceHorizon)
	switch {
	case !ok:
		return 0, false
	case next.IsZero():
		delete(d.pace, l.WebhookID)
	default:
		d.pace[l.WebhookID] = next
	}
	return wait, true
}

// send waits its turn under the webhook's rate limit, makes one attempt
// and hands the outcome to the completer.
func (d *Dispatcher) send(l store.LeasedDelivery, wait time.Duration) {
	defer d.sends.Done()
	var out Outcome
	if wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-d.sendCtx.Done():
			// Shutdown cut the wait short: the attempt never happened.
			t.Stop()
			out.Canceled = true
		}
	}
	if !out.Canceled {
		out = d.cfg.Sender.Send(d.sendCtx, Request{
			DeliveryID: l.ID, EventType: l.EventType, OccurredAt: l.OccurredAt, Data: l.Payload, URL: l.URL,
			Secret: l.Secret, PreviousSecret: l.PreviousSecret, Headers: l.Headers,
			Timeout: d.attemptTimeout(l),
		})
		// Test sends are left out of the metrics, redelivered ones too.
		if d.cfg.Observer != nil && !out.Canceled && !l.Test {
			d.cfg.Observer.ObserveAttempt(out.Success, out.StatusCode, out.Duration)
		}
	}
	d.completed <- completion{lease: l, out: out}
	d.mu.Lock()
	d.inFlight--
	ownerLeft := d.perOwner[l.TenantID] - 1
	if d.perOwner[l.TenantID] = ownerLeft; ownerLeft <= 0 {
		delete(d.perOwner, l.TenantID)
	}
	left := d.perHook[l.WebhookID] - 1
	if d.perHook[l.WebhookID] = left; left <= 0 {
		delete(d.perHook, l.WebhookID)
		if next, ok := d.pace[l.WebhookID]; ok && next.Before(d.cfg.Now()) {
			delete(d.pace, l.WebhookID)
		}
	}
	// Wake the loop at a low-water mark, not on every finished send: a busy
	// webhook's freed slots are then leased in one batch instead of one
	// lease transaction each. The webhook's mark is crossed, not merely
	// below: a fan-out's thousands of webhooks each have one send in
	// flight, always below it, and waking on each of their sends leased
	// the fan-out one or two deliveries a transaction. The pool's mark is
	// a batch of workers free beyond the share a lone owner leaves free.
	// An idle dispatcher is below the mark, so a lone delivery's successor
	// still starts at once. An owner that just fell below its cap may be
	// leased again, too.
	// Only when the last lease may have left due deliveries this send's
	// end lets go (see behind): otherwise the database holds none due
	// that a lease could take now, and whatever falls due wakes the loop
	// itself (a publish, a retry, the poll). A handed delivery's send
	// woke it for nothing.
	wake := d.wakeAfterSendLocked(left, ownerLeft) && d.behind.freedBy(l.WebhookID, l.TenantID)
	d.mu.Unlock()
	if wake {
		d.Wake()
	}
}

// wakeAfterSendLocked reports whether a finished send wakes the loop, given
// what its webhook (left) and owner (ownerLeft) still have in flight: when
// the webhook's in-flight count crosses half its cap, when the owner's
// falls below its share, and when the pool is at half or has free enough
// workers for a lease of an eighth of it past the PerOwner workers a lone
// owner leaves free (with fewer free, a lease could take only the
// difference). d.mu must be held.
func (d *Dispatcher) wakeAfterSendLocked(left, ownerLeft int) bool {
	wakeFree := min(d.cfg.Workers, d.cfg.PerOwner+max(1, d.cfg.Workers/8))
	return left == d.cfg.PerWebhook/2 || ownerLeft == d.cfg.PerOwner-1 ||
		d.inFlight <= d.cfg.Workers/2 || d.cfg.Workers-d.inFlight >= wakeFree
}

// leaseLingerDefault is the least time between a lease that took all it
// could and the next one a wake-up asks for. Every publish commit wakes the
// loop, and so does every finished send while the pool is mostly free; with
// 32 publishers to one webhook the loop leased back to back, about five
// deliveries a transaction (4,198 leases for 20,000 deliveries), and the
// leases held SQLite's single writer as long as the publishes did, so the
// publishes waited on them. After a lease that filled its batch the loop
// leases again at once, and an idle loop leases at once when woken: only
// a busy dispatcher's deliveries wait, at most this long.
const leaseLingerDefault = 2 * time.Millisecond

// leaseLingerInFlight is how many sends in flight make a dispatcher busy
// enough to linger before leasing (see busy): a lease per wake-up costs
// the writer most when many sends end and many publishes commit at once.
const leaseLingerInFlight = 8

// maxCompletionBatch bounds one completion transaction.
const maxCompletionBatch = 512

// completionLinger and completionLingerBatch: a batch of outcomes smaller
// than completionLingerBatch, while other sends are still in flight, waits
// up to completionLinger for more before it is recorded (fillBatch).
const (
	completionLinger      = 2 * time.Millisecond
	completionLingerBatch = 32
)

// complete records outcomes in batches: whatever has arrived by the time
// the previous transaction committed goes into the next one, so a busy
// dispatcher commits rarely and an idle one commits at once. One
// completer records at a time, on PostgreSQL too: two, each on its own
// connection, split the outcomes into smaller transactions and were
// slower on every measure (a 10,000-webhook fan-out 1.27–1.35 s against
// 1.17–1.26 s, one event a request 4,450–4,540 against 4,920–5,010
// deliveries/s, the batch route 6,570–6,820 against 7,160–7,350/s).
func (d *Dispatcher) complete() {
	batch := make([]completion, 0, maxCompletionBatch)
	for c := range d.completed {
		batch = d.fillBatch(append(batch[:0], c))
		d.record(batch)
		// A failed attempt's retry may fall due before anything else the
		// loop waits for, and the loop may have looked for the next due
		// delivery while this one still held its lease: wake it to look
		// again now that the retry time is in the database. A batch of
		// successes makes nothing due, and the sends that freed workers
		// have woken the loop as they should (wakeAfterSendLocked); waking
		// on every batch leased a lone owner's fan-out one delivery a
		// transaction, the one worker freed past its reserve.
		if makesDue(batch) {
			d.Wake()
		}
	}
}

// fillBatch adds to batch the outcomes already waiting. A batch still
// smaller than d.lingerBatch while other sends are in flight waits up to
// d.linger for theirs: the writer is idle then, and recorded each
// outcome as it came, in a transaction of its own (149 of the 289
// completion transactions of a 10,000-webhook fan-out held one outcome,
// each costing the single SQLite writer a commit that the next lease
// waited for). A lone send's outcome is recorded at once.
func (d *Dispatcher) fillBatch(batch []completion) []completion {
	for len(batch) < maxCompletionBatch {
		select {
		case c, ok := <-d.completed:
			if !ok {
				return batch
			}
			batch = append(batch, c)
			continue
		default:
		}
		break
	}
	if len(batch) >= d.lingerBatch || !d.othersInFlight(len(batch)) {
		return batch
	}
	t := time.NewTimer(d.linger)
	defer t.Stop()
	for len(batch) < d.lingerBatch {
		select {
		case c, ok := <-d.completed:
			if !ok {
				return batch
			}
			batch = append(batch, c)
		case <-t.C:
			return batch
		}
	}
	return batch
}

// othersInFlight reports whether more sends are in flight than the n whose
// outcomes the completer holds (a send counts until just after it hands
// its outcome over).
func (d *Dispatcher) othersInFlight(n int) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.inFlight > n
}

// makesDue reports whether recording batch leaves a delivery due again: a
// failed attempt (its retry, or nothing if it was the last), a send cut
// off by shutdown (released), or any outcome of an ordered delivery, whose
// end lets the next of its key go.
func makesDue(batch []completion) bool {
	for _, c := range batch {
		if !c.out.Success || c.lease.Ordered {
			return true
		}
	}
	return false
}

// record writes one batch of outcomes, retrying while the database is
// unavailable; outcomes that arrive meanwhile join the retries. Sends cut
// off by shutdown are released instead.
func (d *Dispatcher) record(batch []completion) {
	r := recording{expires: make(map[string]time.Time, len(batch))}
	for _, c := range batch {
		d.add(&r, c)
	}
	ctx := context.Background()
	d.completeAll(ctx, &r)
	if len(r.released) > 0 {
		if err := d.cfg.Store.ReleaseDeliveries(ctx, r.released); err != nil {
			d.log.Error("release deliveries at shutdown", "err", err, "count", len(r.released))
		}
	}
}

// recording is the outcomes one record call is writing.
type recording struct {
	done     []store.Completion
	released []store.LeasedDelivery
	// expires holds each completion's lease end, by delivery id: trying to
	// record it is worth it until then.
	expires map[string]time.Time
}

// add turns one send's outcome into what recording it writes.
func (d *Dispatcher) add(r *recording, c completion) {
	if c.out.Canceled {
		r.released = append(r.released, c.lease)
		return
	}
	l := logFor(c.out, c.lease.WebhookID, c.lease.EventID, c.lease.ID, c.lease.EventType, c.lease.Attempt)
	// A redelivered test send stays a test: logged as one, never
	// retried, and a 410 answer to it disables nothing, as for the
	// test send itself.
	l.Test = c.lease.Test
	sc := store.Completion{DeliveryID: c.lease.ID, LeaseToken: c.lease.LeaseToken, Log: l,
		// 410 Gone: the receiver says this endpoint is gone for good.
		Gone: c.out.StatusCode == http.StatusGone && !c.lease.Test}
	if !c.out.Success {
		if wait, ok := d.cfg.Schedule.Next(c.lease.Attempt, c.out.RetryAfter); ok && !c.lease.Test {
			next := d.cfg.Store.Now().Add(wait)
			sc.NextAttemptAt = &next
		}
		d.log.Warn("delivery attempt failed", "webhook_id", c.lease.WebhookID, "delivery_id", c.lease.ID,
			"attempt", c.lease.Attempt, "status", c.out.StatusCode, "error", c.out.Error, "final", sc.NextAttemptAt == nil)
		if c.lease.Ordered && sc.NextAttemptAt == nil {
			// FIFO: the key's queue moves on past a delivery that could
			// not be delivered; say so, since its receiver will see the
			// next event without this one.
			d.log.Warn("ordered delivery failed for good; the next of its ordering key goes now", "webhook_id", c.lease.WebhookID,
				"delivery_id", c.lease.ID, "ordering_key", c.lease.OrderingKey, "attempts", c.lease.Attempt)
		}
	}
	r.done = append(r.done, sc)
	r.expires[c.lease.ID] = c.lease.LeaseExpiresAt
}

// gather adds the outcomes that arrived while the database refused the
// batch, so that they are retried with it, each while its own lease holds,
// rather than wait behind it.
func (d *Dispatcher) gather(r *recording) {
	for len(r.done) < maxCompletionBatch {
		select {
		case c, ok := <-d.completed:
			if !ok {
				return
			}
			d.add(r, c)
		default:
			return
		}
	}
}

// maxRecordBackoff caps the wait between tries to record outcomes, so
// that they are recorded within a second of the database coming back.
const maxRecordBackoff = time.Second

// completeAll records completions, retrying while the database is
// unavailable for as long as their leases hold: an outcome recorded before
// its lease ends keeps the delivery from being sent twice, so a short
// outage costs a wait, not duplicates. Only an outcome whose lease ends
// before the next try is given up (its delivery will be sent again: at
// least once, never lost), and at shutdown the grace period bounds the
// tries. When a batch fails, its completions are tried one by one: a
// single completion that can never be recorded would otherwise fail the
// whole transaction every time and take the other outcomes with it.
func (d *Dispatcher) completeAll(ctx context.Context, r *recording) {
	if len(r.done) == 0 {
		return
	}
	_, err := d.cfg.Store.CompleteDeliveries(ctx, r.done)
	if err == nil {
		return
	}
	wait := d.recordBackoff
	for try := 1; ; try++ {
		if len(r.done) > 1 {
			if r.done, err = d.completeEach(ctx, r.done); len(r.done) == 0 {
				return
			}
		}
		// Give up what the next try would come too late for.
		deadline := d.cfg.Store.Now().Add(wait)
		kept := r.done[:0]
		for _, c := range r.done {
			if r.expires[c.DeliveryID].After(deadline) {
				kept = append(kept, c)
			}
		}
		if lost := len(r.done) - len(kept); lost > 0 {
			d.log.Error("record delivery outcomes: giving up as their leases end; they will be sent again", "err", err, "count", lost, "tries", try)
		}
		if r.done = kept; len(r.done) == 0 {
			return
		}
		d.log.Warn("record delivery outcomes", "err", err, "count", len(r.done), "retry", try, "wait", wait)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-d.stopRecording:
			t.Stop()
			d.log.Error("record delivery outcomes: shutdown grace over; they will be sent again when their leases end", "err", err, "count", len(r.done))
			return
		}
		d.gather(r)
		if _, err = d.cfg.Store.CompleteDeliveries(ctx, r.done); err == nil {
			return
		}
		wait = min(2*wait, maxRecordBackoff)
	}
}

// completeEach records completions one at a time and returns those that
// failed, with the last error. When the first two fail and none succeeded
// the database is taken to be unavailable, and the rest are not tried.
func (d *Dispatcher) completeEach(ctx context.Context, done []store.Completion) ([]store.Completion, error) {
	var failed []store.Completion
	var last error
	ok := 0
	for i, c := range done {
		if ok == 0 && len(failed) >= 2 {
			return append(failed, done[i:]...), last
		}
		if _, err := d.cfg.Store.CompleteDeliveries(ctx, []store.Completion{c}); err != nil {
			failed, last = append(failed, c), err
		} else {
			ok++
		}
	}
	return failed, last
}
