package delivery

import (
	"bytes"
	"context"
	"database/sql"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

// syncBuffer is a log destination the dispatcher's goroutines and the test
// can share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestDispatcherWarnsOfSlowLease checks that a lease slower than the
// threshold (a second; here a nanosecond, so every lease is slow) is
// logged as a warning with its duration and how many it leased (issue 13,
// item 2).
func TestDispatcherWarnsOfSlowLease(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		u := newUser(t, st)
		rc := newReceiver(t, nil)
		w := newWebhook(t, st, u.ID, rc.URL, "*")
		publish(t, st, u.ID, "message.new", `{}`)
		var logs syncBuffer
		cfg := testConfig(t, st)
		cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		d := NewDispatcher(cfg)
		d.slowLease = time.Nanosecond
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- d.Run(ctx) }()
		settled(t, st, w, 1)
		cancel()
		if err := recv(t, "Run to return", done); err != nil {
			t.Fatal(err)
		}
		var found bool
		for _, line := range strings.Split(logs.String(), "\n") {
			if strings.Contains(line, "level=WARN") && strings.Contains(line, "slow lease") &&
				strings.Contains(line, "duration=") && strings.Contains(line, "leased=1") {
				found = true
			}
		}
		if !found {
			t.Errorf("no slow-lease warning with its duration and leased=1 in the log:\n%s", logs.String())
		}
	})
}

// outage makes recording outcomes fail while it is on: a trigger refuses
// every attempt log row, so CompleteDeliveries fails as a whole, while
// leasing and everything else still works.
type outage struct {
	t  *testing.T
	db *sql.DB
}

func newOutage(t *testing.T, target storetest.Target) *outage {
	t.Helper()
	driver, dsn := "pgx", target.DB
	stmts := []string{
		`CREATE TABLE outage (cut BOOLEAN NOT NULL)`,
		`INSERT INTO outage VALUES (FALSE)`,
		`CREATE FUNCTION outage_check() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF (SELECT cut FROM outage) THEN RAISE EXCEPTION 'simulated outage'; END IF;
			RETURN NULL;
		END $$`,
		`CREATE TRIGGER outage BEFORE INSERT ON webhook_logs FOR EACH STATEMENT EXECUTE FUNCTION outage_check()`,
	}
	if target.Name == "sqlite" {
		driver, dsn = "sqlite", "file:"+target.DB+"?_pragma=busy_timeout(10000)"
		stmts = []string{
			`CREATE TABLE outage (cut BOOLEAN NOT NULL)`,
			`INSERT INTO outage VALUES (FALSE)`,
			`CREATE TRIGGER outage BEFORE INSERT ON webhook_logs WHEN (SELECT cut FROM outage)
			BEGIN SELECT RAISE(ABORT, 'simulated outage'); END`,
		}
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("set up outage: %v", err)
		}
	}
	return &outage{t: t, db: db}
}

func (o *outage) set(cut bool) {
	o.t.Helper()
	if _, err := o.db.Exec(`UPDATE outage SET cut = $1`, cut); err != nil {
		o.t.Fatalf("outage %v: %v", cut, err)
	}
}

// TestDispatcherKeepsOutcomesThroughOutage checks issue 13 item 4: when
// recording outcomes fails for 3 s, shorter than the lease, the
// dispatcher keeps them and records them once the database takes them
// again, so no delivery is sent twice. It used to give up after 5 tries in
// about 1.5 s, and every delivery of the batch was sent again when its
// lease expired.
func TestDispatcherKeepsOutcomesThroughOutage(t *testing.T) {
	for _, target := range storetest.Targets(t) {
		t.Run(target.Name, func(t *testing.T) {
			st := storetest.Open(t, target.DB)
			out := newOutage(t, target)
			u := newUser(t, st)
			rc := newReceiver(t, nil)
			w := newWebhook(t, st, u.ID, rc.URL, "*")
			const n = 20
			for range n {
				publish(t, st, u.ID, "message.new", `{}`)
			}
			out.set(true)
			cfg := testConfig(t, st)
			cfg.LeaseFor = 8 * time.Second
			startDispatcher(t, cfg).Wake()
			waitFor(t, "every delivery to be sent", func() bool { return rc.count() >= n })
			// The outage outlasts the old 1.5 s of tries, not the lease.
			time.Sleep(3 * time.Second)
			out.set(false)

			logs := settled(t, st, w, n)
			for _, l := range logs {
				if l.Attempt != 1 || l.Status != store.AttemptSuccess {
					t.Errorf("log row: attempt %d, %s; want every delivery's first attempt, a success", l.Attempt, l.Status)
				}
			}
			// Settled: nothing is pending, so nothing more can be sent.
			sent := map[string]int{}
			for _, r := range rc.requests() {
				sent[r.Header.Get("X-Webhook-Id")]++
			}
			if len(sent) != n {
				t.Errorf("%d deliveries sent, want %d", len(sent), n)
			}
			for id, c := range sent {
				if c != 1 {
					t.Errorf("delivery %s sent %d times, want once", id, c)
				}
			}
		})
	}
}

// TestDispatcherShutdownDuringOutage checks that outcomes kept through an
// outage do not hold up shutdown past its grace period: with a lease of
// ten minutes, Run still returns soon after it is stopped, and the
// deliveries are left leased, to be sent again when their leases end.
func TestDispatcherShutdownDuringOutage(t *testing.T) {
	for _, target := range storetest.Targets(t) {
		t.Run(target.Name, func(t *testing.T) {
			st := storetest.Open(t, target.DB)
			out := newOutage(t, target)
			u := newUser(t, st)
			rc := newReceiver(t, nil)
			w := newWebhook(t, st, u.ID, rc.URL, "*")
			publish(t, st, u.ID, "message.new", `{}`)
			out.set(true)
			cfg := testConfig(t, st)
			cfg.LeaseFor = 10 * time.Minute
			r := runDispatcher(t, cfg)
			r.d.Wake()
			waitFor(t, "the delivery to be sent", func() bool { return rc.count() >= 1 })
			r.stop() // fails the test unless Run returns within waitDeadline
			if n := len(attempts(t, st, w)); n != 0 {
				t.Errorf("%d log rows recorded through the outage, want 0", n)
			}
			if p := pending(t, st, w); p != 1 {
				t.Errorf("%d deliveries pending, want the one sent, its outcome not recorded", p)
			}
		})
	}
}
