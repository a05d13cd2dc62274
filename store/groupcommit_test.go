package store_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

func TestGroupCommitter(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		u := newUser(t, s, "a@x.io")
		newWebhook(t, s, u.ID, "*")
		g := s.NewGroupCommitter(64)
		const publishers, each = 8, 25
		var wg sync.WaitGroup
		ids := make(chan string, publishers*each)
		errs := make(chan error, publishers*each)
		for p := 0; p < publishers; p++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < each; i++ {
					// Every publisher repeats key "shared" once: only one event
					// may come of it.
					key := fmt.Sprintf("p%d-%d", p, i)
					if i == 0 {
						key = "shared"
					}
					res, err := g.PublishEvents(ctx, []store.PublishParams{{TenantID: u.ID, Type: "message.new", Payload: []byte(`{}`), OccurredAt: time.Now(), IdempotencyKey: key}})
					if err != nil {
						errs <- err
						return
					}
					if !res[0].Duplicate {
						ids <- res[0].Event.ID
					}
				}
			}()
		}
		wg.Wait()
		g.Close()
		close(ids)
		close(errs)
		for err := range errs {
			t.Fatalf("publish: %v", err)
		}
		seen := map[string]bool{}
		for id := range ids {
			if seen[id] {
				t.Fatalf("event %s returned twice", id)
			}
			seen[id] = true
		}
		if want := publishers*(each-1) + 1; len(seen) != want {
			t.Errorf("created %d events, want %d (one for the shared key)", len(seen), want)
		}
		leased, err := s.LeaseDeliveries(ctx, store.LeaseParams{Limit: 1000, LeaseFor: time.Minute})
		if err != nil || len(leased) != len(seen) {
			t.Errorf("deliveries = %d, %v; want one per event (%d)", len(leased), err, len(seen))
		}
		if _, err := g.PublishEvents(ctx, []store.PublishParams{{TenantID: u.ID, Type: "message.new", Payload: []byte(`{}`), OccurredAt: time.Now()}}); err != store.ErrClosed {
			t.Errorf("publish after Close: err = %v, want ErrClosed", err)
		}
	})
}

// TestGroupCommitterIsolatesFailures checks that one request that cannot
// commit does not fail the requests that shared its transaction.
func TestGroupCommitterIsolatesFailures(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		u := newUser(t, s, "a@x.io")
		g := s.NewGroupCommitter(64)
		defer g.Close()
		var wg sync.WaitGroup
		results := make([]error, 20)
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				owner := u.ID
				if i == 7 {
					owner = "no-such-user" // violates the users foreign key
				}
				_, results[i] = g.PublishEvents(ctx, []store.PublishParams{{TenantID: owner, Type: "message.new", Payload: []byte(`{}`), OccurredAt: time.Now()}})
			}()
		}
		wg.Wait()
		for i, err := range results {
			if (err != nil) != (i == 7) {
				t.Errorf("request %d: err = %v", i, err)
			}
		}
	})
}

func TestListenForWork(t *testing.T) {
	storetest.SkipWithoutPostgres(t)
	db := storetest.PostgresURL(t)
	listener := storetest.Open(t, db)
	publisher := storetest.Open(t, db)
	u := newUser(t, publisher, "a@x.io")
	newWebhook(t, publisher, u.ID, "*")

	ctx, cancel := context.WithCancel(context.Background())
	woke := make(chan struct{}, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		listener.ListenForWork(ctx, func() { woke <- struct{}{} }, slog.Default())
	}()
	t.Cleanup(func() { cancel(); <-done })

	// LISTEN may not be registered yet when the first publish commits, so
	// publish until a notification arrives.
	deadline := time.After(10 * time.Second)
	for {
		if _, err := publisher.PublishEvents(context.Background(), []store.PublishParams{{TenantID: u.ID, Type: "message.new", Payload: []byte(`{}`), OccurredAt: time.Now()}}); err != nil {
			t.Fatalf("publish: %v", err)
		}
		select {
		case <-woke:
			return
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			t.Fatal("no notification from another store's publish within 10s")
		}
	}
}

// TestGroupCommitterWarnsWhenOnlyTheGroupFails checks that a group whose
// shared transaction fails while each request commits alone is reported,
// and that the failures its requests explain are not: one request that
// fails alone, or a group past the per-request delivery limit.
func TestGroupCommitterWarnsWhenOnlyTheGroupFails(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		u := newUser(t, s, "a@x.io")
		newWebhook(t, s, u.ID, "*")
		event := func(owner string) []store.PublishParams {
			return []store.PublishParams{{TenantID: owner, Type: "message.new", Payload: []byte(`{}`), OccurredAt: time.Now()}}
		}
		var logs bytes.Buffer
		g := s.NewGroupCommitter(64, store.LogGroupFailures(slog.New(slog.NewTextHandler(&logs, nil))))
		defer g.Close()

		// A request that fails alone explains its group's failure.
		errs := g.CommitGroup([][]store.PublishParams{event(u.ID), event("no-such-user"), event(u.ID)})
		if errs[0] != nil || errs[1] == nil || errs[2] != nil {
			t.Fatalf("errors = %v, want only the second request's", errs)
		}
		if n := g.GroupFallbacks(); n != 1 {
			t.Fatalf("%d groups fell back to publishing alone, want 1", n)
		}
		if logs.String() != "" {
			t.Fatalf("warned about a failure one request explains:\n%s", logs.String())
		}

		// A fault of the shared transaction alone is reported, and every
		// request is still committed.
		g.FailGroupsWith(fmt.Errorf("shared statement broken"))
		errs = g.CommitGroup([][]store.PublishParams{event(u.ID), event(u.ID)})
		for i, err := range errs {
			if err != nil {
				t.Fatalf("request %d alone: %v", i, err)
			}
		}
		out := logs.String()
		if !strings.Contains(out, "each of its requests committed alone") || !strings.Contains(out, "shared statement broken") || !strings.Contains(out, "requests=2") {
			t.Fatalf("no warning naming the error and the group, got:\n%s", out)
		}
	})
}

// TestGroupCommitterDoesNotWarnPastTheDeliveryLimit checks that a group
// failing only because together its requests pass the per-request
// delivery limit is not reported: each request keeps to it alone.
func TestGroupCommitterDoesNotWarnPastTheDeliveryLimit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		u := newUser(t, s, "a@x.io")
		newWebhook(t, s, u.ID, "*")
		newWebhook(t, s, u.ID, "*")
		event := []store.PublishParams{{TenantID: u.ID, Type: "message.new", Payload: []byte(`{}`), OccurredAt: time.Now()}}
		var logs bytes.Buffer
		g := s.NewGroupCommitter(64, store.LogGroupFailures(slog.New(slog.NewTextHandler(&logs, nil))))
		defer g.Close()
		for i, err := range g.CommitGroup([][]store.PublishParams{event, event}) {
			if err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
		}
		if n := g.GroupFallbacks(); n != 1 {
			t.Fatalf("%d groups fell back to publishing alone, want 1 (4 deliveries past a limit of 3)", n)
		}
		if logs.String() != "" {
			t.Fatalf("warned about a group past the delivery limit:\n%s", logs.String())
		}
	}, store.WithMaxDeliveriesPerRequest(3))
}
