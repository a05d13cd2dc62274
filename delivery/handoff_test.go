package delivery

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

// idle waits until d's loop has leased once and found nothing left behind:
// from then on only a wake-up, a due time or the (10-minute) poll makes it
// lease, so a delivery sent without one was handed over.
func idle(t testing.TB, d *Dispatcher) {
	t.Helper()
	waitFor(t, "the loop to lease once and find nothing due", func() bool {
		d.mu.Lock()
		defer d.mu.Unlock()
		return d.running && !d.leasing && !d.behind.pool && len(d.behind.hooks) == 0 && len(d.behind.owners) == 0
	})
}

// drained waits until d holds nothing: no send in flight, no worker
// reserved, no webhook or owner counted.
func drained(t testing.TB, d *Dispatcher) {
	t.Helper()
	waitFor(t, "the dispatcher's counts to come back to zero", func() bool {
		d.mu.Lock()
		defer d.mu.Unlock()
		return d.inFlight == 0 && d.reserved == 0 && len(d.perHook) == 0 && len(d.perOwner) == 0
	})
}

// handingCommitter is a GroupCommitter handing over to d, as main wires it.
func handingCommitter(t testing.TB, st *store.Store, h store.Handoff) *store.GroupCommitter {
	t.Helper()
	g := st.NewGroupCommitter(16, store.HandOffTo(h))
	t.Cleanup(g.Close)
	return g
}

func publishVia(t testing.TB, g *store.GroupCommitter, tenantID string, n int) store.PublishResult {
	t.Helper()
	res, err := g.PublishEvents(context.Background(), []store.PublishParams{{
		TenantID: tenantID, Type: "contact.created", Payload: fmt.Appendf(nil, `{"n":%d}`, n), OccurredAt: time.Now(),
	}})
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	return res[0]
}

// TestPublishHandsDeliveriesToTheDispatcher checks that deliveries
// published by concurrent callers through a handing committer are sent
// without the loop leasing them (it is idle and never woken, its poll ten
// minutes off), each once, logged as a first attempt, and that the
// dispatcher's counts come back to zero.
func TestPublishHandsDeliveriesToTheDispatcher(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		rc := newReceiver(t, nil)
		u := newUser(t, st)
		w := newWebhook(t, st, u.ID, rc.URL, "*")
		cfg := testConfig(t, st)
		cfg.PerWebhook = 64
		d := startDispatcher(t, cfg)
		g := handingCommitter(t, st, d)
		idle(t, d)
		const n = 20
		var handed atomic.Int64
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				res := publishVia(t, g, u.ID, i)
				if res.Deliveries != 1 {
					t.Errorf("event %d: %d deliveries, want 1", i, res.Deliveries)
				}
				handed.Add(int64(res.Handed))
			})
		}
		wg.Wait()
		if handed.Load() != n {
			t.Fatalf("%d of %d deliveries handed over, want all", handed.Load(), n)
		}
		logs := settled(t, st, w, n)
		for _, l := range logs {
			if l.Attempt != 1 || l.Status != store.AttemptSuccess {
				t.Errorf("log of delivery %s: attempt %d status %s, want a first attempt that succeeded", l.DeliveryID, l.Attempt, l.Status)
			}
		}
		if got := rc.count(); got != n {
			t.Errorf("receiver got %d requests, want %d", got, n)
		}
		drained(t, d)
	})
}

