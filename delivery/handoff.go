package delivery

import (
	"context"
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
//     no publish reserves or claims (d.leasing): a claim the snapshot did
//     not see could otherwise take a webhook or owner past its cap.
//
// A publish that finds no free worker, or a webhook or owner at its cap,
// inserts plain pending rows for the loop to lease as before.

// Reserve implements store.Handoff: it holds up to n free workers, at most
// a lease's batch, for one publish; nil when the dispatcher is not
// running, is stopping, is leasing, has no worker free, or its last lease
// may have left due deliveries waiting for workers: those are older, and
// go first, by lease, so a handoff never overtakes a backlog.
func (d *Dispatcher) Reserve(n int) store.Reservation {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.running || d.stopping || d.leasing || d.behind.pool {
		return nil
	}
	n = min(n, d.cfg.BatchSize, d.cfg.Workers-d.inFlight-d.reserved)
	if n <= 0 {
		return nil
	}
	d.reserved += n
	return &reservation{d: d, size: n}
}

// reservation is a publish's hold on free workers (store.Reservation).
type reservation struct {
	d      *Dispatcher
	size   int
	claims []claim
	ended  bool
}

// claim is one claimed delivery's webhook and owner, as counted.
type claim struct{ webhookID, tenantID string }

// Claim implements store.Reservation. It takes the owner no further than
// PerOwner, the cap a lease holds an owner to while another's deliveries
// wait: a lease knows whether any do, a publish does not, so a lone owner
// past its share is left to the lease. Nor does it claim for a webhook or
// owner the last lease left due deliveries of: those go first.
func (r *reservation) Claim(webhookID, tenantID string) bool {
	d := r.d
	d.mu.Lock()
	defer d.mu.Unlock()
	if r.ended || len(r.claims) >= r.size || d.leasing || d.stopping || d.behind.holds(webhookID, tenantID) ||
		d.perHook[webhookID] >= d.cfg.PerWebhook || d.perOwner[tenantID] >= d.cfg.PerOwner {
		return false
	}
	d.perHook[webhookID]++
	d.perOwner[tenantID]++
	r.claims = append(r.claims, claim{webhookID, tenantID})
	return true
}

// LeaseFor implements store.Reservation.
func (r *reservation) LeaseFor() time.Duration { return r.d.cfg.LeaseFor }

// Adopt implements store.Reservation: each leased delivery that matches a
// claim starts sending, as a leased one does in startSends; claims left
// unmatched are undone and the unused workers freed. Once the dispatcher
// is stopping nothing starts: the deliveries are released, due again now,
// for the next run or another process.
func (r *reservation) Adopt(leased []store.LeasedDelivery) {
	d := r.d
	d.mu.Lock()
	if r.ended {
		d.mu.Unlock()
		return
	}
	r.ended = true
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
	wake := d.endReservationLocked(r.size) || undone > 0
	d.mu.Unlock()
	if len(release) > 0 {
		if err := d.cfg.Store.ReleaseDeliveries(context.Background(), release); err != nil {
			d.log.Error("release deliveries handed over as the dispatcher stopped", "err", err, "count", len(release))
		}
	}
	if wake {
		d.Wake()
	}
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

// endLease marks the lease runOnce began as over: its sends have started.
func (d *Dispatcher) endLease() {
	d.mu.Lock()
	d.leasing = false
	d.mu.Unlock()
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
