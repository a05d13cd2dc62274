package store_test

import (
	"context"
	"fmt"
	"os"
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
