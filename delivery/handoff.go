package delivery

import (
	"context"
	"fmt"
	"time"

	"github.com/webhookd/webhookd/store"
)

// The dispatcher is the store's Handoff: a publish reserves free workers
// before its transaction, claims one for each delivery it inserts already
// leased, and after its commit hands those over to be sent at once, with
// no lease transaction and no wait for the loop. The counts stay exact
// however publishes and leases interleave:
//   - reserved workers are not free to a lease (beginLeaseLocked), so a
//     lease and the publishes meanwhile cannot together take more than the
//     pool;
//   - a claim counts against its webhook's and owner's in-flight caps at
//     once, as a started send does;
//   - between a lease's snapshot of those counts and the start of its sends
//     (d.leasing) nothing is counted: a claim the snapshot did not see
//     could otherwise take a webhook or owner past its cap. What a publish
//     reserves or claims meanwhile is tentative, and is settled when the
//     lease ends (settleLocked): the workers then free are reserved, and
//     each tentative claim that still fits the caps, the reservation and
//     what the lease left behind is counted. A delivery whose claim did
//     not fit was inserted leased all the same; Adopt gives it back to the
//     queue, due at once, rather than send it past a cap.
//
// Refusing every reservation and claim while a lease ran, as this did
// before, fed itself on PostgreSQL, where leases run beside publishes: a
// publish that could hand nothing over woke the loop, whose lease refused
// the next publishes, and four in five deliveries went by lease.
//
// A publish that finds no free worker, or a webhook or owner at its cap,
// inserts plain pending rows for the loop to lease as before.

// Reserve implements store.Handoff: it holds up to n free workers, at most
// a lease's batch, for one publish; nil when the dispatcher is not
// running, is stopping, has no worker free, or its last lease may have
// left due deliveries waiting for workers: those are older, and go first,
// by lease, so a handoff never overtakes a backlog. While a lease runs the
// reservation is tentative: it holds no worker until the lease ends.
func (d *Dispatcher) Reserve(n int) store.Reservation {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.running || d.stopping || (!d.leasing && d.behind.pool) {
		return nil
	}
	n = min(n, d.cfg.BatchSize, d.cfg.Workers-d.inFlight-d.reserved)
	if n <= 0 {
		return nil
	}
	r := &reservation{d: d, size: n}
	if d.leasing {
		r.tentative = true
		d.settleLaterLocked(r)
		return r
	}
	d.reserved += n
	return r
}

// reservation is a publish's hold on free workers (store.Reservation).
type reservation struct {
	d *Dispatcher
	// size is the workers held; while tentative, the most it asks for.
	size int
	// tentative: made while a lease ran, it holds no workers until that
	// lease ends (settleLocked).
	tentative bool
	claims    []claim // counted against the caps
	// pending are claims made while a lease ran, not counted yet.
	pending []claim
	// dropped are pending claims that did not fit when the lease ended,
	// counted in d.droppedHooks until their deliveries are released.
	dropped []claim
	// queued: in d.settling, to be settled when the running lease ends.
	queued bool
	// adopted holds what Adopt was given before the reservation was
	// settled; adopting is set then.
	adopting bool
	adopted  []store.LeasedDelivery
	ended    bool
}

// claim is one claimed delivery's webhook and owner, as counted.
type claim struct{ webhookID, tenantID string }