// TestHandoffKeepsCapsExact checks the reserve and claim API against the
// pool, per-webhook and per-owner caps: deterministically first, then with
// many goroutines reserving, claiming, adopting nothing and canceling at
// once, while another checks the counts never pass a cap (run with -race).
func TestHandoffKeepsCapsExact(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		cfg := testConfig(t, st)
		cfg.Workers, cfg.PerWebhook, cfg.PerOwner = 12, 3, 5
		d := startDispatcher(t, cfg)
		idle(t, d)

		// The pool: one reservation holds every free worker.
		all := d.Reserve(100)
		if all == nil {
			t.Fatal("Reserve on an idle dispatcher reserved nothing")
		}
		if r := d.Reserve(1); r != nil {
			t.Fatal("a second Reserve got workers while the first held the whole pool")
		}
		// The webhook's cap, then the owner's.
		for i := range 3 {
			if !all.Claim("w0", "o0") {
				t.Fatalf("claim %d of webhook w0 refused under its cap of 3", i+1)
			}
		}
		if all.Claim("w0", "o0") {
			t.Fatal("a 4th claim of webhook w0 passed its cap of 3")
		}
		if !all.Claim("w1", "o0") || !all.Claim("w1", "o0") {
			t.Fatal("claims of owner o0's 4th and 5th sends refused under its cap of 5")
		}
		if all.Claim("w2", "o0") {
			t.Fatal("a 6th claim of owner o0 passed its cap of 5")
		}
		all.Cancel()
		all.Cancel() // a second end changes nothing
		drained(t, d)
		idle(t, d)

		stopWatch := watchCaps(d, true)
		var claimed, refused atomic.Int64
		var wg sync.WaitGroup
		for g := range 16 {
			wg.Go(func() {
				for round := 0; round < 50; {
					r := d.Reserve(4)
					if r == nil {
						// The loop is leasing (the claims undone woke it).
						runtime.Gosched()
						continue
					}
					round++
					// Four claims of one webhook: its cap of 3 refuses one
					// at least.
					hook := (g + round) % 6
					for range 4 {
						if r.Claim(fmt.Sprintf("w%d", hook), fmt.Sprintf("o%d", hook%2)) {
							claimed.Add(1)
						} else {
							refused.Add(1)
						}
					}
					if round%2 == 0 {
						r.Cancel()
					} else {
						r.Adopt(nil) // nothing committed: every claim is undone
					}
				}
			})
		}
		wg.Wait()
		if v := stopWatch(); v != 0 {
			t.Errorf("the counts passed a cap %d times", v)
		}
		if claimed.Load() == 0 || refused.Load() == 0 {
			t.Errorf("claimed %d, refused %d: want both, the caps reached", claimed.Load(), refused.Load())
		}
		drained(t, d)
	})
}

// refuseHanded installs a trigger that fails any insert of a leased
// delivery while it is on: a publish's transaction then fails after its
// claims.
func refuseHanded(t *testing.T, target storetest.Target) func(on bool) {
	t.Helper()
	driver, dsn := "pgx", target.DB
	stmts := []string{
		`CREATE TABLE refuse (cut BOOLEAN NOT NULL)`,
		`INSERT INTO refuse VALUES (FALSE)`,
		`CREATE FUNCTION refuse_check() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF NEW.lease_token IS NOT NULL AND (SELECT cut FROM refuse) THEN RAISE EXCEPTION 'simulated failure'; END IF;
			RETURN NEW;
		END $$`,
		`CREATE TRIGGER refuse BEFORE INSERT ON deliveries FOR EACH ROW EXECUTE FUNCTION refuse_check()`,
	}
	if target.Name == "sqlite" {
		driver, dsn = "sqlite", "file:"+target.DB+"?_pragma=busy_timeout(10000)"
		stmts = []string{
			`CREATE TABLE refuse (cut BOOLEAN NOT NULL)`,
			`INSERT INTO refuse VALUES (FALSE)`,
			`CREATE TRIGGER refuse BEFORE INSERT ON deliveries WHEN NEW.lease_token IS NOT NULL AND (SELECT cut FROM refuse)
			BEGIN SELECT RAISE(ABORT, 'simulated failure'); END`,
		}
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("set up trigger: %v", err)
		}
	}
	return func(on bool) {
		t.Helper()
		if _, err := db.Exec(`UPDATE refuse SET cut = $1`, on); err != nil {
			t.Fatalf("refuse %v: %v", on, err)
		}
	}
}

