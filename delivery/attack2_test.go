package delivery

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

// TestAttack2StressLeasesBesidePublishes publishes through the handoff while
// the loop leases back to back (plain publishes wake it, and every lease is
// held open a little after its snapshot): every delivery must arrive exactly
// once, the caps and the pool must hold, and the counts must come back to
// zero.
func TestAttack2StressLeasesBesidePublishes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		cfg := testConfig(t, st)
		cfg.Workers, cfg.PerWebhook, cfg.PerOwner, cfg.BatchSize = 4, 1, 2, 2
		var mu sync.Mutex
		sent := map[string]int{}
		type hook struct {
			w  store.Webhook
			rc *receiver
		}
		var hooks []hook
		var owners []string
		for range 3 {
			u := newUser(t, st)
			owners = append(owners, u.ID)
			for range 2 {
				rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
					mu.Lock()
					sent[r.Header.Get("X-Webhook-Id")]++
					mu.Unlock()
					time.Sleep(time.Duration(rand.IntN(3)) * time.Millisecond)
				})
				hooks = append(hooks, hook{w: newWebhook(t, st, u.ID, rc.URL, "*"), rc: rc})
			}
		}
		d := NewDispatcher(cfg)
		d.onLease = func() { time.Sleep(time.Duration(rand.IntN(1500)) * time.Microsecond) }
		run(t, d)
		g := handingCommitter(t, st, d)
		idle(t, d)

		stopWatch := watchCaps(d, false)
		const publishers, each = 6, 20
		var handed, deliveries atomic.Int64
		var wg sync.WaitGroup
		for p := range publishers {
			wg.Go(func() {
				for i := range each {
					owner := owners[(p+i)%len(owners)]
					if p%3 == 0 {
						res := publish(t, st, owner, "plain", `{}`)
						deliveries.Add(int64(res.Deliveries))
						d.Wake()
						continue
					}
					res := publishVia(t, g, owner, p*each+i)
					handed.Add(int64(res.Handed))
					deliveries.Add(int64(res.Deliveries))
				}
			})
		}
		wg.Wait()
		t.Logf("%d of %d handed", handed.Load(), deliveries.Load())
		waitFor(t, "every delivery to settle", func() bool {
			total := 0
			for _, h := range hooks {
				if pending(t, st, h.w) != 0 {
					return false
				}
				total += len(attempts(t, st, h.w))
			}
			return int64(total) == deliveries.Load()
		})
		violations := stopWatch()
		mu.Lock()
		for id, n := range sent {
			if n != 1 {
				t.Errorf("delivery %s sent %d times", id, n)
			}
		}
		if int64(len(sent)) != deliveries.Load() {
			t.Errorf("%d deliveries sent, want %d", len(sent), deliveries.Load())
		}
		mu.Unlock()
		if v := violations; v != 0 {
			t.Errorf("caps passed %d times", v)
		}
		drained(t, d)
	})
}