// Claim implements store.Reservation. It takes the owner no further than
// PerOwner, the cap a lease holds an owner to while another's deliveries
// wait: a lease knows whether any do, a publish does not, so a lone owner
// past its share is left to the lease. Nor does it claim for a webhook or
// owner the last lease left due deliveries of: those go first. While a
// lease runs the claim is pending, checked against the counts as they
// stand and the reservation's other pending claims, and counted, or not,
// when the lease ends.
func (r *reservation) Claim(webhookID, tenantID string) bool {
	d := r.d
	d.mu.Lock()
	defer d.mu.Unlock()
	if r.ended || r.adopting || d.stopping || len(r.claims)+len(r.pending) >= r.size {
		return false
	}
	c := claim{webhookID, tenantID}
	if d.leasing {
		hook, owner := d.perHook[webhookID], d.perOwner[tenantID]
		for _, p := range r.pending {
			if p.webhookID == webhookID {
				hook++
			}
			if p.tenantID == tenantID {
				owner++
			}
		}
		if hook >= d.cfg.PerWebhook || owner >= d.cfg.PerOwner || d.droppedHooks[webhookID] > 0 {
			return false
		}
		r.pending = append(r.pending, c)
		d.settleLaterLocked(r)
		return true
	}
	if !d.fitsLocked(c) {
		return false
	}
	d.countLocked(c)
	r.claims = append(r.claims, c)
	return true
}

// fitsLocked reports whether a claim fits now: its webhook and owner under
// their caps, no due delivery of either left behind by the last lease, and
// none of the webhook's dropped claims (see settleLocked) waiting to be
// released.
// d.mu must be held.
func (d *Dispatcher) fitsLocked(c claim) bool {
	return !d.behind.holds(c.webhookID, c.tenantID) && d.droppedHooks[c.webhookID] == 0 &&
		d.perHook[c.webhookID] < d.cfg.PerWebhook && d.perOwner[c.tenantID] < d.cfg.PerOwner
}

// countLocked counts a claim against its webhook's and owner's caps. d.mu
// must be held.
func (d *Dispatcher) countLocked(c claim) {
	d.perHook[c.webhookID]++
	d.perOwner[c.tenantID]++
}

// settleLaterLocked queues r to be settled when the running lease ends.
// d.mu must be held.
func (d *Dispatcher) settleLaterLocked(r *reservation) {
	if !r.queued {
		r.queued = true
		d.settling = append(d.settling, r)
	}
}

// LeaseFor implements store.Reservation.
func (r *reservation) LeaseFor() time.Duration { return r.d.cfg.LeaseFor }

// Adopt implements store.Reservation: each leased delivery that matches a
// claim starts sending, as a leased one does in startSends; claims left
// unmatched are undone and the unused workers freed. A leased delivery
// that matches no counted claim (its tentative claim did not fit when the
// lease ended), and every one once the dispatcher is stopping, is released,
// due again now, for a lease, the next run or another process: never
// dropped. Before the lease that made it tentative has ended, the
// reservation is adopted when it ends.
func (r *reservation) Adopt(leased []store.LeasedDelivery) {
	d := r.d
	d.mu.Lock()
	if r.ended || r.adopting {
		d.mu.Unlock()
		return
	}
	if r.queued {
		r.adopting, r.adopted = true, leased
		d.mu.Unlock()
		return
	}
	release, undrop, wake := d.adoptLocked(r, leased)
	d.mu.Unlock()
	d.releaseAndWake(release, undrop, wake)
}

// adoptLocked is Adopt on a settled reservation: it starts the sends and
// returns what to release, the dropped claims to forget once it is released
// and whether to wake the loop. d.mu must be held.
func (d *Dispatcher) adoptLocked(r *reservation, leased []store.LeasedDelivery) ([]store.LeasedDelivery, []claim, bool) {
	r.ended = true
	undrop := r.dropped
	r.dropped = nil
	open := make(map[claim]int, 1)
	for _, c := range r.claims {
		open[c]++
	}
	var release []store.LeasedDelivery
	for _, l := range leased {
		c := claim{l.WebhookID, l.TenantID}
		if open[c] == 0 || d.stopping {
			release = append(release, l)
			continue
		}
		open[c]--
		d.inFlight++
		d.sends.Add(1)
		go d.send(l, 0)
	}
	undone := 0
	for c, n := range open {
		for range n {
			d.unclaimLocked(c)
		}
		undone += n
	}
	wake := d.endReservationLocked(r.size) || undone > 0 || len(release) > 0
	return release, undrop, wake
}