// TestRolledBackPublishHandsNothing checks that a publish whose
// transaction fails after it claimed workers hands nothing over, leaves
// nothing behind, and gives every reservation and claim back; the next
// publish is handed over as usual.
func TestRolledBackPublishHandsNothing(t *testing.T) {
	for _, target := range storetest.Targets(t) {
		t.Run(target.Name, func(t *testing.T) {
			st := storetest.Open(t, target.DB)
			refuse := refuseHanded(t, target)
			rc := newReceiver(t, nil)
			u := newUser(t, st)
			w := newWebhook(t, st, u.ID, rc.URL, "*")
			d := startDispatcher(t, testConfig(t, st))
			g := handingCommitter(t, st, d)
			idle(t, d)

			refuse(true)
			if _, err := g.PublishEvents(context.Background(), []store.PublishParams{{
				TenantID: u.ID, Type: "contact.created", Payload: []byte(`{}`), OccurredAt: time.Now(),
			}}); err == nil {
				t.Fatal("publish succeeded with handed deliveries refused")
			}
			drained(t, d)
			if n := pending(t, st, w); n != 0 {
				t.Fatalf("%d deliveries pending after the publish rolled back, want 0", n)
			}

			refuse(false)
			// The canceled claims woke the loop, and a publish hands
			// nothing over while it leases.
			idle(t, d)
			if res := publishVia(t, g, u.ID, 1); res.Handed != 1 {
				t.Fatalf("handed %d after the rollback, want 1", res.Handed)
			}
			settled(t, st, w, 1)
			if got := rc.count(); got != 1 {
				t.Errorf("receiver got %d requests, want 1", got)
			}
			drained(t, d)
		})
	}
}

// stopBeforeAdopt is a Handoff whose reservations stop the dispatcher
// just before they adopt: the shutdown begins between a publish's commit
// and its handing over.
type stopBeforeAdopt struct {
	d    *Dispatcher
	stop func()
}

func (h stopBeforeAdopt) Reserve(n int) store.Reservation {
	r := h.d.Reserve(n)
	if r == nil {
		return nil
	}
	return stoppingReservation{r, h.stop}
}

type stoppingReservation struct {
	store.Reservation
	stop func()
}

func (r stoppingReservation) Adopt(leased []store.LeasedDelivery) {
	r.stop()
	r.Reservation.Adopt(leased)
}

// TestHandoffAfterShutdownBeganReleases checks that deliveries handed over
// once the dispatcher has begun to stop are not sent but released, due at
// once (a lease takes them on the first attempt), and that the next run
// sends them.
func TestHandoffAfterShutdownBeganReleases(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		rc := newReceiver(t, nil)
		u := newUser(t, st)
		w := newWebhook(t, st, u.ID, rc.URL, "*")
		r := runDispatcher(t, testConfig(t, st))
		g := handingCommitter(t, st, stopBeforeAdopt{d: r.d, stop: r.stop})
		idle(t, r.d)
		if res := publishVia(t, g, u.ID, 1); res.Handed != 1 {
			t.Fatalf("handed %d, want 1", res.Handed)
		}
		drained(t, r.d)
		if got := rc.count(); got != 0 {
			t.Fatalf("receiver got %d requests from a stopped dispatcher, want 0", got)
		}
		leased, err := st.LeaseDeliveries(context.Background(), store.LeaseParams{Limit: 10, LeaseFor: time.Minute})
		if err != nil {
			t.Fatalf("lease: %v", err)
		}
		if len(leased) != 1 || leased[0].Attempt != 1 {
			t.Fatalf("leased %d deliveries after the release, want the 1 handed over, on its first attempt", len(leased))
		}
		if err := st.ReleaseDeliveries(context.Background(), leased); err != nil {
			t.Fatalf("release: %v", err)
		}
		startDispatcher(t, testConfig(t, st))
		settled(t, st, w, 1)
		if got := rc.count(); got != 1 {
			t.Errorf("receiver got %d requests, want 1", got)
		}
	})
}

