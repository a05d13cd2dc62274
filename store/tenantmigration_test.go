package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/webhookd/webhookd/catalog"
	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

// preTenancy is the last schema version before tenants (00007_tenants).
const preTenancy = 6

// tenancy is the tenants migration's version.
const tenancy = 7

// openAt opens a store on db and migrates it up to version only.
func openAt(t *testing.T, db string, version int64) *store.Store {
	t.Helper()
	ctx := context.Background()
	s, err := store.Open(ctx, db, store.WithDisabledPayload(catalog.WebhookDisabledPayload))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	if err := s.MigrateTo(ctx, version); err != nil {
		t.Fatalf("migrate to %d: %v", version, err)
	}
	return s
}

// row is one table row, each column's value printed.
type row map[string]string

var reads int

// tableRows reads a whole table, keyed by the columns of key joined.
func tableRows(t *testing.T, db *sql.DB, table string, key ...string) map[string]row {
	t.Helper()
	// A fresh text each time: pgx caches a statement's plan per
	// connection, and SELECT * changes its result as the schema does.
	reads++
	rows, err := db.Query(fmt.Sprintf(`SELECT * FROM %s /* read %d */`, table, reads))
	if err != nil {
		t.Fatalf("read %s: %v", table, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatalf("columns of %s: %v", table, err)
	}
	out := map[string]row{}
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatalf("read %s: %v", table, err)
		}
		r := row{}
		for i, v := range vals {
			switch v := v.(type) {
			case nil:
				r[cols[i]] = "NULL"
			case []byte:
				r[cols[i]] = string(v)
			case time.Time:
				r[cols[i]] = v.UTC().Format(time.RFC3339Nano)
			case bool: // SQLite's BOOLEAN reads as 0 or 1
				r[cols[i]] = map[bool]string{false: "0", true: "1"}[v]
			default:
				r[cols[i]] = fmt.Sprint(v)
			}
		}
		var k []string
		for _, c := range key {
			k = append(k, r[c])
		}
		out[strings.Join(k, "/")] = r
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read %s: %v", table, err)
	}
	return out
}

// tenancyTables are the tables the tenancy migration rebuilds or leaves
// alone, with their keys.
var tenancyTables = map[string][]string{
	"users": {"id"}, "api_keys": {"id"}, "webhooks": {"id"}, "events": {"id"},
	"webhook_stats": {"webhook_id"}, "deliveries": {"id"}, "webhook_logs": {"id"},
	"webhook_log_counts": {"webhook_id", "span", "minute"}, "fanouts": {"event_id"},
}

func dumpTenancyTables(t *testing.T, db *sql.DB) map[string]map[string]row {
	t.Helper()
	out := map[string]map[string]row{}
	for table, key := range tenancyTables {
		out[table] = tableRows(t, db, table, key...)
	}
	return out
}