// releaseAndWake gives deliveries that could not be sent back to the queue
// (a first attempt due when it was published, see
// store.ReleaseDeliveries), then forgets the dropped claims among them, and
// wakes the loop to lease them (or whatever a finished reservation leaves
// room for). Until the release has committed, the dropped claims' webhooks
// get no handoff: a newer delivery handed over meanwhile would go first.
func (d *Dispatcher) releaseAndWake(release []store.LeasedDelivery, undrop []claim, wake bool) {
	if len(undrop) > 0 {
		defer func() {
			d.mu.Lock()
			defer d.mu.Unlock()
			for _, c := range undrop {
				if d.droppedHooks[c.webhookID]--; d.droppedHooks[c.webhookID] <= 0 {
					delete(d.droppedHooks, c.webhookID)
				}
			}
		}()
	}
	if len(release) > 0 {
		if err := d.cfg.Store.ReleaseDeliveries(context.Background(), release); err != nil {
			// Kept for the loop to try again before its next lease
			// (retryReleases): given up, they would stay leased, unsent,
			// until their leases end.
			d.log.Error("release handed deliveries that could not be sent; the loop will try again", "err", err, "count", len(release))
			d.mu.Lock()
			d.unreleased = append(d.unreleased, release...)
			d.mu.Unlock()
			wake = true
		}
	}
	if wake {
		d.Wake()
	}
}

// retryReleases tries again to release the handed deliveries a release
// failed for (releaseAndWake), but those whose leases have ended, which
// are due again anyway. On failure they are kept for the next try, before
// the loop's next lease, and the error returned. Only the loop calls it.
func (d *Dispatcher) retryReleases(ctx context.Context) error {
	d.mu.Lock()
	now := d.cfg.Now()
	var retry []store.LeasedDelivery
	for _, l := range d.unreleased {
		if l.LeaseExpiresAt.After(now) {
			retry = append(retry, l)
		}
	}
	d.unreleased = nil
	d.mu.Unlock()
	if len(retry) == 0 {
		return nil
	}
	if err := d.cfg.Store.ReleaseDeliveries(context.WithoutCancel(ctx), retry); err != nil {
		d.mu.Lock()
		d.unreleased = append(retry, d.unreleased...)
		d.mu.Unlock()
		return fmt.Errorf("release handed deliveries again: %w", err)
	}
	return nil
}

// Cancel implements store.Reservation: Adopt with nothing committed,
// which undoes every claim and frees the workers.
func (r *reservation) Cancel() { r.Adopt(nil) }

// unclaimLocked undoes one claim's counts. d.mu must be held.
func (d *Dispatcher) unclaimLocked(c claim) {
	if d.perHook[c.webhookID]--; d.perHook[c.webhookID] <= 0 {
		delete(d.perHook, c.webhookID)
	}
	if d.perOwner[c.tenantID]--; d.perOwner[c.tenantID] <= 0 {
		delete(d.perOwner, c.tenantID)
	}
}

// endReservationLocked frees n reserved workers and reports whether a lease
// ran short of workers while they were held: it is woken to lease again
// with them. Claims undone are woken for too, by the callers: a lease may
// have skipped a webhook they held at its cap. d.mu must be held.
func (d *Dispatcher) endReservationLocked(n int) bool {
	d.reserved -= n
	if d.starved && d.reserved == 0 {
		d.starved = false
		return true
	}
	return false
}

// beginLeaseLocked marks a lease begun and returns the workers it may
// fill: those neither sending nor reserved. Until endLease no publish
// reserves or claims, and until noteLeftDue the lease is taken to leave
// due deliveries behind for want of workers. d.mu must be held.
func (d *Dispatcher) beginLeaseLocked() int {
	d.leasing, d.behind = true, behind{pool: true}
	d.starved = d.starved || d.reserved > 0
	return d.cfg.Workers - d.inFlight - d.reserved
}