// TestOrderedAndRateLimitedAreNotHanded checks that a publish hands over
// only the delivery of a plain webhook: those of a FIFO webhook and of a
// rate-limited one stay pending for the loop, which sends them once woken.
func TestOrderedAndRateLimitedAreNotHanded(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		rc := newReceiver(t, nil)
		u := newUser(t, st)
		plain := newWebhook(t, st, u.ID, rc.URL, "*")
		var hooks []store.Webhook
		for _, p := range []store.CreateWebhookParams{
			{Ordering: store.OrderingFIFO},
			{RateLimit: 5},
		} {
			p.TenantID, p.Name, p.URL, p.Events, p.Secret, p.IsActive = u.ID, "test", rc.URL, []string{"*"}, "secret-"+store.NewID(), true
			w, err := st.CreateWebhook(context.Background(), p)
			if err != nil {
				t.Fatalf("create webhook: %v", err)
			}
			hooks = append(hooks, w)
		}
		d := startDispatcher(t, testConfig(t, st))
		g := handingCommitter(t, st, d)
		idle(t, d)
		res := publishVia(t, g, u.ID, 1)
		if res.Deliveries != 3 || res.Handed != 1 {
			t.Fatalf("%d deliveries, %d handed: want 3, only the plain webhook's handed", res.Deliveries, res.Handed)
		}
		d.Wake()
		for _, w := range append(hooks, plain) {
			settled(t, st, w, 1)
		}
		drained(t, d)
	})
}

// TestHandoffDoesNotOvertakeAWebhooksQueue checks that a webhook whose due
// deliveries the last lease left behind (at its cap) gets no handoff until
// they are sent, while another webhook's deliveries are still handed over;
// and that the queue, once drained, lets the handoff resume.
func TestHandoffDoesNotOvertakeAWebhooksQueue(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		release := make(chan struct{})
		slow := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
			if n == 1 {
				select {
				case <-release:
				case <-r.Context().Done():
				}
			}
		})
		fast := newReceiver(t, nil)
		u := newUser(t, st)
		a := newWebhook(t, st, u.ID, slow.URL, "a.*")
		b := newWebhook(t, st, u.ID, fast.URL, "b.*")
		cfg := testConfig(t, st)
		cfg.PerWebhook = 1
		d := startDispatcher(t, cfg)
		g := handingCommitter(t, st, d)
		idle(t, d)
		pub := func(eventType string) store.PublishResult {
			t.Helper()
			res, err := g.PublishEvents(context.Background(), []store.PublishParams{{
				TenantID: u.ID, Type: eventType, Payload: []byte(`{}`), OccurredAt: time.Now(),
			}})
			if err != nil {
				t.Fatalf("publish %s: %v", eventType, err)
			}
			return res[0]
		}
		if res := pub("a.first"); res.Handed != 1 {
			t.Fatalf("the first delivery to a: handed %d, want 1", res.Handed)
		}
		waitFor(t, "a's first delivery to arrive", func() bool { return slow.count() == 1 })
		// a is at its cap of 1: the second stays pending, and the lease the
		// wake-up starts leaves it behind.
		if res := pub("a.second"); res.Handed != 0 {
			t.Fatalf("a delivery to a webhook at its cap: handed %d, want 0", res.Handed)
		}
		d.Wake()
		waitFor(t, "a lease to leave a's delivery behind", func() bool {
			d.mu.Lock()
			defer d.mu.Unlock()
			return !d.leasing && d.behind.hooks[a.ID]
		})
		if res := pub("b.first"); res.Handed != 1 {
			t.Fatalf("a delivery to b while a has a queue: handed %d, want 1", res.Handed)
		}
		close(release)
		settled(t, st, a, 2)
		settled(t, st, b, 1)
		idle(t, d)
		if res := pub("a.third"); res.Handed != 1 {
			t.Fatalf("a delivery to a after its queue drained: handed %d, want 1", res.Handed)
		}
		settled(t, st, a, 3)
		// Left behind counts, not the cap: a under its cap but marked as
		// having a queue gets no handoff until a lease has drained it.
		idle(t, d)
		d.mu.Lock()
		d.behind = behind{hooks: map[string]bool{a.ID: true}}
		d.mu.Unlock()
		if res := pub("a.fourth"); res.Handed != 0 {
			t.Fatalf("a delivery to a webhook with a queue: handed %d, want 0", res.Handed)
		}
		d.Wake()
		settled(t, st, a, 4)
		var order []string
		for _, l := range attempts(t, st, a) {
			order = append(order, l.EventType)
		}
		if fmt.Sprint(order) != "[a.first a.second a.third a.fourth]" {
			t.Errorf("a's deliveries went %v, want first to fourth in order", order)
		}
		drained(t, d)
	})
}

// gauge counts requests in progress and keeps the most seen at once.
type gauge struct {
	now, most atomic.Int64
}

