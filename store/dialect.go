package store

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/webhookd/webhookd/migrations"
)

// dialect holds what differs between SQLite and PostgreSQL, side by side:
// the rest of the package asks it, and never compares kinds itself.
type dialect struct{ kind Kind }

// embedded reports whether the database is an SQLite file inside this
// process: one process serves it (its lock file sees to that), so nothing
// need be announced to others, and it has files of webhookd's own (the
// database, its -wal and -shm) to watch.
func (d dialect) embedded() bool { return d.kind == SQLite }

// migrations returns the goose dialect and the migration files.
func (d dialect) migrations() (goose.Dialect, fs.FS) {
	if d.kind == Postgres {
		return goose.DialectPostgres, migrations.Postgres()
	}
	return goose.DialectSQLite3, migrations.SQLite()
}

// versionTableQuery reports whether goose's version table exists, without
// creating it.
func (d dialect) versionTableQuery() string {
	if d.kind == Postgres {
		return `SELECT to_regclass('goose_db_version') IS NOT NULL`
	}
	return `SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'goose_db_version')`
}

// t binds a time: Unix milliseconds on SQLite, TIMESTAMPTZ on PostgreSQL.
func (d dialect) t(t time.Time) any {
	if d.kind == SQLite {
		return t.UnixMilli()
	}
	return t.UTC()
}

// indexedBy names the index a SQLite statement must read a table through,
// for statements whose several candidate indexes look alike to a planner
// without statistics; PostgreSQL has no such clause and chooses by cost.
func (d dialect) indexedBy(index string) string {
	if d.kind == SQLite {
		return " INDEXED BY " + index
	}
	return ""
}

// greatest is the function that returns the largest of its arguments:
// SQLite's MAX of several arguments (callers COALESCE NULL out of it, which
// SQLite's MAX returns for any NULL argument and GREATEST ignores).
func (d dialect) greatest() string {
	if d.kind == SQLite {
		return "MAX"
	}
	return "GREATEST"
}

// bucketIndex is the index of the width-millisecond bucket created_at falls
// in, counted from the Unix epoch.
func (d dialect) bucketIndex(width int64) string {
	if d.kind == Postgres {
		return fmt.Sprintf("FLOOR(EXTRACT(EPOCH FROM created_at) * 1000 / %d)::bigint", width)
	}
	return fmt.Sprintf("created_at / %d", width)
}

// activeWebhooksOfOwners is a FROM clause of the owners, u, and then of
// each owner's active webhooks, w (id, tenant_id, rate_limit), read through
// webhooks_tenant_id_idx in that order, so that leaving an owner out of u
// costs nothing however many webhooks it has. SQLite keeps the tables in
// CROSS JOIN's order. PostgreSQL reorders any join by its estimates, which
// without statistics put the webhooks first; a LATERAL subquery it cannot
// flatten (OFFSET 0) is read once per owner.
func (d dialect) activeWebhooksOfOwners() string {
	if d.kind == Postgres {
		return `tenants u CROSS JOIN LATERAL (SELECT id, tenant_id, rate_limit FROM webhooks
			WHERE tenant_id = u.id AND is_active = TRUE OFFSET 0) AS w`
	}
	return `tenants u CROSS JOIN webhooks w ON w.tenant_id = u.id AND w.is_active = TRUE`
}

// webhookIDRange is a condition on a webhook's id between its two
// arguments, after ($2, excluded) and last ($3, included), in the byte
// order Go compares them in. A large fan-out takes its webhooks in that
// order, a chunk a transaction, and each chunk read all of the owner's
// active webhooks again (10,000 rows five times for a 10,000-webhook
// fan-out, more than half of the fan-out's writer time on SQLite, and
// 50,000 rows and their event lists decoded on PostgreSQL). SQLite
// compares text by its bytes; PostgreSQL compares by the database's
// collation, which may differ from byte order, so there the comparison
// names the "C" collation, which is byte order. That is not the id
// index's collation, so PostgreSQL filters the owner's index entries
// rather than seek to the range, but it sends only the chunk's rows.
func (d dialect) webhookIDRange() string {
	if d.kind == Postgres {
		return ` AND id COLLATE "C" > $2 AND id COLLATE "C" <= $3`
	}
	return ` AND id > $2 AND id <= $3`
}