// refuseRelease installs a trigger that fails, while it is on, any update
// giving a leased pending delivery back to the queue (ReleaseDeliveries).
func refuseRelease(t *testing.T, target storetest.Target) func(on bool) {
	t.Helper()
	driver, dsn := "pgx", target.DB
	stmts := []string{
		`CREATE TABLE refuse_release (cut BOOLEAN NOT NULL)`,
		`INSERT INTO refuse_release VALUES (FALSE)`,
		`CREATE FUNCTION refuse_release_check() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF OLD.lease_token IS NOT NULL AND NEW.lease_token IS NULL AND NEW.status = 'pending' AND (SELECT cut FROM refuse_release) THEN
				RAISE EXCEPTION 'simulated failure';
			END IF;
			RETURN NEW;
		END $$`,
		`CREATE TRIGGER refuse_release BEFORE UPDATE ON deliveries FOR EACH ROW EXECUTE FUNCTION refuse_release_check()`,
	}
	if target.Name == "sqlite" {
		driver, dsn = "sqlite", "file:"+target.DB+"?_pragma=busy_timeout(10000)"
		stmts = []string{
			`CREATE TABLE refuse_release (cut BOOLEAN NOT NULL)`,
			`INSERT INTO refuse_release VALUES (FALSE)`,
			`CREATE TRIGGER refuse_release BEFORE UPDATE ON deliveries
			WHEN OLD.lease_token IS NOT NULL AND NEW.lease_token IS NULL AND NEW.status = 'pending' AND (SELECT cut FROM refuse_release)
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
		if _, err := db.Exec(`UPDATE refuse_release SET cut = $1`, on); err != nil {
			t.Fatalf("refuse release %v: %v", on, err)
		}
	}
}

// TestAttack2DroppedClaimIsStrandedWhenItsReleaseFails: a delivery claimed
// during a lease that did not fit when the lease ended is committed leased
// and must be released; one failed release (logged, never retried) leaves
// it leased and unsent until its lease expires, where before the change it
// would have been a plain pending row, sent as soon as its webhook had room.
func TestAttack2DroppedClaimIsStrandedWhenItsReleaseFails(t *testing.T) {
	for _, target := range storetest.Targets(t) {
		t.Run(target.Name, func(t *testing.T) {
			st := storetest.Open(t, target.DB)
			refuse := refuseRelease(t, target)
			gate := make(chan struct{})
			rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
				if n == 1 {
					select {
					case <-gate:
					case <-r.Context().Done():
					}
				}
			})
			u := newUser(t, st)
			newWebhook(t, st, u.ID, rc.URL, "*")
			cfg := testConfig(t, st)
			cfg.PerWebhook = 1
			cfg.LeaseFor = 20 * time.Second
			d := startDispatcher(t, cfg)
			g := handingCommitter(t, st, d)
			idle(t, d)
			proceed := make(chan struct{})
			entered := holdFirstLease(d, proceed)
			publish(t, st, u.ID, "a.old", `{}`)
			d.Wake()
			recv(t, "the lease to begin", entered)
			if res := publishVia(t, g, u.ID, 1); res.Handed != 1 {
				t.Fatalf("handed %d during the lease, want 1", res.Handed)
			}
			refuse(true) // a moment's failure, as the lease ends
			close(proceed)
			waitFor(t, "the lease to end and settle", func() bool {
				d.mu.Lock()
				defer d.mu.Unlock()
				return !d.leasing && len(d.settling) == 0
			})
			refuse(false)
			close(gate)
			d.Wake()
			deadline := time.Now().Add(5 * time.Second)
			for rc.count() < 2 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if n := rc.count(); n != 2 {
				t.Errorf("%d of 2 deliveries sent 5 s after the database came back; the other is leased, unsent, until its lease (%s) ends", n, cfg.LeaseFor)
			}
		})
	}
}

// adoptLater is a Handoff whose reservations signal once their publish has
// committed and wait for go before they adopt: the time between a publish's
// claims and its Adopt (the rest of its transaction, its commit) made long.
type adoptLater struct {
	d         *Dispatcher
	committed chan struct{}
	proceed   chan struct{}
}

func (h adoptLater) Reserve(n int) store.Reservation {
	r := h.d.Reserve(n)
	if r == nil {
		return nil
	}
	return laterReservation{r, h}
}

type laterReservation struct {
	store.Reservation
	h adoptLater
}

func (r laterReservation) Adopt(leased []store.LeasedDelivery) {
	r.h.committed <- struct{}{}
	<-r.h.proceed
	r.Reservation.Adopt(leased)
}

// TestAttack2DroppedClaimIsNotOvertakenByAHandoff: a delivery claimed while
// a lease ran, whose claim did not fit when the lease ended (its webhook at
// its cap), is committed leased and given back to the queue only when its
// publish adopts. Until then nothing marks its webhook as having a
// delivery waiting: once the cap frees and a lease finds nothing due, a
// newer publish to the same webhook is handed over and sent first.
func TestAttack2DroppedClaimIsNotOvertakenByAHandoff(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		gate := make(chan struct{})
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
			if n == 1 {
				select {
				case <-gate:
				case <-r.Context().Done():
				}
			}
		})
		u := newUser(t, st)
		w := newWebhook(t, st, u.ID, rc.URL, "*")
		cfg := testConfig(t, st)
		cfg.PerWebhook = 1
		d := startDispatcher(t, cfg)
		later := adoptLater{d: d, committed: make(chan struct{}, 1), proceed: make(chan struct{})}
		slow := handingCommitter(t, st, later)
		g := handingCommitter(t, st, d)
		idle(t, d)
		pub := func(g *store.GroupCommitter, eventType string) store.PublishResult {
			res, err := g.PublishEvents(context.Background(), []store.PublishParams{{
				TenantID: u.ID, Type: eventType, Payload: []byte(`{}`), OccurredAt: time.Now(),
			}})
			if err != nil {
				t.Errorf("publish %s: %v", eventType, err)
				return store.PublishResult{}
			}
			return res[0]
		}

		proceed := make(chan struct{})
		entered := holdFirstLease(d, proceed)
		publish(t, st, u.ID, "a.old", `{}`)
		d.Wake()
		recv(t, "the lease to begin", entered)
		middle := make(chan store.PublishResult, 1)
		go func() { middle <- pub(slow, "b.middle") }()
		recv(t, "the publish during the lease to commit", later.committed)
		close(proceed)
		waitFor(t, "the old delivery to arrive", func() bool { return rc.count() == 1 })
		waitFor(t, "the lease to end and settle", func() bool {
			d.mu.Lock()
			defer d.mu.Unlock()
			return !d.leasing && len(d.settling) == 0
		})
		// The old delivery's end frees the webhook's cap and wakes the loop,
		// whose lease finds nothing due: the middle one is leased still.
		close(gate)
		waitFor(t, "the old delivery's send to end", func() bool {
			d.mu.Lock()
			defer d.mu.Unlock()
			return d.perHook[w.ID] == 0
		})
		idle(t, d)
		newest := pub(g, "c.newest")
		close(later.proceed)
		if res := <-middle; res.Handed != 1 {
			t.Fatalf("the publish during the lease handed %d, want 1", res.Handed)
		}
		d.Wake()
		logs := settled(t, st, w, 3)
		var order []string
		for _, l := range logs {
			order = append(order, l.EventType)
		}
		if newest.Handed != 0 || fmt.Sprint(order) != "[a.old b.middle c.newest]" {
			t.Errorf("the newest delivery was handed %d and went %v; want it not handed over while an older delivery of its webhook waits to be given back, and the three in order",
				newest.Handed, order)
		}
		drained(t, d)
	})
}

// TestAttack2ReserveClaimAdoptRaceLeases reserves, claims and ends
// reservations (Adopt of nothing, Cancel) from many goroutines while the
// loop leases back to back, each lease held open a little: the counts must
// never pass a cap or the pool, and must come back to zero.
func TestAttack2ReserveClaimAdoptRaceLeases(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		cfg := testConfig(t, st)
		cfg.Workers, cfg.PerWebhook, cfg.PerOwner = 6, 2, 3
		d := NewDispatcher(cfg)
		d.onLease = func() { time.Sleep(time.Duration(rand.IntN(300)) * time.Microsecond) }
		run(t, d)
		idle(t, d)
		stopWatch := watchCaps(d, true)
		stop := make(chan struct{})
		var bg sync.WaitGroup
		bg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				d.Wake()
				time.Sleep(200 * time.Microsecond)
			}
		})
		var tentative atomic.Int64
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for round := 0; round < 150; {
					r := d.Reserve(3)
					if r == nil {
						runtime.Gosched()
						continue
					}
					round++
					if rr := r.(*reservation); true {
						d.mu.Lock()
						if rr.tentative {
							tentative.Add(1)
						}
						d.mu.Unlock()
					}
					for k := range 3 {
						r.Claim(fmt.Sprintf("w%d", (g+round+k)%4), fmt.Sprintf("o%d", (g+k)%2))
						runtime.Gosched()
					}
					if round%2 == 0 {
						r.Cancel()
					} else {
						r.Adopt(nil)
					}
				}
			})
		}
		wg.Wait()
		close(stop)
		bg.Wait()
		t.Logf("%d tentative reservations", tentative.Load())
		if v := stopWatch(); v != 0 {
			t.Errorf("the counts passed a cap %d times", v)
		}
		waitFor(t, "nothing to be settling", func() bool {
			d.mu.Lock()
			defer d.mu.Unlock()
			return !d.leasing && len(d.settling) == 0
		})
		drained(t, d)
	})
}