func (g *gauge) enter() {
	n := g.now.Add(1)
	for {
		m := g.most.Load()
		if n <= m || g.most.CompareAndSwap(m, n) {
			return
		}
	}
}

func (g *gauge) leave() { g.now.Add(-1) }

// TestHandoffUnderConcurrentPublishesSettlesEverythingWithinCaps attacks
// the handoff with many publishers at once, small caps and receivers that
// fail some attempts (retries due later), while the loop is never woken by
// the test and its poll is ten minutes off: every delivery must still
// settle (no lost wake, nothing leased and never sent), the receivers must
// never see a webhook past PerWebhook or the pool past Workers at once, and
// the dispatcher's counts must come back to zero.
func TestHandoffUnderConcurrentPublishesSettlesEverythingWithinCaps(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		cfg := testConfig(t, st)
		cfg.Workers, cfg.PerWebhook, cfg.PerOwner = 4, 1, 2
		var pool gauge
		type hook struct {
			w     store.Webhook
			g     *gauge
			rc    *receiver
			owner string
		}
		var hooks []*hook
		var owners []string
		for o := range 3 {
			u := newUser(t, st)
			owners = append(owners, u.ID)
			for k := range 2 {
				h := &hook{g: &gauge{}, owner: u.ID}
				fail := o == 0 && k == 0
				h.rc = newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
					h.g.enter()
					pool.enter()
					defer pool.leave()
					defer h.g.leave()
					time.Sleep(2 * time.Millisecond) // let sends overlap
					if fail && n%2 == 1 {
						w.WriteHeader(http.StatusInternalServerError)
						return
					}
					_, _ = w.Write([]byte("ok"))
				})
				h.w = newWebhook(t, st, u.ID, h.rc.URL, "*")
				hooks = append(hooks, h)
			}
		}
		d := startDispatcher(t, cfg)
		g := handingCommitter(t, st, d)
		idle(t, d)

		const publishers, each = 8, 15
		var handed, deliveries atomic.Int64
		var wg sync.WaitGroup
		for p := range publishers {
			wg.Go(func() {
				for i := range each {
					res := publishVia(t, g, owners[(p+i)%len(owners)], p*each+i)
					handed.Add(int64(res.Handed))
					deliveries.Add(int64(res.Deliveries))
				}
			})
		}
		wg.Wait()
		if want := int64(publishers * each * 2); deliveries.Load() != want {
			t.Fatalf("%d deliveries published, want %d", deliveries.Load(), want)
		}
		if handed.Load() == 0 {
			t.Fatal("nothing was handed over: the attack did not reach the handoff")
		}
		t.Logf("%d of %d deliveries handed over", handed.Load(), deliveries.Load())
		// Each owner got publishers*each/3 events, each to both its webhooks.
		perHook := publishers * each / len(owners)
		waitFor(t, "every delivery to settle without the loop being woken by the test", func() bool {
			for _, h := range hooks {
				if pending(t, st, h.w) != 0 || h.rc.count() < perHook {
					return false
				}
			}
			return true
		})
		for _, h := range hooks {
			if m := h.g.most.Load(); m > int64(cfg.PerWebhook) {
				t.Errorf("webhook %s had %d sends at once, over its cap of %d", h.w.ID, m, cfg.PerWebhook)
			}
		}
		if m := pool.most.Load(); m > int64(cfg.Workers) {
			t.Errorf("%d sends at once, over the pool of %d workers", m, cfg.Workers)
		}
		drained(t, d)
	})
}

