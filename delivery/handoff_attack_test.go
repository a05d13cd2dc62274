package delivery

import (
	"context"
	"database/sql"
	"net/url"
	"os"
	"strings"

	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

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
	db := isolatedPostgres(t)
	crashed := storetest.Open(t, db)
	survivor := storetest.Open(t, db)
	rc := newReceiver(t, nil)
	u := newUser(t, survivor)
	w := newWebhook(t, survivor, u.ID, rc.URL, "*")
	cfg := testConfig(t, survivor)
	cfg.Poll = time.Second
	d := startDispatcher(t, cfg)
	listen(t, db, d)

	g := handingCommitter(t, crashed, crashAfterCommit{leaseFor: time.Second})
	if res := publishVia(t, g, u.ID, 1); res.Handed != 1 {
		t.Fatalf("handed %d, want 1", res.Handed)
	}
	logs := settled(t, survivor, w, 1)
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
	db := isolatedPostgres(t)
	crashed := storetest.Open(t, db)
	survivor := storetest.Open(t, db)
	rc := newReceiver(t, nil)
	u := newUser(t, survivor)
	w := newWebhook(t, survivor, u.ID, rc.URL, "*")
	d := startDispatcher(t, testConfig(t, survivor))
	listen(t, db, d)

	publish(t, crashed, u.ID, "contact.created", `{}`)
	if _, err := crashed.LeaseDeliveries(context.Background(), store.LeaseParams{Limit: 10, LeaseFor: time.Second}); err != nil {
		t.Fatalf("the crashed process's lease: %v", err)
	}
	settled(t, survivor, w, 1)
	drained(t, d)
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
