// Package storetest gives tests real databases: a fresh SQLite file in the
// test's temporary directory, and a fresh schema in the PostgreSQL database
// that WEBHOOKD_TEST_POSTGRES_URL names.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver for schema set-up

	"github.com/webhookd/webhookd/catalog"
	"github.com/webhookd/webhookd/store"
)

// PostgresEnv names the variable holding the PostgreSQL URL tests use.
const PostgresEnv = "WEBHOOKD_TEST_POSTGRES_URL"

// Target is one database a test can run against.
type Target struct {
	Name string // "sqlite" or "postgres"
	DB   string // a --db value
}

// Targets returns a fresh database of each dialect for t; the PostgreSQL one
// is skipped (as a subtest of Each) when PostgresEnv is unset.
func Targets(t testing.TB) []Target {
	t.Helper()
	out := []Target{{Name: "sqlite", DB: SQLitePath(t)}}
	if os.Getenv(PostgresEnv) != "" {
		out = append(out, Target{Name: "postgres", DB: PostgresURL(t)})
	}
	return out
}

// SQLitePath returns a database file path in t's temporary directory.
func SQLitePath(t testing.TB) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "webhookd.db")
}

// SkipWithoutPostgres skips t when no PostgreSQL URL is configured.
func SkipWithoutPostgres(t testing.TB) {
	t.Helper()
	if os.Getenv(PostgresEnv) == "" {
		t.Skipf("PostgreSQL tests skipped: set %s (for example postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to run them", PostgresEnv)
	}
}

// PostgresURL creates an empty schema for t in the configured PostgreSQL
// database and returns a URL whose search_path selects it. The schema is
// dropped when t ends. It skips t when PostgresEnv is unset.
func PostgresURL(t testing.TB) string {
	t.Helper()
	SkipWithoutPostgres(t)
	base := os.Getenv(PostgresEnv)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("open %s: %v", PostgresEnv, err)
	}
	t.Cleanup(func() { admin.Close() })
	schema := "t_" + randomHex(8)
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		t.Fatalf("create schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", PostgresEnv, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Open opens and migrates a store on db, closing it when t ends. It wires
// the webhook.disabled payload as main does, before opts.
func Open(t testing.TB, db string, opts ...store.Option) *store.Store {
	t.Helper()
	ctx := context.Background()
	opts = append([]store.Option{store.WithDisabledPayload(catalog.WebhookDisabledPayload)}, opts...)
	s, err := store.Open(ctx, db, opts...)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return s
}

// Each runs fn as a subtest on a fresh, migrated store of each dialect,
// skipping PostgreSQL with a reason when PostgresEnv is unset.
func Each(t *testing.T, fn func(t *testing.T, s *store.Store), opts ...store.Option) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) {
		fn(t, Open(t, SQLitePath(t), opts...))
	})
	t.Run("postgres", func(t *testing.T) {
		fn(t, Open(t, PostgresURL(t), opts...))
	})
}

// EachTarget runs fn as a subtest with a fresh, unmigrated database of each
// dialect, for tests that hand the database to a process or migrate it
// themselves.
func EachTarget(t *testing.T, fn func(t *testing.T, db string)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLitePath(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, PostgresURL(t)) })
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