// TestReservationHoldingEveryWorkerDoesNotSpinTheLoop checks what the loop
// does while a publish's reservation holds every free worker and a
// delivery is due: the lease finds no worker free and the reservation's end
// wakes the loop (starved), so it should wait for that wake. It counts the
// loop's passes (each reads the clock) while the test makes a fixed number
// of store reads with the reservation held.
func TestReservationHoldingEveryWorkerDoesNotSpinTheLoop(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		rc := newReceiver(t, nil)
		u := newUser(t, st)
		w := newWebhook(t, st, u.ID, rc.URL, "*")
		cfg := testConfig(t, st)
		var clockReads atomic.Int64
		cfg.Now = func() time.Time { clockReads.Add(1); return st.Now() }
		d := startDispatcher(t, cfg)
		idle(t, d)
		// Every free worker reserved, as any publish through the committer
		// reserves them, then a delivery due that only a lease can take.
		r := d.Reserve(1 << 20)
		if r == nil {
			t.Fatal("an idle dispatcher reserved nothing")
		}
		publish(t, st, u.ID, "contact.created", `{}`)
		d.Wake()
		waitFor(t, "a lease to find every worker reserved", func() bool {
			d.mu.Lock()
			defer d.mu.Unlock()
			return d.starved && !d.leasing
		})
		before := clockReads.Load()
		for range 1000 {
			if _, err := st.Queue(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		passes := clockReads.Load() - before
		r.Cancel()
		settled(t, st, w, 1)
		if passes > 4 {
			t.Errorf("the loop read the clock %d times while a reservation held every worker (1,000 store reads): "+
				"it leases and asks NextDueAt every millisecond instead of waiting for the reservation's end", passes)
		}
		drained(t, d)
	})
}

// crashAfterCommit is a Handoff whose process "dies" between a publish's
// commit and the start of its sends (kill -9): it claims every delivery it
// is offered and adopts none, leaving them leased in the database.
type crashAfterCommit struct{ leaseFor time.Duration }

func (c crashAfterCommit) Reserve(n int) store.Reservation {
	return &crashedReservation{leaseFor: c.leaseFor, left: n}
}

type crashedReservation struct {
	leaseFor time.Duration
	left     int
}

func (r *crashedReservation) Claim(string, string) bool {
	if r.left == 0 {
		return false
	}
	r.left--
	return true
}
func (r *crashedReservation) LeaseFor() time.Duration      { return r.leaseFor }
func (r *crashedReservation) Adopt([]store.LeasedDelivery) {}
func (r *crashedReservation) Cancel()                      {}

// TestOtherProcessTakesOverHandedDeliveriesOfACrashedOne checks, on
// PostgreSQL with two processes, that deliveries one process handed to its
// own dispatcher and never sent (it was killed after the commit) are sent
// by the other process after their lease ends, as leased ones are. A
// publish that handed everything sends no notification (it would
// serialise every publish's commit for work no other process can take),
// so the survivor, listening for work as main wires it, learns of them at
// its poll: within its poll interval (5 s in main) of the lease's end,
// not at it (WEBHOOKS-DOCUMENTATION.md, "Failure modes"). Its poll is a
// second here.
func TestOtherProcessTakesOverHandedDeliveriesOfACrashedOne(t *testing.T) {
	tk := newTakeover(t)
	cfg := testConfig(t, tk.survivor)
	cfg.Poll = time.Second
	d := startDispatcher(t, cfg)
	listen(t, tk.db, d)

	g := handingCommitter(t, tk.crashed, crashAfterCommit{leaseFor: time.Second})
	if res := publishVia(t, g, tk.user.ID, 1); res.Handed != 1 {
		t.Fatalf("handed %d, want 1", res.Handed)
	}
	logs := settled(t, tk.survivor, tk.hook, 1)
	if logs[0].Attempt != 1 {
		t.Errorf("the taken-over delivery was logged as attempt %d, want 1", logs[0].Attempt)
	}
	drained(t, d)
}

// TestOtherProcessTakesOverLeasedDeliveriesOfACrashedOne is the control
// of TestOtherProcessTakesOverHandedDeliveriesOfACrashedOne without the
// handoff, as before it: the crashed process published (and notified) and
// leased the delivery itself before it died. The survivor, idle and
// listening, is woken by the notification: either its lease takes the
// delivery first, or it finds it leased and learns when that lease ends
// (NextDueAt) and takes it over then. Either way it is sent.
func TestOtherProcessTakesOverLeasedDeliveriesOfACrashedOne(t *testing.T) {
	tk := newTakeover(t)
	d := startDispatcher(t, testConfig(t, tk.survivor))
	listen(t, tk.db, d)

	publish(t, tk.crashed, tk.user.ID, "contact.created", `{}`)
	if _, err := tk.crashed.LeaseDeliveries(context.Background(), store.LeaseParams{Limit: 10, LeaseFor: time.Second}); err != nil {
		t.Fatalf("the crashed process's lease: %v", err)
	}
	settled(t, tk.survivor, tk.hook, 1)
	drained(t, d)
}