// endLease marks the lease runOnce began as over (its sends have started)
// and settles what publishes reserved and claimed meanwhile.
func (d *Dispatcher) endLease() {
	d.mu.Lock()
	d.leasing = false
	var release []store.LeasedDelivery
	var undrop []claim
	wake := false
	for _, r := range d.settling {
		rel, und, w := d.settleLocked(r)
		release, undrop = append(release, rel...), append(undrop, und...)
		wake = wake || w
	}
	clear(d.settling)
	d.settling = d.settling[:0]
	d.mu.Unlock()
	d.releaseAndWake(release, undrop, wake)
}

// settleLocked settles a reservation made or claimed on while a lease ran,
// now that the lease's sends are counted: a tentative reservation holds
// the workers free now, up to what it asked for, and each pending claim
// is counted if it still fits (fitsLocked) and the workers held; the rest
// are dropped, and their deliveries released when the reservation is
// adopted. A reservation already adopted is adopted now. It returns what
// to release, the dropped claims to forget once released, and whether to
// wake the loop. d.mu must be held.
func (d *Dispatcher) settleLocked(r *reservation) ([]store.LeasedDelivery, []claim, bool) {
	r.queued = false
	if r.ended {
		return nil, nil, false
	}
	if r.tentative {
		r.tentative = false
		r.size = max(0, min(r.size, d.cfg.Workers-d.inFlight-d.reserved))
		d.reserved += r.size
	}
	for _, c := range r.pending {
		if len(r.claims) < r.size && !d.stopping && d.fitsLocked(c) {
			d.countLocked(c)
			r.claims = append(r.claims, c)
			continue
		}
		// Its delivery, committed leased or about to be, goes back to
		// the queue when the reservation is adopted; until then newer
		// deliveries of the webhook are not handed over past it.
		if d.droppedHooks == nil {
			d.droppedHooks = map[string]int{}
		}
		d.droppedHooks[c.webhookID]++
		r.dropped = append(r.dropped, c)
	}
	r.pending = nil
	if !r.adopting {
		return nil, nil, false
	}
	leased := r.adopted
	r.adopted = nil
	return d.adoptLocked(r, leased)
}

// behind is what due deliveries the last lease may have left in the
// database, and why: for want of workers (pool: it filled its batch), or
// of a webhook's or owner's room (at its cap, or paced). A handoff does not
// overtake them (Reserve, Claim), and a finished send wakes the loop only
// when it makes room for them (send).
type behind struct {
	pool   bool
	hooks  map[string]bool
	owners map[string]bool
}

// holds reports whether deliveries of the webhook or owner may be waiting.
func (b behind) holds(webhookID, tenantID string) bool {
	return b.pool || b.hooks[webhookID] || b.owners[tenantID]
}

// freedBy reports whether a send of the webhook and owner ending makes room
// for deliveries left behind: a worker, the webhook's or the owner's.
func (b behind) freedBy(webhookID, tenantID string) bool { return b.holds(webhookID, tenantID) }

// noteLeftDue records, after a lease has started its sends, what it may
// have left behind: everything, if it filled its batch; else the webhooks
// it left out (at their cap or paced) or that are at their cap now, and
// the owners it held to theirs.
func (d *Dispatcher) noteLeftDue(skip skipped) {
	d.mu.Lock()
	defer d.mu.Unlock()
	b := behind{pool: skip.more}
	for _, id := range skip.webhooks {
		if b.hooks == nil {
			b.hooks = map[string]bool{}
		}
		b.hooks[id] = true
	}
	for id, n := range d.perHook {
		if n >= d.cfg.PerWebhook {
			if b.hooks == nil {
				b.hooks = map[string]bool{}
			}
			b.hooks[id] = true
		}
	}
	for _, id := range skip.owners {
		if b.owners == nil {
			b.owners = map[string]bool{}
		}
		b.owners[id] = true
	}
	d.behind = b
}