// fillPreTenancy writes rows of every kind into a version 6 database, as
// that webhookd kept them: two users, each with a key, two webhooks with
// stats, events (one with an idempotency key), pending and finished
// deliveries, logs, log counts and a fan-out under way.
func fillPreTenancy(t *testing.T, s *store.Store) {
	t.Helper()
	db := s.WriteDB()
	at := func(ms int64) any {
		if s.Kind() == store.Postgres {
			return time.UnixMilli(ms).UTC()
		}
		return ms
	}
	const base = int64(1_767_000_000_000)
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.Exec(q, args...); err != nil {
			t.Fatalf("%s: %v", strings.Fields(q)[:3], err)
		}
	}
	for i, u := range []string{"u1", "u2"} {
		n := int64(i)
		exec(`INSERT INTO users (id, email, password_hash, created_at, updated_at, disabled_at, token_version) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			u, u+"@example.com", "hash-"+u, at(base+n), at(base+n+1), map[bool]any{true: at(base + 5), false: nil}[i == 1], 3+n)
		exec(`INSERT INTO api_keys (id, user_id, name, key_hash, key_prefix, created_at, last_used_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			"k-"+u, u, "key of "+u, "hash-of-key-"+u, "whk_"+u, at(base+10+n), at(base+20+n))
		for j, w := range []string{"w1-" + u, "w2-" + u} {
			m := n*10 + int64(j)
			exec(`INSERT INTO webhooks (id, user_id, name, url, events, secret, description, is_active, created_at, updated_at,
				previous_secret, previous_secret_expires_at, disabled_reason, disabled_at, headers, rate_limit, timeout_seconds)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
				w, u, "hook "+w, "https://example.com/"+w, `["message.*"]`, "whsec_"+w, "desc "+w, j == 0, at(base+30+m), at(base+40+m),
				"whsec_old_"+w, at(base+50+m), map[bool]any{true: "410 Gone", false: nil}[j == 1], map[bool]any{true: at(base + 60 + m), false: nil}[j == 1],
				`{"X-Tenant":"`+u+`"}`, 5+m, 7+m)
			exec(`INSERT INTO webhook_stats (webhook_id, total_attempts, successful_attempts, failed_attempts, total_duration_ms,
				consecutive_failures, last_attempt_at, last_success_at, last_failure_at, failing_since) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
				w, 10+m, 7+m, 3, 1234+m, 1, at(base+70+m), at(base+71+m), at(base+72+m), at(base+73+m))
			exec(`INSERT INTO webhook_logs (id, webhook_id, event_id, delivery_id, event_type, attempt, status, status_code, duration_ms,
				error, request_headers, request_body, response_body, created_at, next_attempt_at, test)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
				"l-"+w, w, "e1-"+u, "d-"+w, "message.new", 1, "failed", 500, 42+m, "boom", `{"A":"b"}`, []byte(`{"n":1}`), []byte("oops"),
				at(base+80+m), at(base+81+m), j == 1)
			for _, span := range []int64{1, 60} {
				exec(`INSERT INTO webhook_log_counts (webhook_id, span, minute, total_attempts, successful_attempts, total_duration_ms,
					max_duration_ms, last_success_at, last_failure_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
					w, span, (base/60000)/span*span, 2+m, 1, 84+m, 42+m, at(base+90+m), nil)
			}
		}
		exec(`INSERT INTO events (id, user_id, event_type, payload, occurred_at, idempotency_key, delivery_count, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			"e1-"+u, u, "message.new", []byte(`{"owner":"`+u+`"}`), at(base+100+n), "shared-key", 2, at(base+101+n))
		exec(`INSERT INTO events (id, user_id, event_type, payload, occurred_at, idempotency_key, delivery_count, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			"e2-"+u, u, "message.read", []byte(`{"n":2}`), at(base+102+n), nil, 1, at(base+103+n))
		exec(`INSERT INTO deliveries (id, event_id, webhook_id, status, attempts, next_attempt_at, lease_token, created_at, updated_at, test)
			VALUES ($1, $2, $3, 'pending', 0, $4, NULL, $5, $5, FALSE)`, "d-w1-"+u, "e1-"+u, "w1-"+u, at(base+110+n), at(base+111+n))
		exec(`INSERT INTO deliveries (id, event_id, webhook_id, status, attempts, next_attempt_at, lease_token, created_at, updated_at, test)
			VALUES ($1, $2, $3, 'success', 1, $4, 'lease', $5, $6, TRUE)`, "d-w2-"+u, "e1-"+u, "w2-"+u, at(base+112+n), at(base+113+n), at(base+114+n))
		exec(`INSERT INTO fanouts (event_id, after_webhook_id, last_webhook_id) VALUES ($1, $2, $3)`, "e2-"+u, "w1-"+u, "w2-"+u)
	}
}

// laterColumns are the columns migrations after the tenancy one add, with
// their defaults: a table dumped at the latest version is compared with
// one at version 7 without them.
var laterColumns = map[string][]string{
	"webhooks":   {"filter", "ordering", "ordering_key", "ordering_seq"}, // 00008_webhook_filters, 00009_ordered_delivery
	"deliveries": {"ordering_key", "seq"},                                // 00009_ordered_delivery
}

// withoutLaterColumns drops laterColumns from dumped tables.
func withoutLaterColumns(tables map[string]map[string]row) {
	for table, cols := range laterColumns {
		for _, r := range tables[table] {
			for _, c := range cols {
				delete(r, c)
			}
		}
	}
}

// migrateDownTo rolls back, one at a time, the applied migrations after
// version.
func migrateDownTo(t *testing.T, s *store.Store, version int64) {
	t.Helper()
	ms, err := s.Migrations(context.Background())
	if err != nil {
		t.Fatalf("list migrations: %v", err)
	}
	for _, m := range slices.Backward(ms) {
		if !m.Applied || m.Version <= version {
			continue
		}
		if v, err := s.MigrateDown(context.Background()); err != nil || v != m.Version {
			t.Fatalf("migrate down = %d, %v; want %d", v, err, m.Version)
		}
	}
}

// renamed returns r with column from renamed to to.
func renamed(r row, from, to string) row {
	out := maps.Clone(r)
	out[to] = out[from]
	delete(out, from)
	return out
}

// checkTenancyUpgrade checks the tables after the migration to tenants
// against before, the version 6 rows.
func checkTenancyUpgrade(t *testing.T, s *store.Store, before map[string]map[string]row) {
	t.Helper()
	db := s.WriteDB()
	after := dumpTenancyTables(t, db)
	withoutLaterColumns(after)
	tenants := tableRows(t, db, "tenants", "id")
	if len(tenants) != len(before["users"]) {
		t.Errorf("%d tenants, want one per user (%d)", len(tenants), len(before["users"]))
	}
	for id, u := range before["users"] {
		got := after["users"][id]
		want := maps.Clone(u)
		want["tenant_id"] = id
		if !maps.Equal(got, want) {
			t.Errorf("user %s = %v, want %v", id, got, want)
		}
		tn := tenants[id]
		if tn == nil || tn["name"] != u["email"] || tn["metadata"] != "{}" || tn["created_at"] != u["created_at"] {
			t.Errorf("tenant %s = %v, want name %s, metadata {}, created_at %s", id, tn, u["email"], u["created_at"])
		}
	}
	for _, table := range []string{"webhooks", "events", "api_keys"} {
		if len(after[table]) != len(before[table]) {
			t.Errorf("%s has %d rows, had %d", table, len(after[table]), len(before[table]))
		}
		for id, r := range before[table] {
			want := renamed(r, "user_id", "tenant_id")
			switch table {
			case "webhooks":
				want["created_by"] = r["user_id"]
			case "api_keys":
				want["created_by"], want["service"] = r["user_id"], "0"
			}
			if got := after[table][id]; !maps.Equal(got, want) {
				t.Errorf("%s %s =\n %v, want\n %v", table, id, got, want)
			}
		}
	}
	for _, table := range []string{"webhook_stats", "deliveries", "webhook_logs", "webhook_log_counts", "fanouts"} {
		if !maps.EqualFunc(after[table], before[table], maps.Equal) {
			t.Errorf("%s changed:\n %v\nwas\n %v", table, after[table], before[table])
		}
	}
	checkForeignKeys(t, s)
	checkIndexes(t, s, map[string]string{
		"webhooks_tenant_id_idx": "tenant_id", "api_keys_tenant_id_idx": "tenant_id",
		"users_tenant_id_idx": "tenant_id", "events_idempotency_key_idx": "tenant_id",
	})
	// The store reads what the migration made.
	ctx := context.Background()
	for id, u := range before["users"] {
		tn, err := s.Tenant(ctx, id)
		if err != nil || tn.Name != u["email"] {
			t.Errorf("Tenant(%s) = %+v, %v; want named %s", id, tn, err, u["email"])
		}
		hooks, _, err := s.ListWebhooks(ctx, id, store.Page{Limit: 10})
		if err != nil || len(hooks) != 2 {
			t.Errorf("ListWebhooks(%s) = %d webhooks, %v; want 2", id, len(hooks), err)
		}
	}
}

// checkForeignKeys requires every reference to hold: SQLite's
// foreign_key_check is empty, and PostgreSQL has every foreign key.
func checkForeignKeys(t *testing.T, s *store.Store) {
	t.Helper()
	db := s.WriteDB()
	if s.Kind() == store.SQLite {
		rows, err := db.Query(`PRAGMA foreign_key_check`)
		if err != nil {
			t.Fatalf("foreign_key_check: %v", err)
		}
		defer rows.Close()
		for rows.Next() {
			var table, parent string
			var rowid sql.NullInt64
			var fkid int
			if err := rows.Scan(&table, &rowid, &parent, &fkid); err != nil {
				t.Fatalf("foreign_key_check: %v", err)
			}
			t.Errorf("foreign_key_check: a row of %s (rowid %v) references a missing %s", table, rowid, parent)
		}
		var on int
		if err := db.QueryRow(`PRAGMA foreign_keys`).Scan(&on); err != nil || on != 1 {
			t.Errorf("PRAGMA foreign_keys = %d, %v; want 1 after the migration", on, err)
		}
	}
}

// indexColumns reports each index of the schema with its definition.
func indexDefinitions(t *testing.T, s *store.Store) map[string]string {
	t.Helper()
	q := `SELECT name, COALESCE(sql, '') FROM sqlite_master WHERE type = 'index'`
	if s.Kind() == store.Postgres {
		q = `SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()`
	}
	rows, err := s.WriteDB().Query(q)
	if err != nil {
		t.Fatalf("list indexes: %v", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			t.Fatalf("list indexes: %v", err)
		}
		out[name] = def
	}
	return out
}

// checkIndexes requires each index to exist and its definition to name
// the column given.
func checkIndexes(t *testing.T, s *store.Store, want map[string]string) {
	t.Helper()
	defs := indexDefinitions(t, s)
	for name, col := range want {
		def, ok := defs[name]
		switch {
		case !ok:
			t.Errorf("index %s is missing (indexes: %v)", name, slices.Sorted(maps.Keys(defs)))
		case !strings.Contains(def, col):
			t.Errorf("index %s = %s, want it on %s", name, def, col)
		}
	}
}

// foreignKeyTargets lists, for table, the tables its foreign keys name.
func foreignKeyTargets(t *testing.T, s *store.Store, table string) []string {
	t.Helper()
	q := `SELECT "table" FROM pragma_foreign_key_list($1)`
	if s.Kind() == store.Postgres {
		q = `SELECT c.confrelid::regclass::text FROM pg_constraint c WHERE c.contype = 'f' AND c.conrelid = $1::regclass`
	}
	rows, err := s.WriteDB().Query(q, table)
	if err != nil {
		t.Fatalf("foreign keys of %s: %v", table, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatalf("foreign keys of %s: %v", table, err)
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

func TestTenancyMigration(t *testing.T) {
	storetest.EachTarget(t, func(t *testing.T, db string) {
		ctx := context.Background()
		s := openAt(t, db, preTenancy)
		fillPreTenancy(t, s)
		v6 := dumpTenancyTables(t, s.WriteDB())

		applied, err := s.Migrate(ctx)
		if err != nil {
			t.Fatalf("migrate up: %v", err)
		}
		if !slices.Contains(applied, 7) {
			t.Fatalf("migrate up applied %v, want 7 among them", applied)
		}
		t.Run("up", func(t *testing.T) {
			checkTenancyUpgrade(t, s, v6)
			for table, want := range map[string][]string{"users": {"tenants"}, "webhooks": {"tenants"}, "events": {"tenants"}, "api_keys": {"tenants"}} {
				if got := foreignKeyTargets(t, s, table); !slices.Equal(got, want) {
					t.Errorf("foreign keys of %s name %v, want %v", table, got, want)
				}
			}
		})

		// What tenancy adds and a rollback must map back: a second member
		// of u1's tenant with a webhook of its own, a tenant without
		// members with a webhook, an event and a pending delivery, and a
		// service key.
		bob, err := s.CreateUser(ctx, "bob@example.com", "hash-bob", "u1")
		if err != nil {
			t.Fatalf("create a member of u1: %v", err)
		}
		bobs, err := s.CreateWebhook(ctx, store.CreateWebhookParams{TenantID: "u1", CreatedBy: bob.ID, Name: "bob's",
			URL: "https://example.com/bob", Events: []string{"*"}, Secret: "whsec_bob", IsActive: true})
		if err != nil {
			t.Fatalf("bob's webhook: %v", err)
		}
		if _, _, err := s.PutTenant(ctx, "lonely", store.TenantParams{}); err != nil {
			t.Fatalf("put tenant: %v", err)
		}
		lonely, err := s.CreateWebhook(ctx, store.CreateWebhookParams{TenantID: "lonely", CreatedBy: "service-key:x", Name: "lonely",
			URL: "https://example.com/lonely", Events: []string{"*"}, Secret: "whsec_lonely", IsActive: true})
		if err != nil {
			t.Fatalf("lonely's webhook: %v", err)
		}
		if _, err := s.PublishEvents(ctx, []store.PublishParams{{TenantID: "lonely", Type: "message.new", Payload: []byte(`{}`), OccurredAt: s.Now()}}); err != nil {
			t.Fatalf("publish for lonely: %v", err)
		}
		if _, err := s.CreateAPIKey(ctx, store.NewAPIKey{Service: true, Name: "crm", KeyHash: "service-hash", Prefix: "whk_s"}); err != nil {
			t.Fatalf("service key: %v", err)
		}

		migrateDownTo(t, s, 7)
		if v, err := s.MigrateDown(ctx); err != nil || v != 7 {
			t.Fatalf("migrate down = %d, %v; want 7", v, err)
		}
		t.Run("down", func(t *testing.T) {
			down := dumpTenancyTables(t, s.WriteDB())
			for table, rows := range v6 {
				for id, r := range rows {
					if got := down[table][id]; !maps.Equal(got, r) {
						t.Errorf("after down, %s %s =\n %v, want it as it was at version 6:\n %v", table, id, got, r)
					}
				}
			}
			if got := down["users"][bob.ID]; got == nil || got["email"] != "bob@example.com" {
				t.Errorf("after down, bob = %v, want kept", got)
			}
			// Bob's webhook goes to u1, the oldest member of its tenant.
			if got := down["webhooks"][bobs.ID]; got == nil || got["user_id"] != "u1" {
				t.Errorf("after down, bob's webhook = %v, want it owned by u1", got)
			}
			if _, ok := down["webhooks"][lonely.ID]; ok {
				t.Errorf("after down, the memberless tenant's webhook is still there")
			}
			for table, n := range map[string]int{"webhooks": 5, "events": 4, "api_keys": 2, "deliveries": 4, "webhook_stats": 5, "users": 3} {
				if len(down[table]) != n {
					t.Errorf("after down, %s has %d rows, want %d", table, len(down[table]), n)
				}
			}
			for _, table := range []string{"tenants"} {
				if defs := indexDefinitions(t, s); defs["users_tenant_id_idx"] != "" {
					t.Errorf("after down, users_tenant_id_idx is still there")
				}
				var n int
				q := `SELECT COUNT(*) FROM sqlite_master WHERE name = $1`
				if s.Kind() == store.Postgres {
					q = `SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = $1`
				}
				if err := s.WriteDB().QueryRow(q, table).Scan(&n); err != nil || n != 0 {
					t.Errorf("after down, table %s: count %d, %v; want it gone", table, n, err)
				}
			}
			checkForeignKeys(t, s)
			checkIndexes(t, s, map[string]string{
				"webhooks_user_id_idx": "user_id", "api_keys_user_id_idx": "user_id", "events_idempotency_key_idx": "user_id",
			})
		})

		if _, err := s.Migrate(ctx); err != nil {
			t.Fatalf("migrate up again: %v", err)
		}
		t.Run("up again", func(t *testing.T) {
			again := dumpTenancyTables(t, s.WriteDB())
			withoutLaterColumns(again)
			want := map[string]map[string]row{}
			for table, rows := range v6 {
				want[table] = map[string]row{}
				for id := range rows {
					want[table][id] = v6[table][id]
				}
			}
			// Checked as the first upgrade, over the same rows plus
			// bob's, who now has a tenant of its own.
			for table := range want {
				for id, r := range again[table] {
					if _, ok := want[table][id]; !ok {
						delete(again[table], id)
						_ = r
					}
				}
			}
			if got := again["users"][bob.ID]; got != nil {
				t.Errorf("bob is in the original rows: %v", got)
			}
			checkTenancyUpgradeRows(t, v6, again)
			checkForeignKeys(t, s)
			u, err := s.UserByID(ctx, bob.ID)
			if err != nil || u.TenantID != bob.ID {
				t.Errorf("bob after up again = %+v, %v; want a tenant of his own", u, err)
			}
		})
	})
}

// checkTenancyUpgradeRows is the row checks of checkTenancyUpgrade for
// rows already read.
func checkTenancyUpgradeRows(t *testing.T, before, after map[string]map[string]row) {
	t.Helper()
	for id, u := range before["users"] {
		want := maps.Clone(u)
		want["tenant_id"] = id
		if got := after["users"][id]; !maps.Equal(got, want) {
			t.Errorf("user %s = %v, want %v", id, got, want)
		}
	}
	for _, table := range []string{"webhooks", "events", "api_keys"} {
		for id, r := range before[table] {
			want := renamed(r, "user_id", "tenant_id")
			switch table {
			case "webhooks":
				want["created_by"] = r["user_id"]
			case "api_keys":
				want["created_by"], want["service"] = r["user_id"], "0"
			}
			if got := after[table][id]; !maps.Equal(got, want) {
				t.Errorf("%s %s =\n %v, want\n %v", table, id, got, want)
			}
		}
	}
	for _, table := range []string{"webhook_stats", "deliveries", "webhook_logs", "webhook_log_counts", "fanouts"} {
		for id, r := range before[table] {
			if got := after[table][id]; !maps.Equal(got, r) {
				t.Errorf("%s %s =\n %v, want\n %v", table, id, got, r)
			}
		}
	}
}

// TestTenancyMigrationFailure: on SQLite the tenancy migration runs its own
// transaction with foreign keys off. A database it cannot migrate (here a
// webhook whose user is gone) is left at version 6, untouched, and the
// writer connection comes back out of the transaction with foreign keys on.
func TestTenancyMigrationFailure(t *testing.T) {
	ctx := context.Background()
	s := openAt(t, storetest.SQLitePath(t), preTenancy)
	fillPreTenancy(t, s)
	db := s.WriteDB()
	for _, q := range []string{`PRAGMA foreign_keys = OFF`,
		`INSERT INTO webhooks (id, user_id, name, url, events, secret, created_at, updated_at) VALUES ('orphan', 'ghost', 'o', 'https://example.com', '["*"]', 's', 1, 1)`,
		`PRAGMA foreign_keys = ON`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	before := dumpTenancyTables(t, db)

	if _, err := s.Migrate(ctx); err == nil {
		t.Fatalf("migrate up over an orphan webhook succeeded, want it to fail the foreign key check")
	}
	states, err := s.Migrations(ctx)
	if err != nil {
		t.Fatalf("migrations: %v", err)
	}
	for _, m := range states {
		if m.Applied != (m.Version <= preTenancy) {
			t.Errorf("migration %d applied = %v after the failed upgrade, want %v", m.Version, m.Applied, m.Version <= preTenancy)
		}
	}
	var on int
	if err := db.QueryRow(`PRAGMA foreign_keys`).Scan(&on); err != nil || on != 1 {
		t.Errorf("writer's PRAGMA foreign_keys = %d, %v after the failed migration; want 1", on, err)
	}
	var tenantsTable int
	if err := db.QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE name IN ('tenants', 'users_new', 'webhooks_new')`).Scan(&tenantsTable); err != nil || tenantsTable != 0 {
		t.Errorf("after the failed migration, %d of its tables remain (%v); want none", tenantsTable, err)
	}
	if after := dumpTenancyTables(t, db); !maps.EqualFunc(after, before, func(a, b map[string]row) bool { return maps.EqualFunc(a, b, maps.Equal) }) {
		t.Errorf("the failed migration changed the version 6 rows")
	}
	// The writer takes transactions again: the store writes.
	if _, err := db.Exec(`UPDATE users SET token_version = token_version + 1 WHERE id = 'u1'`); err != nil {
		t.Errorf("a write after the failed migration: %v", err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatalf("begin after the failed migration: %v", err)
	}
	if err := tx.Rollback(); err != nil {
		t.Errorf("rollback: %v", err)
	}
	// With the orphan gone, the migration succeeds.
	if _, err := db.Exec(`DELETE FROM webhooks WHERE id = 'orphan'`); err != nil {
		t.Fatalf("delete the orphan: %v", err)
	}
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatalf("migrate up without the orphan: %v", err)
	}
	checkForeignKeys(t, s)
}

// TestTenancyMigrationDownFailure: the SQLite rollback of the tenancy
// migration checks foreign keys before it commits as well; a database it
// cannot roll back stays at version 7, and the writer comes back with
// foreign keys on.
func TestTenancyMigrationDownFailure(t *testing.T) {
	ctx := context.Background()
	s := storetest.Open(t, storetest.SQLitePath(t))
	u := newUser(t, s, "down@example.com")
	newWebhook(t, s, u.ID, "*")
	migrateDownTo(t, s, tenancy)
	db := s.WriteDB()
	for _, q := range []string{`PRAGMA foreign_keys = OFF`,
		`INSERT INTO fanouts (event_id, after_webhook_id, last_webhook_id) VALUES ('no-such-event', '', 'x')`,
		`PRAGMA foreign_keys = ON`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if _, err := s.MigrateDown(ctx); err == nil {
		t.Fatalf("migrate down over an orphan fan-out succeeded, want the foreign key check to fail it")
	}
	var on int
	if err := db.QueryRow(`PRAGMA foreign_keys`).Scan(&on); err != nil || on != 1 {
		t.Errorf("writer's PRAGMA foreign_keys = %d, %v after the failed rollback; want 1", on, err)
	}
	if tn, err := s.Tenant(ctx, u.ID); err != nil || tn.ID != u.ID {
		t.Errorf("tenant after the failed rollback = %+v, %v; want version 7 intact", tn, err)
	}
	// Back to the latest version, whose columns the store writes.
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatalf("migrate up after the failed rollback: %v", err)
	}
	if _, err := s.CreateWebhook(ctx, store.CreateWebhookParams{TenantID: u.ID, Name: "after", URL: "https://example.com",
		Events: []string{"*"}, Secret: "whsec_x", IsActive: true}); err != nil {
		t.Errorf("a write after the failed rollback: %v", err)
	}
}