// takeover is two processes on a PostgreSQL database of their own
// (isolatedPostgres): one that crashes after publishing, and a survivor
// whose dispatcher the test starts; the user and webhook are the
// survivor's, the webhook's receiver real.
type takeover struct {
	db                string
	crashed, survivor *store.Store
	user              store.User
	hook              store.Webhook
}

func newTakeover(t *testing.T) takeover {
	t.Helper()
	tk := takeover{db: isolatedPostgres(t)}
	tk.crashed, tk.survivor = storetest.Open(t, tk.db), storetest.Open(t, tk.db)
	rc := newReceiver(t, nil)
	tk.user = newUser(t, tk.survivor)
	tk.hook = newWebhook(t, tk.survivor, tk.user.ID, rc.URL, "*")
	return tk
}

// listen forwards every work notification on db to d, as ListenForWork
// does in main, on a connection whose LISTEN is on before it returns (so
// that none is lost or arrives late from before), then waits for d to be
// idle.
func listen(t *testing.T, db string, d *Dispatcher) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `LISTEN webhookd_work`); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if _, err := conn.WaitForNotification(ctx); err != nil {
				return
			}
			d.Wake()
		}
	}()
	t.Cleanup(func() { cancel(); <-done; conn.Close(context.Background()) })
	idle(t, d)
}

// isolatedPostgres creates a database of its own for t and returns its
// URL: notifications are per database, not per schema, and those of other
// tests (other packages run at once on the same database) would wake the
// survivor of the takeover tests and hide what they check.
func isolatedPostgres(t *testing.T) string {
	t.Helper()
	storetest.SkipWithoutPostgres(t)
	base := os.Getenv(storetest.PostgresEnv)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	name := "iso_" + strings.ReplaceAll(store.NewID(), "-", "")
	if _, err := admin.Exec(`CREATE DATABASE ` + name); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec(`DROP DATABASE ` + name + ` WITH (FORCE)`); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// holdFirstLease makes d's next lease stop after its snapshot of the
// counts until proceed is closed, and returns a channel that receives once
// it has stopped there.
func holdFirstLease(d *Dispatcher, proceed <-chan struct{}) <-chan struct{} {
	entered := make(chan struct{}, 1)
	var hold atomic.Bool
	hold.Store(true)
	d.mu.Lock()
	d.onLease = func() {
		if hold.CompareAndSwap(true, false) {
			entered <- struct{}{}
			<-proceed
		}
	}
	d.mu.Unlock()
	return entered
}

// TestHandoffDuringALeaseIsSettledWhenItEnds checks that a publish while a
// lease runs still hands its delivery over, without touching the counts
// the lease took its snapshot of (no worker reserved, nothing counted, no
// send started), and that the delivery is sent once, as a first attempt,
// when the lease ends.
func TestHandoffDuringALeaseIsSettledWhenItEnds(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		rc := newReceiver(t, nil)
		u := newUser(t, st)
		w := newWebhook(t, st, u.ID, rc.URL, "*")
		d := startDispatcher(t, testConfig(t, st))
		g := handingCommitter(t, st, d)
		idle(t, d)
		proceed := make(chan struct{})
		entered := holdFirstLease(d, proceed)
		d.Wake()
		recv(t, "the lease to begin", entered)
		if res := publishVia(t, g, u.ID, 1); res.Deliveries != 1 || res.Handed != 1 {
			t.Fatalf("a publish during a lease: %d deliveries, %d handed, want 1 and 1", res.Deliveries, res.Handed)
		}
		d.mu.Lock()
		reserved, counted, inFlight := d.reserved, d.perHook[w.ID]+d.perOwner[u.ID], d.inFlight
		d.mu.Unlock()
		if reserved != 0 || counted != 0 || inFlight != 0 {
			t.Fatalf("during the lease: %d workers reserved, %d counted against the caps, %d in flight; want none until it ends", reserved, counted, inFlight)
		}
		if n := rc.count(); n != 0 {
			t.Fatalf("%d sends before the lease ended, want 0", n)
		}
		close(proceed)
		logs := settled(t, st, w, 1)
		if len(logs) != 1 || logs[0].Attempt != 1 || rc.count() != 1 {
			t.Fatalf("%d attempts logged (first attempt %d), %d arrived: want one first attempt, arrived once", len(logs), logs[0].Attempt, rc.count())
		}
		drained(t, d)
	})
}