// skipLocked ends a lease's SELECT of due deliveries, d: on PostgreSQL it
// locks the rows it returns and skips those another process holds, so
// that several processes lease side by side without waiting on each
// other's rows (rows read but not taken are unlocked at commit,
// unchanged). SQLite has one writer, which needs no row locks.
func (d dialect) skipLocked() string {
	if d.kind == Postgres {
		return ` FOR UPDATE OF d SKIP LOCKED`
	}
	return ""
}

// forUpdate ends a SELECT that locks the rows of table it returns until
// commit, so that two processes working on them take turns; on SQLite the
// single writer makes every write transaction take its turn anyway.
func (d dialect) forUpdate(table string) string {
	if d.kind == Postgres {
		return ` FOR UPDATE OF ` + table
	}
	return ""
}

// forKeyShare ends a SELECT whose rows must not be deleted before commit,
// without stopping their updates; see forUpdate for SQLite.
func (d dialect) forKeyShare() string {
	if d.kind == Postgres {
		return ` FOR KEY SHARE`
	}
	return ""
}

// lockOwner holds an owner's row until commit, so that transactions
// counting that owner's rows before adding one take turns. NO KEY UPDATE,
// unlike UPDATE, does not wait for (or stop) the key-share locks that
// inserting an event or a delivery takes on the owner's row. SQLite's single
// writer already runs such transactions one at a time.
func (d dialect) lockOwner(ctx context.Context, tx execer, tenantID string) error {
	if d.kind != Postgres {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `SELECT 1 FROM tenants WHERE id = $1 FOR NO KEY UPDATE`, tenantID); err != nil {
		return fmt.Errorf("lock owner: %w", err)
	}
	return nil
}

