package store

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/webhookd/webhookd/migrations"
)

// SeedLogs writes attempt logs and their counters directly, for benchmarks
// that need a large log table quickly. A log without an id gets one made
// from its CreatedAt, as the store makes them.
func (s *Store) SeedLogs(ctx context.Context, logs []Log) error {
	for i := range logs {
		if logs[i].ID == "" {
			logs[i].ID = logID(logs[i].CreatedAt)
		}
	}
	return s.inTx(ctx, func(tx *txn) error {
		m := map[string]*statsDelta{}
		for _, l := range logs {
			addStats(m, l)
		}
		for lo, hi := range s.runs(len(logs)) {
			if err := s.insertLogs(ctx, tx, logs[lo:hi]); err != nil {
				return err
			}
		}
		return s.applyStats(ctx, tx, m)
	})
}

// PreparedWriterStatements reports how many statements the writer keeps
// prepared: always 0 where it keeps none (PostgreSQL).
func (s *Store) PreparedWriterStatements() int {
	if s.stmts == nil {
		return 0
	}
	s.stmts.mu.Lock()
	defer s.stmts.mu.Unlock()
	return len(s.stmts.m)
}

// SetFanOutChunk makes fan-outs insert at most n deliveries a transaction,
// and calls after (when not nil) after each such transaction commits.
func (s *Store) SetFanOutChunk(n int, after func()) {
	s.limits.fanOutChunk, s.limits.afterFanOutStep = n, after
}

// PublishWithoutFanOut commits a batch as PublishEvents does but leaves any
// fan-out beyond the first transaction undone, as a process stopped just
// after that transaction would.
func (s *Store) PublishWithoutFanOut(ctx context.Context, batch []PublishParams) ([]PublishResult, error) {
	return s.publishEvents(ctx, batch, nil)
}

// FanOutStep runs one fan-out transaction over every pending fan-out.
func (s *Store) FanOutStep(ctx context.Context) (int, error) {
	_, n, _, err := s.fanOutStep(ctx, nil)
	return n, err
}

// FanOutCounts reports, for the user's events, how many events there are,
// how many deliveries, how many distinct (event, webhook) pairs those
// deliveries cover, and how many fan-outs are pending.
func (s *Store) FanOutCounts(ctx context.Context, userID string) (events, deliveries, pairs, pending int, err error) {
	err = s.read.QueryRowContext(ctx, `SELECT
			(SELECT COUNT(*) FROM events WHERE tenant_id = $1),
			(SELECT COUNT(*) FROM deliveries d JOIN events e ON e.id = d.event_id WHERE e.tenant_id = $1),
			(SELECT COUNT(*) FROM (SELECT DISTINCT d.event_id, d.webhook_id FROM deliveries d JOIN events e ON e.id = d.event_id WHERE e.tenant_id = $1) p),
			(SELECT COUNT(*) FROM fanouts f JOIN events e ON e.id = f.event_id WHERE e.tenant_id = $1)`, userID).
		Scan(&events, &deliveries, &pairs, &pending)
	return
}

// ExplainDueWindow returns the plan of the lease's due-window query as the
// lease runs it, for a lease of limit: PostgreSQL's EXPLAIN ANALYZE (run
// and rolled back), SQLite's EXPLAIN QUERY PLAN details, a line each.
func (s *Store) ExplainDueWindow(ctx context.Context, limit int) (string, error) {
	return s.explainInLease(ctx, s.dueWindowQuery(), s.d.t(s.Now()), dueWindow(limit))
}

// ExplainActiveWebhooksByDue returns the plan of the per-webhook probe's
// query as the lease runs it, as ExplainDueWindow does.
func (s *Store) ExplainActiveWebhooksByDue(ctx context.Context) (string, error) {
	return s.explainInLease(ctx, s.d.activeWebhooksByDueQuery(""))
}

// ExplainActiveWebhooksByDueExcept is ExplainActiveWebhooksByDue leaving
// out owner, as the lease asks whether others wait.
func (s *Store) ExplainActiveWebhooksByDueExcept(ctx context.Context, owner string) (string, error) {
	a := s.d.args(1)
	return s.explainInLease(ctx, s.d.activeWebhooksByDueQuery(` AND u.id NOT IN (`+a.add(owner)+`)`), a.vals...)
}

