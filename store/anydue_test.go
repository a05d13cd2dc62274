package store_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

// TestLeaseWithNothingDueLeavesTheWriterAlone checks that on SQLite a
// lease that finds nothing due does not take the one writer (issue 18,
// item 4): with another connection holding the write lock, it answers
// at once with no deliveries, where a write transaction would wait for
// the lock. Its delivery in flight, the one webhook has nothing due; once
// the lease is released, the delivery is due and leased again.
func TestLeaseWithNothingDueLeavesTheWriterAlone(t *testing.T) {
	path := storetest.SQLitePath(t)
	s := storetest.Open(t, path)
	ctx := context.Background()
	u := newUser(t, s, "a@example.com")
	newWebhook(t, s, u.ID, "*")
	if _, err := s.PublishEvents(ctx, events(u.ID, "message.new", 1)); err != nil {
		t.Fatal(err)
	}
	p := store.LeaseParams{Limit: 10, LeaseFor: time.Minute}
	leased, err := s.LeaseDeliveries(ctx, p)
	if err != nil || len(leased) != 1 {
		t.Fatalf("first lease: %d deliveries (%v), want 1", len(leased), err)
	}

	other, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	// A write transaction would wait past this for the lock, and fail.
	short, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	again, err := s.LeaseDeliveries(short, p)
	if err != nil || len(again) != 0 {
		t.Fatalf("lease with nothing due while the write lock is held: %d deliveries (%v), want none and no error", len(again), err)
	}
	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}

	if err := s.ReleaseDeliveries(ctx, leased); err != nil {
		t.Fatal(err)
	}
	released, err := s.LeaseDeliveries(ctx, p)
	if err != nil || len(released) != 1 || released[0].ID != leased[0].ID {
		t.Fatalf("lease after the release: %v (%v), want the released delivery %s", released, err, leased[0].ID)
	}
}