// lockLoginKeys holds each throttle key until commit, in the order given,
// so that two logins counting one key's failures take turns; keyed by
// schema as well, so two deployments in one database do not wait on each
// other. See lockOwner for SQLite.
func (d dialect) lockLoginKeys(ctx context.Context, tx execer, keys []string) error {
	if d.kind != Postgres {
		return nil
	}
	for _, k := range keys {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtextextended(current_schema() || ':login:' || $1, 0))`, k); err != nil {
			return err
		}
	}
	return nil
}

// notifyWork queues a notification on workChannel that is sent when tx
// commits, so other processes wake exactly when the new deliveries become
// visible. An embedded database has one process, which wakes itself.
func (d dialect) notifyWork(ctx context.Context, tx execer) error {
	if d.embedded() {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `SELECT pg_notify('`+workChannel+`', '')`); err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	return nil
}

// walkIndexesInOrderQuery is walkIndexesInOrder's statement.
const walkIndexesInOrderQuery = `SELECT set_config('enable_sort', 'off', true), set_config('enable_incremental_sort', 'off', true),
		set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true), set_config('jit', 'off', true)`

// walkIndexesInOrder makes PostgreSQL answer the rest of tx's ORDER BY …
// LIMIT statements by walking an index in order, never by reading every
// match and sorting it. Without statistics (a freshly created or bulk
// loaded table that autoanalyze has not reached, or autovacuum off) the
// planner takes status = 'pending' to match 0.5% of the deliveries, so it
// expects a few hundred due rows, fewer than the window, and then reading
// them all through a bitmap scan and sorting them looks cheaper than an
// ordered walk that stops at the window: with a backlog of 200,000 every
// lease read and sorted all of them (250 ms a lease, 1 ms by the index).
// Custom and generic plans alike, so plan_cache_mode does not help. With
// sorting disabled the only plans left are the ordered index walks, which
// are right at any backlog size and any statistics; a sort that has no
// alternative (activeWebhooksByDue's) still runs. Such a sort keeps
// PostgreSQL's disable_cost (10^10) in its plan's cost, far above
// jit_above_cost, so JIT is turned off too: otherwise every lease compiled
// that query to machine code first, half a second each on a 2-CPU machine
// for a statement that runs in microseconds. Hash and merge joins are off
// for the same reason as sorting: each reads a whole side before its first
// row, where a lease wants a nested loop from the small, ordered side (the
// owners, in activeWebhooksByDue: with a hash join PostgreSQL read and
// probed every webhook of an owner the query leaves out). SQLite needs
// nothing: it already walks the due index in order (see
// TestLeasePlanWithoutStatistics).
func (d dialect) walkIndexesInOrder(ctx context.Context, q queryer) error {
	if d.kind != Postgres {
		return nil
	}
	// set_config(…, true) lasts until the transaction ends, like SET LOCAL,
	// and is one statement whatever the protocol.
	rows, err := q.QueryContext(ctx, walkIndexesInOrderQuery)
	if err != nil {
		return fmt.Errorf("plan ordered index walks: %w", err)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("plan ordered index walks: %w", err)
	}
	return nil
}

// readInIndexOrder runs fn's reads on db with sorts ruled out
// (walkIndexesInOrder): on PostgreSQL in a read-only transaction, which the
// settings need to last in; on SQLite as they are, since it walks the
// index its statements name on its own.
func (d dialect) readInIndexOrder(ctx context.Context, db *sql.DB, fn func(q queryer) error) error {
	if d.kind != Postgres {
		return fn(db)
	}
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // read-only: nothing to undo, and Commit has run on success
	if err := d.walkIndexesInOrder(ctx, tx); err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// nt binds a time that may be absent.
func (d dialect) nt(t *time.Time) any {
	if t == nil {
		return nil
	}
	return d.t(*t)
}

// args gathers the arguments of a statement whose text is built, and
// writes each one's placeholder as it is added: $n on PostgreSQL, and a
// bare ? on SQLite, which looks a $n up by name in a list, quadratic over
// the thousands of parameters a batch holds. A bare ? is bound by its place
// in the text, so a statement built with args takes every argument through
// it, and uses each placeholder once, in the order added.
type args struct {
	d    dialect
	vals []any
}

// args starts the arguments of a statement, with room for n.
func (d dialect) args(n int) *args { return &args{d: d, vals: make([]any, 0, n)} }

// add appends v and returns its placeholder.
func (a *args) add(v any) string {
	a.vals = append(a.vals, v)
	if a.d.kind == Postgres {
		return "$" + strconv.Itoa(len(a.vals))
	}
	return "?"
}

// typed is add for a value whose type PostgreSQL cannot infer, such as one
// in a VALUES list in FROM, which has no target column to take it from.
func (a *args) typed(v any, typ string) string {
	p := a.add(v)
	if a.d.kind == Postgres {
		return p + "::" + typ
	}
	return p
}

// list appends vs and returns their placeholders, comma-separated: an IN
// list, or a row of a VALUES list inside its parentheses.
func (a *args) list(vs ...any) string { return listOf(a, vs) }

// row appends vs as one row of a VALUES list and returns it, parenthesised.
func (a *args) row(vs ...any) string { return "(" + a.list(vs...) + ")" }

// listOf is list for a slice of any one type, such as ids.
func listOf[T any](a *args, vs []T) string {
	var b strings.Builder
	for i, v := range vs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(a.add(v))
	}
	return b.String()
}

// scanTime reads a time column in either dialect's representation.
type scanTime struct{ dst *time.Time }

// Scan implements sql.Scanner.
func (s scanTime) Scan(src any) error {
	t, ok, err := fromDB(src)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("store: scan time: unexpected NULL")
	}
	*s.dst = t
	return nil
}

// scanNullTime reads a time column that may be NULL.
type scanNullTime struct{ dst **time.Time }

// Scan implements sql.Scanner.
func (s scanNullTime) Scan(src any) error {
	t, ok, err := fromDB(src)
	if err != nil {
		return err
	}
	if !ok {
		*s.dst = nil
		return nil
	}
	*s.dst = &t
	return nil
}

func fromDB(src any) (time.Time, bool, error) {
	switch v := src.(type) {
	case nil:
		return time.Time{}, false, nil
	case int64:
		return time.UnixMilli(v).UTC(), true, nil
	case time.Time:
		return v.UTC(), true, nil
	default:
		return time.Time{}, false, fmt.Errorf("store: scan time: unsupported type %T", src)
	}
}