// TestHandoffDuringALeaseKeepsCapsAndOrder checks the other outcome: a
// lease that takes a webhook's older due deliveries up to its cap leaves
// no room for deliveries published, and claimed, while it ran. Those are
// given back to the queue, not sent past the cap and not dropped: every
// delivery arrives once, the older ones first, and the webhook's cap and
// the pool are never passed.
func TestHandoffDuringALeaseKeepsCapsAndOrder(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		gate := make(chan struct{})
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
			if n <= 2 {
				select {
				case <-gate:
				case <-r.Context().Done():
				}
			}
		})
		u := newUser(t, st)
		w := newWebhook(t, st, u.ID, rc.URL, "*")
		cfg := testConfig(t, st)
		cfg.PerWebhook = 2
		d := startDispatcher(t, cfg)
		g := handingCommitter(t, st, d)
		idle(t, d)

		stopWatch := watchCaps(d, false)

		proceed := make(chan struct{})
		entered := holdFirstLease(d, proceed)
		// Two older deliveries, published without the handoff: the lease
		// will take them, filling the webhook's cap.
		publish(t, st, u.ID, "old.1", `{}`)
		publish(t, st, u.ID, "old.2", `{}`)
		d.Wake()
		recv(t, "the lease to begin", entered)
		for i := range 2 {
			if res := publishVia(t, g, u.ID, i); res.Handed != 1 {
				t.Fatalf("publish %d during the lease: handed %d, want 1 (claimed against the counts as they stood)", i+1, res.Handed)
			}
		}
		close(proceed)
		waitFor(t, "the older two to be sent", func() bool { return rc.count() == 2 })
		// The lease has ended and settled the two claims: with the cap
		// full they were dropped and their deliveries given back.
		waitFor(t, "the lease to end and settle", func() bool {
			d.mu.Lock()
			defer d.mu.Unlock()
			return !d.leasing && len(d.settling) == 0 && d.reserved == 0
		})
		if n := rc.count(); n != 2 {
			t.Fatalf("%d sends while the older two held the webhook's cap of 2", n)
		}
		close(gate)
		logs := settled(t, st, w, 4)
		var order []string
		for _, l := range logs {
			order = append(order, l.EventType)
			if l.Attempt != 1 {
				t.Errorf("%s logged as attempt %d, want 1", l.EventType, l.Attempt)
			}
		}
		if len(logs) != 4 || rc.count() != 4 {
			t.Fatalf("%d attempts logged, %d arrived; want 4 and 4", len(logs), rc.count())
		}
		if slices.Sort(order[:2]); fmt.Sprint(order[:2]) != "[old.1 old.2]" {
			t.Errorf("deliveries went %v, want the older two first", order)
		}
		if v := stopWatch(); v != 0 {
			t.Errorf("the pool or the webhook's cap was passed %d times", v)
		}
		drained(t, d)
	})
}

// watchCaps checks d's counts against its caps until the returned stop is
// called, and stop returns how many times they were past one: the pool
// (workers in flight and reserved), a webhook's cap and, with owners set,
// an owner's (tests where one owner is alone leave that out: a lease may
// take a lone owner past it).
func watchCaps(d *Dispatcher, owners bool) (stop func() int64) {
	done := make(chan struct{})
	var violations atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			d.mu.Lock()
			bad := d.inFlight+d.reserved > d.cfg.Workers || d.reserved < 0
			for _, n := range d.perHook {
				bad = bad || n > d.cfg.PerWebhook
			}
			for _, n := range d.perOwner {
				bad = bad || owners && n > d.cfg.PerOwner
			}
			d.mu.Unlock()
			if bad {
				violations.Add(1)
			}
			runtime.Gosched()
		}
	})
	return func() int64 {
		close(done)
		wg.Wait()
		return violations.Load()
	}
}