func (s *Store) explainInLease(ctx context.Context, q string, args ...any) (string, error) {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return "", err
	}
	defer func() { _ = tx.Rollback() }()
	if err := s.d.walkIndexesInOrder(ctx, tx); err != nil {
		return "", err
	}
	if s.d.kind == Postgres {
		q = "EXPLAIN (ANALYZE, BUFFERS) " + q
	} else {
		q = "EXPLAIN QUERY PLAN " + q
	}
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return "", err
	}
	var out strings.Builder
	for rows.Next() {
		vals := make([]any, len(cols))
		for i := range vals {
			vals[i] = new(any)
		}
		if err := rows.Scan(vals...); err != nil {
			return "", err
		}
		fmt.Fprintf(&out, "%v\n", *vals[len(vals)-1].(*any))
	}
	return out.String(), rows.Err()
}

// CapPages stops the SQLite database from growing past its current size,
// so that the next write needing a page fails with SQLITE_FULL, as on a
// full disk.
func (s *Store) CapPages(ctx context.Context) error {
	_, err := s.write.ExecContext(ctx, `PRAGMA max_page_count = 1`) // clamped to the current size
	return err
}

// ReadPlan is one read statement of the log routes and its query plan.
type ReadPlan struct {
	Name string
	Plan string
}

