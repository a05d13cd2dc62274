package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

// TestCheckpointsOffTheWriter checks that a serving store's writes reach
// the database file while it is open. The writer's own automatic
// checkpoint is off, so only the background checkpointer can have put them
// there; and that closing leaves the database whole without its WAL.
func TestCheckpointsOffTheWriter(t *testing.T) {
	path := storetest.SQLitePath(t)
	s, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	size := func(name string) int64 {
		fi, err := os.Stat(name)
		if err != nil {
			return 0
		}
		return fi.Size()
	}
	// Wait for the migrations' own pages to be checkpointed first.
	deadline := time.Now().Add(30 * time.Second)
	for size(path) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond) // polling a file, not synchronising
	}
	before := size(path)
	for i := range 200 {
		newUser(t, s, fmt.Sprintf("u%d@example.com", i))
	}
	for size(path) <= before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if after := size(path); after <= before {
		t.Fatalf("database file stayed at %d bytes after 200 users (WAL %d bytes): nothing checkpointed it", after, size(path+"-wal"))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	reopened := storetest.Open(t, path)
	if n, err := reopened.CountUsers(context.Background()); err != nil || n != 200 {
		t.Fatalf("after reopening: %d users (%v), want 200", n, err)
	}
}

// TestIdleWALTruncatedPastTheLimit checks that a log left past the limit
// by the last write before the writer goes idle is cut to nothing. A
// RESTART checkpoint leaves the file its size until the next commit; the
// checkpointer ran one every tick instead of ever truncating, and the log
// stayed past the limit for good (seen at 4.4 MB over a 4 MiB limit in an
// end-to-end run).
func TestIdleWALTruncatedPastTheLimit(t *testing.T) {
	path := storetest.SQLitePath(t)
	ctx := context.Background()
	const limit = 256 << 10
	s, err := store.Open(ctx, path, store.WithWALLimit(limit))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	u := newUser(t, s, "a@example.com")
	// One batch of ~2 MB: a single commit takes the log well past the
	// limit, and nothing is written after it.
	batch := events(u.ID, "message.new", 200)
	for i := range batch {
		batch[i].Payload = fmt.Appendf(nil, `{"i":%d,"pad":%q}`, i, strings.Repeat("x", 10<<10))
	}
	if _, err := s.PublishEvents(ctx, batch); err != nil {
		t.Fatal(err)
	}
	wal := func() int64 {
		fi, err := os.Stat(path + "-wal")
		if err != nil {
			return 0
		}
		return fi.Size()
	}
	if n := wal(); n <= limit {
		t.Fatalf("the batch left a %d-byte log, want past the %d-byte limit for this test to mean anything", n, limit)
	}
	deadline := time.Now().Add(30 * time.Second)
	for wal() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the idle log is still %d bytes after 30 s, want it truncated to 0", wal())
		}
		time.Sleep(20 * time.Millisecond) // polling a file, not synchronising
	}
}

// TestWALStartsOverUnderSteadyWrites checks that a log past half the limit
// starts over at the next write even when a PASSIVE checkpoint could not
// copy all of it. SQLite starts the log over only when a write begins with
// every frame copied, and a PASSIVE checkpoint beside a busy server never
// catches up (writes commit while it copies, readers hold it back): under
// a steady load the log grew to the limit every half second, and the
// RESTART that then held writes off while it copied a tick's frames
// (10–36 ms) was the run's p99. Here a reader's snapshot holds the
// step's PASSIVE back and ends just after it: only the catch-up with the
// writer's gate closed copies the rest before the next write.
func TestWALStartsOverUnderSteadyWrites(t *testing.T) {
	path := storetest.SQLitePath(t)
	ctx := context.Background()
	const limit = 4 << 20
	// The test runs the checkpointer's steps itself: until then nothing
	// copies the log, so it only grows, and its file's size is its length.
	s, err := store.Open(ctx, path, store.WithWALLimit(limit), store.WithCheckpointEvery(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	u := newUser(t, s, "a@example.com")
	publish := func(n, pad int) {
		t.Helper()
		batch := events(u.ID, "message.new", n)
		for i := range batch {
			batch[i].Payload = fmt.Appendf(nil, `{"i":%d,"pad":%q}`, i, strings.Repeat("x", pad))
		}
		if _, err := s.PublishEvents(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	wal := func() int64 {
		fi, err := os.Stat(path + "-wal")
		if err != nil {
			return 0
		}
		return fi.Size()
	}
	for wal() < limit/2 {
		publish(20, 2<<10)
	}
	// A reader in another connection takes its snapshot now, and the log
	// grows past it.
	other, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	reader, err := other.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Rollback()
	var n int
	if err := reader.QueryRowContext(ctx, "SELECT COUNT(*) FROM events").Scan(&n); err != nil {
		t.Fatal(err)
	}
	publish(20, 2<<10)
	if size := wal(); size > limit {
		t.Fatalf("the log is %d bytes, past the %d-byte limit: the test needs it between half the limit and the limit", size, limit)
	}
	s.CheckpointStep(ctx, func() {
		if err := reader.Rollback(); err != nil {
			t.Error(err)
		}
	})
	before := wal()
	publish(1, 10)
	// Started over, the log is written from the beginning of its file,
	// which keeps its size; otherwise the write is appended.
	if after := wal(); after != before {
		t.Fatalf("the log's file grew from %d to %d bytes at the next write: the log did not start over", before, after)
	}
}
