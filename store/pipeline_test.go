package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

// TestPipelinedLeaseSettings checks what a pipelined lease's transaction
// runs with on PostgreSQL: the ordered index walks of walkIndexesInOrder
// (sorting and JIT off), and a commit that does not wait for the disk.
func TestPipelinedLeaseSettings(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		sort, jit, syncCommit, err := s.PipelinedLeaseSettings(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		want := "off"
		if s.Kind() != store.Postgres {
			want = ""
		}
		if sort != want || jit != want || syncCommit != want {
			t.Fatalf("pipelined lease: enable_sort %q, jit %q, synchronous_commit %q; want all %q", sort, jit, syncCommit, want)
		}
	})
}

// TestPipelinedTxRollsBackOnABatchError checks that a batch whose
// statement fails fails its transaction as a whole, including what ran
// before the batch, and that the store's connections work afterwards.
func TestPipelinedTxRollsBackOnABatchError(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		err := s.FailPipelinedTx(ctx, "pipeline-test")
		if s.Kind() != store.Postgres {
			if err == nil || err.Error() != "no pipeline" {
				t.Fatalf("SQLite: got %v, want the no-pipeline error", err)
			}
			return
		}
		if err == nil {
			t.Fatal("a batch with a division by zero succeeded")
		}
		if _, err := s.Setting(ctx, "pipeline-test"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("setting after the rolled-back transaction: %v, want ErrNotFound", err)
		}
		// Every connection of the pool still works: another failure, then
		// a write and a read.
		if err := s.FailPipelinedTx(ctx, "pipeline-test"); err == nil {
			t.Fatal("second failing batch succeeded")
		}
		if v, err := s.SettingOrInit(ctx, "pipeline-test", "y"); err != nil || v != "y" {
			t.Fatalf("SettingOrInit after the failures: %q, %v", v, err)
		}
	})
}