// ExplainReads returns the plans of the statements behind the log list
// with each documented filter, stats since a time and the hourly series,
// for webhookID at now: SQLite's EXPLAIN QUERY PLAN details, PostgreSQL's
// EXPLAIN (COSTS OFF), one line per node.
func (s *Store) ExplainReads(ctx context.Context, webhookID string, now time.Time) ([]ReadPlan, error) {
	since, until := now.Add(-time.Hour), now.Add(-10*time.Minute)
	page := Page{Limit: 50, Before: logID(now.Add(-30 * time.Minute))}
	type stmt struct {
		name string
		q    string
		args []any
		page bool // run by readPage
	}
	var stmts []stmt
	for name, f := range map[string]LogFilter{
		"logs":                        {Page: Page{Limit: 50}},
		"logs?cursor":                 {Page: page},
		"logs?status":                 {Status: AttemptFailed, Page: Page{Limit: 50}},
		"logs?status&cursor":          {Status: AttemptFailed, Page: page},
		"logs?eventType":              {EventType: "user.created", Page: Page{Limit: 50}},
		"logs?eventType&cursor":       {EventType: "user.created", Page: page},
		"logs?since":                  {Since: &since, Page: Page{Limit: 50}},
		"logs?until":                  {Until: &until, Page: Page{Limit: 50}},
		"logs?since&until":            {Since: &since, Until: &until, Page: Page{Limit: 50}},
		"logs?status&since":           {Status: AttemptFailed, Since: &since, Until: &until, Page: Page{Limit: 50}},
		"logs?eventType&since":        {EventType: "user.created", Since: &since, Until: &until, Page: Page{Limit: 50}},
		"logs?status&eventType":       {Status: AttemptSuccess, EventType: "user.created", Page: Page{Limit: 50}},
		"logs?status&eventType&since": {Status: AttemptSuccess, EventType: "user.created", Since: &since, Page: Page{Limit: 50}},
	} {
		q, args := s.logsQuery(webhookID, f)
		stmts = append(stmts, stmt{name, q, args, true})
	}
	q, args := s.p95Query(webhookID, &since)
	stmts = append(stmts,
		stmt{"stats?since p95", q, args, true},
		stmt{"stats?since counts", statsCountsQuery, []any{webhookID, unixMinute(since), unixMinute(since.Truncate(time.Hour).Add(time.Hour))}, false},
		stmt{"stats?since edge", s.statsEdgeQuery(), []any{webhookID, s.d.t(since), s.d.t(since.Add(time.Minute)),
			idBound(since.Add(-idSlack)), idBound(since.Add(time.Minute + idSlack))}, false},
		stmt{"stats?since edge complement", s.statsEdgeComplementQuery(), []any{webhookID, s.d.t(since.Add(20 * time.Second)), s.d.t(since),
			idBound(since.Add(-idSlack)), idBound(since.Add(20*time.Second + idSlack)), unixMinute(since)}, false},
		stmt{"stats/series", seriesCountsQuery(spanHour, 60), []any{webhookID, unixMinute(now.Add(-24 * time.Hour).Truncate(time.Hour))}, false},
	)
	out := make([]ReadPlan, 0, len(stmts))
	for _, st := range stmts {
		explain := "EXPLAIN (COSTS OFF) "
		if s.d.kind == SQLite {
			explain = "EXPLAIN QUERY PLAN "
		}
		var lines []string
		var err error
		if st.page {
			// Explained as readPage runs it.
			lines, err = readPage(ctx, s, explain+st.q, st.args, planLine)
		} else {
			var rows *sql.Rows
			if rows, err = s.read.QueryContext(ctx, explain+st.q, st.args...); err == nil {
				lines, err = collect(rows, planLine)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("explain %s: %w", st.name, err)
		}
		out = append(out, ReadPlan{st.name, strings.Join(lines, "\n")})
	}
	slices.SortFunc(out, func(a, b ReadPlan) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// planLine reads a row of EXPLAIN: SQLite's detail (its last column), or
// PostgreSQL's only column.
func planLine(r rowScanner) (string, error) {
	rows, ok := r.(*sql.Rows)
	if !ok {
		return "", fmt.Errorf("plan line: %T is not *sql.Rows", r)
	}
	cols, err := rows.Columns()
	if err != nil {
		return "", err
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return "", err
	}
	return fmt.Sprint(vals[len(vals)-1]), nil
}

// BulkLogs shapes the rows BulkSeedLogs builds: Spread rows one every
// SpreadStep from SpreadFrom, then Bunched rows one every BunchStep from
// BunchFrom. Rows numbered below Rare are failed and of type user.created;
// one in ten others is message.read, the rest message.new, all successful.
type BulkLogs struct {
	Spread, Bunched, Rare int
	SpreadFrom, BunchFrom time.Time
	SpreadStep, BunchStep time.Duration
}

var bulkCalls atomic.Int64

// BulkSeedLogs builds a webhook's log rows inside the database with one
// INSERT … SELECT over a generated series, ids made from created_at as
// the store makes them, then its all-time and per-minute and per-hour counts as the
// migration backfills them. It is for benchmarks that need a million rows.
func (s *Store) BulkSeedLogs(ctx context.Context, webhookID string, b BulkLogs) error {
	n := b.Spread + b.Bunched
	series := `WITH RECURSIVE g(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM g WHERE i < $1 - 1)`
	ms := `CASE WHEN i < $2 THEN $3 + i * $4 ELSE $5 + (i - $2) * $6 END`
	// Each call's ids differ in the version nibble's 12 bits that follow.
	tag := fmt.Sprintf("%03x", bulkCalls.Add(1)&0xfff)
	id := `printf('%08x-%04x-7` + tag + `-8000-%012x', ms >> 16, ms & 65535, i)`
	createdAt := `ms`
	minute := `created_at / 60000`
	if s.d.kind == Postgres {
		series = `WITH g(i) AS (SELECT generate_series(0, $1::bigint - 1))`
		ms = `CASE WHEN i < $2::bigint THEN $3::bigint + i * $4::bigint ELSE $5::bigint + (i - $2::bigint) * $6::bigint END`
		id = `lpad(to_hex(ms >> 16), 8, '0') || '-' || lpad(to_hex(ms & 65535), 4, '0') || '-7` + tag + `-8000-' || lpad(to_hex(i), 12, '0')`
		createdAt = `to_timestamp(ms / 1000.0)`
		minute = `FLOOR(EXTRACT(EPOCH FROM created_at) / 60)::bigint`
	}
	q := series + `, r(i, ms) AS (SELECT i, ` + ms + ` FROM g)
		INSERT INTO webhook_logs (id, webhook_id, event_id, delivery_id, event_type, attempt, status, status_code, duration_ms,
			request_headers, request_body, created_at, test)
		SELECT ` + id + `, $7, 'e', 'd',
			CASE WHEN i < $8 THEN 'user.created' WHEN i % 10 = 0 THEN 'message.read' ELSE 'message.new' END, 1,
			CASE WHEN i < $8 THEN 'failed' ELSE 'success' END, CASE WHEN i < $8 THEN 500 ELSE 200 END, i % 250,
			'{}', '', ` + createdAt + `, FALSE FROM r`
	return s.inTx(ctx, func(tx *txn) error {
		if _, err := tx.ExecContext(ctx, q, n, b.Spread, b.SpreadFrom.UnixMilli(), b.SpreadStep.Milliseconds(),
			b.BunchFrom.UnixMilli(), b.BunchStep.Milliseconds(), webhookID, b.Rare); err != nil {
			return fmt.Errorf("seed logs: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE webhook_stats SET
			total_attempts = (SELECT COUNT(*) FROM webhook_logs WHERE webhook_id = $1),
			successful_attempts = (SELECT COUNT(*) FROM webhook_logs WHERE webhook_id = $1 AND status = 'success'),
			failed_attempts = (SELECT COUNT(*) FROM webhook_logs WHERE webhook_id = $1 AND status = 'failed'),
			total_duration_ms = (SELECT COALESCE(SUM(duration_ms), 0) FROM webhook_logs WHERE webhook_id = $1),
			last_attempt_at = (SELECT MAX(created_at) FROM webhook_logs WHERE webhook_id = $1)
			WHERE webhook_id = $1`, webhookID); err != nil {
			return fmt.Errorf("seed stats: %w", err)
		}
		for _, span := range []int64{spanMinute, spanHour} {
			if _, err := tx.ExecContext(ctx, `INSERT INTO webhook_log_counts (webhook_id, span, minute, total_attempts, successful_attempts,
				total_duration_ms, max_duration_ms, last_success_at, last_failure_at)
				SELECT webhook_id, $2, `+minute+` / $2 * $2, COUNT(*), SUM(CASE WHEN status = 'success' THEN 1 ELSE 0 END), SUM(duration_ms),
				MAX(duration_ms), MAX(CASE WHEN status = 'success' THEN created_at END), MAX(CASE WHEN status = 'failed' THEN created_at END)
				FROM webhook_logs WHERE webhook_id = $1 GROUP BY 1, 3`, webhookID, span); err != nil {
				return fmt.Errorf("seed attempt counts: %w", err)
			}
		}
		return nil
	})
}

// RerunCountsBackfill empties webhook_log_counts and fills it again with
// the INSERT statements of the migration that created it, as an upgrade of
// a database with logs would.
func (s *Store) RerunCountsBackfill(ctx context.Context) error {
	dir := migrations.SQLite()
	if s.d.kind == Postgres {
		dir = migrations.Postgres()
	}
	text, err := fs.ReadFile(dir, "00006_log_read_indexes.sql")
	if err != nil {
		return err
	}
	up, _, _ := strings.Cut(string(text), "-- +goose Down")
	return s.inTx(ctx, func(tx *txn) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM webhook_log_counts`); err != nil {
			return err
		}
		n := 0
		for _, stmt := range strings.Split(up, ";") {
			if i := strings.Index(stmt, "INSERT INTO webhook_log_counts"); i >= 0 {
				if _, err := tx.ExecContext(ctx, stmt[i:]); err != nil {
					return fmt.Errorf("backfill: %w", err)
				}
				n++
			}
		}
		if n != 2 {
			return fmt.Errorf("backfill: %d INSERT statements in the migration, want 2", n)
		}
		return nil
	})
}

// RuntimeSetting returns a run-time setting as the store's connections have it.
func (s *Store) RuntimeSetting(ctx context.Context, name string) (string, error) {
	var v string
	err := s.read.QueryRowContext(ctx, `SELECT current_setting($1)`, name).Scan(&v)
	return v, err
}

// ProbedWebhooks reports how many webhooks the per-webhook due probe has
// read since the store opened.
func (s *Store) ProbedWebhooks() int64 { return s.probedWebhooks.Load() }

// FanOutWebhooksRead returns how many webhook rows fan-out steps have read.
func (s *Store) FanOutWebhooksRead() int64 { return s.fanOutWebhooksRead.Load() }

// LeasePlanSettings returns enable_sort and jit as a lease's transaction
// sees them after walkIndexesInOrder (PostgreSQL; empty on SQLite).
func (s *Store) LeasePlanSettings(ctx context.Context) (sort, jit string, err error) {
	if s.d.kind != Postgres {
		return "", "", s.d.walkIndexesInOrder(ctx, s.write)
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return "", "", err
	}
	defer func() { _ = tx.Rollback() }()
	if err := s.d.walkIndexesInOrder(ctx, tx); err != nil {
		return "", "", err
	}
	err = tx.QueryRowContext(ctx, `SELECT current_setting('enable_sort'), current_setting('jit')`).Scan(&sort, &jit)
	return sort, jit, err
}

// PipelinedLeaseSettings returns enable_sort, jit and synchronous_commit
// as a pipelined lease's transaction sees them after the settings it sends
// (PostgreSQL; empty on SQLite, where there is no pipeline).
func (s *Store) PipelinedLeaseSettings(ctx context.Context) (sort, jit, syncCommit string, err error) {
	if s.d.kind != Postgres {
		return "", "", "", nil
	}
	err = s.inPipedTx(ctx, func(tx *txn) error {
		var b pgx.Batch
		queueLeaseSettings(&b)
		b.Queue(`SELECT current_setting('enable_sort'), current_setting('jit'), current_setting('synchronous_commit')`).QueryRow(func(r pgx.Row) error {
			return r.Scan(&sort, &jit, &syncCommit)
		})
		return tx.send(ctx, &b)
	})
	return sort, jit, syncCommit, err
}

// FailPipelinedTx stores setting key in a pipelined transaction, then
// sends a batch whose second statement fails: the transaction must roll
// back, the setting and all, and leave its connection fit for the pool.
func (s *Store) FailPipelinedTx(ctx context.Context, key string) error {
	return s.inPipedTx(ctx, func(tx *txn) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES ($1, 'x')`, key); err != nil {
			return err
		}
		if tx.pipe == nil {
			return fmt.Errorf("no pipeline")
		}
		var b pgx.Batch
		b.Queue(`SELECT 1`)
		b.Queue(`SELECT 1 / 0`)
		return tx.send(ctx, &b)
	})
}

// MigrateTo applies the pending migrations up to and including version,
// as a database last migrated by an older webhookd would be.
func (s *Store) MigrateTo(ctx context.Context, version int64) error {
	p, err := s.goose()
	if err != nil {
		return err
	}
	if _, err := p.UpTo(ctx, version); err != nil {
		return fmt.Errorf("store: migrate up to %d: %w", version, err)
	}
	return nil
}

// WriteDB is the writer pool itself, for tests that fill or inspect tables
// as an older schema had them. On SQLite it is the one writer connection.
func (s *Store) WriteDB() *sql.DB { return s.write.DB }

// ExplainCompletion returns the plans of the completion's two joins to a
// list (VALUES on SQLite, arrays on PostgreSQL), the deliveries' new state and the webhooks' stats, for
// completing leased as successes, as CompleteDeliveries runs them:
// PostgreSQL's EXPLAIN (COSTS OFF), SQLite's EXPLAIN QUERY PLAN details, a
// line each.
func (s *Store) ExplainCompletion(ctx context.Context, leased []LeasedDelivery) (deliveries, stats string, err error) {
	chunk := make([]Completion, len(leased))
	m := map[string]*statsDelta{}
	ids := make([]string, 0, len(leased))
	now := s.Now()
	for i, l := range leased {
		chunk[i] = Completion{DeliveryID: l.ID, LeaseToken: l.LeaseToken,
			Log: Log{WebhookID: l.WebhookID, Attempt: l.Attempt, Status: AttemptSuccess, CreatedAt: now}}
		if m[l.WebhookID] == nil {
			ids = append(ids, l.WebhookID)
		}
		addStats(m, chunk[i].Log)
	}
	slices.Sort(ids)
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return "", "", err
	}
	defer func() { _ = tx.Rollback() }()
	if err := s.d.joinByKey(ctx, tx); err != nil {
		return "", "", err
	}
	explain := func(q string, args []any) (string, error) { return s.explainIn(ctx, tx, q, args) }
	if s.d.kind == Postgres {
		// completePipelined's statements: arrays, not VALUES lists.
		if deliveries, err = explain(updateDeliveriesFromArraysQuery, deliveryArrays(chunk, now)); err != nil {
			return "", "", err
		}
		stats, err = explain(updateStatsFromArraysQuery, statsArrays(ids, m))
		return deliveries, stats, err
	}
	if deliveries, err = explain(s.updateDeliveriesQuery(chunk, now)); err != nil {
		return "", "", err
	}
	stats, err = explain(s.updateStatsQuery(ids, m))
	return deliveries, stats, err
}

// EnvelopeTimeLayout is the layout OrderingKeyValue writes "timestamp" in.
const EnvelopeTimeLayout = envelopeTimeLayout

// ExplainOrdering returns the plans of the ordered queue's two statements
// over a batch of keys of webhook, as a publish (keysWaiting) and a
// completion (promoteNext) run them, after walkIndexesInOrder.
func (s *Store) ExplainOrdering(ctx context.Context, webhook string, keys []string) (waiting, promote string, err error) {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return "", "", err
	}
	defer func() { _ = tx.Rollback() }()
	if err := s.d.walkIndexesInOrder(ctx, tx); err != nil {
		return "", "", err
	}
	explain := func(q string, args []any) (string, error) { return s.explainIn(ctx, tx, q, args) }
	fk := make([]finishedKey, len(keys))
	for i, k := range keys {
		fk[i] = finishedKey{webhook: webhook, key: k}
	}
	if waiting, err = explain(s.keysWaitingQuery(webhook, keys)); err != nil {
		return "", "", err
	}
	promote, err = explain(s.promoteNextQuery(fk, s.Now()))
	return waiting, promote, err
}

// DeliveryTargets returns the webhook ids of the event's deliveries, sorted.
func (s *Store) DeliveryTargets(ctx context.Context, eventID string) ([]string, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT webhook_id FROM deliveries WHERE event_id = $1 ORDER BY webhook_id`, eventID)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanString)
}

// CurrentVersion is the database's schema version.
func (s *Store) CurrentVersion(ctx context.Context) (int64, error) {
	p, err := s.goose()
	if err != nil {
		return 0, err
	}
	return p.GetDBVersion(ctx)
}

// explainIn returns the plan of q with args inside tx, one line a step,
// in the dialect's EXPLAIN.
func (s *Store) explainIn(ctx context.Context, tx *sql.Tx, q string, args []any) (string, error) {
	if s.d.kind == Postgres {
		q = "EXPLAIN (COSTS OFF) " + q
	} else {
		q = "EXPLAIN QUERY PLAN " + q
	}
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return "", err
	}
	lines, err := collect(rows, planLine)
	return strings.Join(lines, "\n"), err
}

// UserCacheArmed reports whether the store's user cache is in use.
func (s *Store) UserCacheArmed() bool {
	_, armed := s.users.generation()
	return armed
}

// UserCached reports whether the user cache holds the user id.
func (s *Store) UserCached(id string) bool {
	_, ok := s.users.get(id)
	return ok
}

// UsersListenerApp is the application_name of this store's user-cache
// listeners, for a test that plays a listener that never answers.
func (s *Store) UsersListenerApp() string { return s.usersListenerApp() }

// UsersChannel is the channel this store's user changes are sent on.
func (s *Store) UsersChannel() string { return s.usersChannel() }

// PublishThenPlanMode publishes batch in a transaction, pipelined as
// PublishEvents does or not (as a fan-out's later chunks are), and
// returns how many deliveries it created and plan_cache_mode as the rest
// of that transaction sees it ("" on SQLite).
func (s *Store) PublishThenPlanMode(ctx context.Context, batch []PublishParams, piped bool) (deliveries int, mode string, err error) {
	run := s.inTx
	if piped {
		run = s.inPipedTx
	}
	err = run(ctx, func(tx *txn) error {
		results, err := s.publishBatch(ctx, tx, batch, map[string][]subscription{})
		if err != nil {
			return err
		}
		for _, r := range results {
			deliveries += r.Deliveries
		}
		if s.d.kind != Postgres {
			return nil
		}
		return tx.QueryRowContext(ctx, `SELECT current_setting('plan_cache_mode')`).Scan(&mode)
	})
	return deliveries, mode, err
}

// ExplainSubscriptionsOfTenants returns the plan of the statement a
// publish batch reads its tenants' webhooks with (with the handoff's
// columns), under the settings a publish runs with (see explainIn).
func (s *Store) ExplainSubscriptionsOfTenants(ctx context.Context, tenants []string) (string, error) {
	q, args := s.subscriptionsOfTenantsQuery(subscriptionColumns+`, `+sendColumns, tenants)
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return "", err
	}
	defer func() { _ = tx.Rollback() }()
	return s.explainIn(ctx, tx, q, args)
}

// APIKeyCached reports whether the store's cache holds the key of hash.
func (s *Store) APIKeyCached(hash string) bool {
	_, _, ok := s.users.getKey(hash)
	return ok
}

// FailGroupsWith makes every shared transaction of g fail with err before
// it starts (requests published alone are unaffected).
func (g *GroupCommitter) FailGroupsWith(err error) { g.failGroup = func() error { return err } }

// CommitGroup commits batches as one group, as the committer's loop does
// with requests that queued together, and returns each request's error.
func (g *GroupCommitter) CommitGroup(batches [][]PublishParams) []error {
	group := make([]*publishRequest, len(batches))
	for i, b := range batches {
		group[i] = &publishRequest{batch: b, reply: make(chan publishReply, 1)}
	}
	g.commit(group)
	errs := make([]error, len(group))
	for i, r := range group {
		errs[i] = (<-r.reply).err
	}
	return errs
}

// GroupFallbacks returns how many groups of g failed and were published a
// request at a time.
func (g *GroupCommitter) GroupFallbacks() int64 { return g.fallbacks.Load() }

// TenantCached reports whether the store's cache holds the tenant id.
func (s *Store) TenantCached(id string) bool {
	_, ok := s.users.getTenant(id)
	return ok
}

// BeginUserChangeElsewhere counts a change to users as begun in the user
// changes file of the SQLite database at path, as another process would,
// holding its lock until the returned function counts it done.
func BeginUserChangeElsewhere(path string) (done func(), err error) {
	f, err := openUserGen(path, true)
	if err != nil {
		return nil, err
	}
	if err := f.begin(); err != nil {
		f.close()
		return nil, err
	}
	return func() { f.end(); f.close() }, nil
}

// DisableUserAndDieBeforeDone disables a user as SetUserDisabled does on
// SQLite, but never counts the change done, as a process that died right
// after its commit: its lock is let go only when the store is closed.
func (s *Store) DisableUserAndDieBeforeDone(ctx context.Context, userID string) error {
	if err := s.userGen.begin(); err != nil {
		return err
	}
	err := s.inTx(ctx, func(tx *txn) error {
		_, err := tx.ExecContext(ctx, `UPDATE users SET disabled_at = $1, token_version = token_version + 1 WHERE id = $2`, s.d.t(s.Now()), userID)
		return err
	})
	// No longer in flight as far as Close is concerned, which lets the
	// lock go as the process's death would; still never counted done.
	abandonUserChange(s.userGen)
	return err
}

// PauseListenerAfterListen makes the next user cache listener of s call
// hook between its LISTEN and its naming.
func (s *Store) PauseListenerAfterListen(hook func()) { s.onListening = hook }

// PauseUserChangeBeforeCommit makes every change to users through s call
// hook once its NOTIFY is sent, before it commits.
func (s *Store) PauseUserChangeBeforeCommit(hook func()) { s.beforeUsersCommit = hook }

// WithCheckpointEvery sets the time between the SQLite checkpointer's
// steps, so that a test can run them itself (CheckpointStep).
func WithCheckpointEvery(d time.Duration) Option {
	return func(s *Store) { s.checkpointEvery = d }
}

// CheckpointStep runs one step of the serving SQLite store's checkpointer,
// calling between, when not nil, right after its PASSIVE checkpoint.
func (s *Store) CheckpointStep(ctx context.Context, between func()) {
	s.checkpointer.afterPassive = between
	defer func() { s.checkpointer.afterPassive = nil }()
	s.checkpointer.step(ctx, -1)
}

// WALFrames reports how many frames the SQLite write-ahead log holds.
func (s *Store) WALFrames(ctx context.Context) (int, error) {
	var busy, logFrames, copied int
	err := s.checkpointer.conn.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &logFrames, &copied)
	return logFrames, err
}

// ExplainByIDs returns the PostgreSQL plan of one of the statements that
// take rows by a list of ids, run as their transactions run them: "lease"
// (leaseByIDsQuery, with the lease's settings), "webhooks"
// (lockWebhooksQuery, with joinByKey's) or "stats" (lockStatsQuery, with
// none).
func (s *Store) ExplainByIDs(ctx context.Context, which string, ids []string) (string, error) {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return "", err
	}
	defer func() { _ = tx.Rollback() }()
	var q string
	var args []any
	switch which {
	case "lease":
		err = s.d.walkIndexesInOrder(ctx, tx)
		q, args = leaseByIDsQuery, []any{"token", s.Now(), s.Now(), ids}
	case "webhooks":
		err = s.d.joinByKey(ctx, tx)
		q, args = lockWebhooksQuery, []any{ids}
	case "stats":
		q, args = lockStatsQuery, []any{ids}
	default:
		return "", fmt.Errorf("no statement %q", which)
	}
	if err != nil {
		return "", err
	}
	rows, err := tx.QueryContext(ctx, "EXPLAIN "+q, args...)
	if err != nil {
		return "", err
	}
	lines, err := collect(rows, scanString)
	return strings.Join(lines, "\n"), err
}
