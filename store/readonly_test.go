package store_test

import (
	"context"
	"database/sql"
	"net/url"
	"testing"

	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

// TestMigrationStatusChangesNothing asks a database that was never
// migrated for its migrations and to roll one back (issue 12 item 12): it
// reports them all pending, refuses the rollback, and is left without a
// single table, goose's version table included.
func TestMigrationStatusChangesNothing(t *testing.T) {
	for _, target := range storetest.Targets(t) {
		t.Run(target.Name, func(t *testing.T) {
			ctx := context.Background()
			s, err := store.Open(ctx, target.DB)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			all, err := s.Migrations(ctx)
			if err != nil || len(all) == 0 {
				t.Fatalf("migrations: %v, %v; want every migration listed", all, err)
			}
			for _, m := range all {
				if m.Applied {
					t.Errorf("migration %d applied on a new database", m.Version)
				}
			}
			if _, err := s.MigrateDown(ctx); err == nil {
				t.Error("migrate down on a database never migrated succeeded, want an error")
			}
			driver, dsn, q := "sqlite", "file:"+target.DB, `SELECT count(*) FROM sqlite_master WHERE type = 'table'`
			var args []any
			if target.Name == "postgres" {
				u, err := url.Parse(target.DB)
				if err != nil {
					t.Fatal(err)
				}
				driver, dsn, q = "pgx", target.DB, `SELECT count(*) FROM information_schema.tables WHERE table_schema = $1`
				args = append(args, u.Query().Get("search_path"))
			}
			raw, err := sql.Open(driver, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			var n int
			if err := raw.QueryRow(q, args...).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				t.Errorf("the database has %d tables after reading its migration status, want none", n)
			}
		})
	}
}
