package store

import (
	"cmp"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"
)

// logID is a log row's id: a UUIDv7 whose time is the row's created_at, so
// that id order is time order and a time window is also an id range, which
// every log index ending in id can seek (see idBound). Ids of one
// millisecond made by this process count up in the version's 12 spare
// bits (RFC 9562's method 1), so that they sort in the order they were
// made: with random bits there, two test sends in one millisecond were
// listed newest first the wrong way round half the time.
func logID(createdAt time.Time) string {
	var u uuid.UUID
	_, _ = rand.Read(u[6:]) // crypto/rand.Read never fails (Go 1.24)
	ms := createdAt.UnixMilli()
	if seq, ok := logIDCounter.next(ms); ok {
		u[6], u[7] = byte(seq>>8), byte(seq)
	}
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(ms))
	copy(u[:6], b[2:])
	u[6] = 0x70 | u[6]&0x0f // version 7
	u[8] = 0x80 | u[8]&0x3f // RFC 4122 variant
	return u.String()
}

// logIDCounter numbers the log ids of the newest millisecond.
var logIDCounter msCounter

// msCounter counts within the newest millisecond it has been asked about.
type msCounter struct {
	mu  sync.Mutex
	ms  int64
	seq uint16
}

// next returns the next number of millisecond ms, from 0, and false for a
// millisecond older than the newest (its ids keep random bits) or past
// 4,095 ids in one millisecond.
func (c *msCounter) next(ms int64) (uint16, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case ms > c.ms:
		c.ms, c.seq = ms, 0
		return 0, true
	case ms == c.ms && c.seq < 0xfff:
		c.seq++
		return c.seq, true
	}
	return 0, false
}

// idSlack is how far a log id's time may lie from its created_at. Ids made
// by logID carry created_at exactly; rows logged before it carried it took
// their id from the clock a moment after created_at was read.
const idSlack = 5 * time.Second

// idBound is the smallest UUIDv7 of time t's millisecond: every log id made
// at or after t sorts at or after it, every one made before t below it.
func idBound(t time.Time) string {
	ms := max(t.UnixMilli(), 0)
	return fmt.Sprintf("%08x-%04x-0000-0000-000000000000", uint64(ms)>>16, uint64(ms)&0xffff)
}

// LogFilter narrows a webhook's log list. Zero values do not filter.
type LogFilter struct {
	Status    string
	EventType string
	Since     *time.Time
	Until     *time.Time
	Page      Page
}

const logColumns = `id, webhook_id, event_id, delivery_id, event_type, attempt, status, status_code, duration_ms, error,
	request_headers, request_body, response_body, created_at, next_attempt_at, test`

// ListLogs returns one page of a user's webhook's attempts, newest first,
// and the cursor for the next page. It is ErrNotFound when the webhook is
// not the user's.
func (s *Store) ListLogs(ctx context.Context, tenantID, webhookID string, f LogFilter) ([]Log, string, error) {
	hook, err := s.Webhook(ctx, tenantID, webhookID)
	if err != nil {
		return nil, "", err
	}
	return s.ListLogsOf(ctx, hook, f)
}

// ListLogsOf is ListLogs for a webhook the caller has already loaded for
// its owner (with Webhook), so that a request checks ownership once. It
// does not check again: a webhook deleted since has no logs left to list.
func (s *Store) ListLogsOf(ctx context.Context, hook Webhook, f LogFilter) ([]Log, string, error) {
	q, args := s.logsQuery(hook.ID, f)
	out, err := readPage(ctx, s, q, args, scanLog)
	if err != nil {
		return nil, "", fmt.Errorf("store: list logs: %w", err)
	}
	if out == nil {
		out = []Log{} // none is an empty page, not an absent one
	}
	out, next := trimPage(out, f.Page.Limit, func(l Log) string { return l.ID })
	return out, next, nil
}

// logsQuery is ListLogs' statement.
func (s *Store) logsQuery(webhookID string, f LogFilter) (string, []any) {
	key := logKey{cols: []string{"webhook_id"}, vals: []any{webhookID}, index: "webhook_logs_webhook_id_idx", before: f.Page.Before}
	limit := f.Page.Limit + 1
	switch {
	case f.Status != "" && f.EventType != "":
		key.cols, key.vals, key.index = append(key.cols, "event_type", "status"), append(key.vals, f.EventType, f.Status), "webhook_logs_webhook_type_idx"
	case f.Status != "":
		key.cols, key.vals, key.index = append(key.cols, "status"), append(key.vals, f.Status), "webhook_logs_webhook_status_idx"
	case f.EventType != "":
		// The type index has status before id, so a type's newest rows are
		// the newest of its failed ones and of its successful ones: each
		// is read in id order up to the limit, and the two short lists
		// merged. (Statuses are the two of the table's CHECK.)
		key.cols, key.vals, key.index = append(key.cols, "event_type"), append(key.vals, f.EventType), "webhook_logs_webhook_type_idx"
		a := s.d.args(16)
		key.literal = "status = 'failed'"
		failed := s.logPageQuery(a, logColumns, key, f.Since, f.Until, limit)
		key.literal = "status = 'success'"
		success := s.logPageQuery(a, logColumns, key, f.Since, f.Until, limit)
		return `SELECT * FROM (` + failed + `) AS f UNION ALL SELECT * FROM (` + success + `) AS s` +
			fmt.Sprintf(` ORDER BY id DESC LIMIT %d`, limit), a.vals
	}
	a := s.d.args(8)
	return s.logPageQuery(a, logColumns, key, f.Since, f.Until, limit), a.vals
}

// readPage runs a logPageQuery statement and collects its rows with scan: on
// PostgreSQL in a read-only transaction with sorts ruled out
// (walkIndexesInOrder), on SQLite as it is (its statement names the
// index). Without statistics (a table never analysed, as with autovacuum
// off) the planner guesses that an equality and a range leave a few
// hundred of a webhook's rows, and then prefers reading them all and
// sorting them to reading the index in order, which at a million rows is
// the difference between a page in a millisecond and one in a second.
func readPage[T any](ctx context.Context, s *Store, q string, args []any, scan func(rowScanner) (T, error)) ([]T, error) {
	var out []T
	err := s.d.readInIndexOrder(ctx, s.read, func(db queryer) error {
		rows, err := db.QueryContext(ctx, q, args...)
		if err != nil {
			return err
		}
		out, err = collect(rows, scan)
		return err
	})
	return out, err
}

// logKey picks the log index a page is read from: the columns before id
// that the filter fixes, their values, and the cursor.
type logKey struct {
	cols    []string
	vals    []any
	index   string
	literal string // a condition without arguments on the next column, or ""
	before  string // read ids below this one ("" for the first page)
}

// logPageQuery reads up to limit log rows newest first straight from the
// key's index: equalities on the key's columns, the id range, and ORDER BY
// id, so that the index is read backwards from the range's top and the read
// stops at the limit, never sorting the matching rows (SQLite is told the
// index; PostgreSQL runs it with sorts ruled out, see readPages). A window
// is kept exactly by created_at, and also as the id range it lies in
// (idSlack wider on each side), so that the index read starts and ends near
// the window's ends.
func (s *Store) logPageQuery(a *args, columns string, key logKey, since, until *time.Time, limit int) string {
	var where []string
	for i, col := range key.cols {
		where = append(where, col+" = "+a.add(key.vals[i]))
	}
	if key.literal != "" {
		where = append(where, key.literal)
	}
	if since != nil {
		where = append(where, "created_at >= "+a.add(s.d.t(*since)), "id >= "+a.add(idBound(since.Add(-idSlack))))
	}
	hi := ""
	if until != nil {
		where = append(where, "created_at < "+a.add(s.d.t(*until)))
		hi = idBound(until.Add(idSlack))
	}
	if key.before != "" && (hi == "" || key.before < hi) {
		hi = key.before
	}
	if hi != "" {
		where = append(where, "id < "+a.add(hi))
	}
	return `SELECT ` + columns + ` FROM webhook_logs` + s.d.indexedBy(key.index) + ` WHERE ` + strings.Join(where, " AND ") +
		fmt.Sprintf(` ORDER BY id DESC LIMIT %d`, limit)
}

// LogEntry returns one attempt of a user's webhook. It is ErrNotFound
// when the webhook is not the user's or the attempt not the webhook's.
func (s *Store) LogEntry(ctx context.Context, tenantID, webhookID, logID string) (Log, error) {
	row := s.read.QueryRowContext(ctx, `SELECT `+prefixed("l.", logColumns)+` FROM webhook_logs l JOIN webhooks w ON w.id = l.webhook_id
		WHERE l.id = $1 AND l.webhook_id = $2 AND w.tenant_id = $3`, logID, webhookID, tenantID)
	return logEntry(row, logID)
}

// LogEntryOf is LogEntry for a webhook the caller has already loaded for
// its owner (with Webhook): ErrNotFound when the attempt is not hook's.
func (s *Store) LogEntryOf(ctx context.Context, hook Webhook, logID string) (Log, error) {
	row := s.read.QueryRowContext(ctx, `SELECT `+logColumns+` FROM webhook_logs WHERE id = $1 AND webhook_id = $2`, logID, hook.ID)
	return logEntry(row, logID)
}

// logEntry scans LogEntry's and LogEntryOf's row.
func logEntry(row rowScanner, logID string) (Log, error) {
	l, err := scanLog(row)
	if errors.Is(err, sql.ErrNoRows) {
		return Log{}, fmt.Errorf("store: log %s: %w", logID, ErrNotFound)
	}
	if err != nil {
		return Log{}, fmt.Errorf("store: log %s: %w", logID, err)
	}
	return l, nil
}

func prefixed(prefix, columns string) string {
	parts := strings.Split(columns, ",")
	for i, p := range parts {
		parts[i] = prefix + strings.TrimSpace(p)
	}
	return strings.Join(parts, ", ")
}

func scanLog(r rowScanner) (Log, error) {
	var l Log
	var code sql.NullInt64
	var errText sql.NullString
	var headers string
	if err := r.Scan(&l.ID, &l.WebhookID, &l.EventID, &l.DeliveryID, &l.EventType, &l.Attempt, &l.Status, &code,
		&l.DurationMs, &errText, &headers, &l.RequestBody, &l.ResponseBody, scanTime{&l.CreatedAt},
		scanNullTime{&l.NextAttemptAt}, &l.Test); err != nil {
		return Log{}, err
	}
	l.StatusCode, l.Error = int(code.Int64), errText.String
	if err := json.Unmarshal([]byte(headers), &l.RequestHeaders); err != nil {
		return Log{}, fmt.Errorf("decode request headers of log %s: %w", l.ID, err)
	}
	return l, nil
}

// statsDelta accumulates one batch's attempts for one webhook.
type statsDelta struct {
	total, success, failed, durationMs int64
	lastAttempt, lastSuccess, lastFail *time.Time
	sawSuccess                         bool
	failuresAfterSuccess               int64      // failures after the batch's last success
	streakStart                        *time.Time // first of those failures
	gone                               bool       // the receiver answered 410 Gone
	counts                             map[countKey]*countDelta
	// streak is the webhook's failure streak once the batch is added,
	// when the statement that added it returned it (PostgreSQL's
	// pipelined completion); nil: autoDisable reads it.
	streak *failureStreak
}

// failureStreak is a webhook_stats row's consecutive failures and since
// when they have lasted.
type failureStreak struct {
	failures int64
	since    *time.Time
}

// countKey is one row of webhook_log_counts: a span of 1 or 60 minutes
// starting at a Unix minute.
type countKey struct{ span, minute int64 }

// Spans of webhook_log_counts' rows, in minutes.
const (
	spanMinute = 1
	spanHour   = 60
)

// countDelta is one batch's attempts for one webhook in one minute or
// hour, added to webhook_log_counts.
type countDelta struct {
	total, success, durationMs, maxDurationMs int64
	lastSuccess, lastFail                     *time.Time
}

func addStats(m map[string]*statsDelta, l Log) {
	d := m[l.WebhookID]
	if d == nil {
		d = &statsDelta{}
		m[l.WebhookID] = d
	}
	at := l.CreatedAt
	d.total++
	d.durationMs += l.DurationMs
	d.lastAttempt = latest(d.lastAttempt, at)
	if d.counts == nil {
		d.counts = map[countKey]*countDelta{}
	}
	minute := unixMinute(at)
	for _, k := range []countKey{{spanMinute, minute}, {spanHour, minute - mod(minute, spanHour)}} {
		c := d.counts[k]
		if c == nil {
			c = &countDelta{}
			d.counts[k] = c
		}
		c.total++
		c.durationMs += l.DurationMs
		c.maxDurationMs = max(c.maxDurationMs, l.DurationMs)
		if l.Status == AttemptSuccess {
			c.success++
			c.lastSuccess = latest(c.lastSuccess, at)
		} else {
			c.lastFail = latest(c.lastFail, at)
		}
	}
	if l.Status == AttemptSuccess {
		d.success++
		d.sawSuccess = true
		d.failuresAfterSuccess = 0
		d.streakStart = nil
		d.lastSuccess = latest(d.lastSuccess, at)
	} else {
		d.failed++
		if d.failuresAfterSuccess == 0 {
			d.streakStart = &at
		}
		d.failuresAfterSuccess++
		d.lastFail = latest(d.lastFail, at)
	}
}

// mod is a modulo that is never negative.
func mod(a, b int64) int64 { return ((a % b) + b) % b }

// unixMinute is the whole minute since the Unix epoch that t lies in.
func unixMinute(t time.Time) int64 {
	ms := t.UnixMilli()
	if ms < 0 {
		return (ms - 59_999) / 60_000
	}
	return ms / 60_000
}

func latest(cur *time.Time, t time.Time) *time.Time {
	if cur == nil || t.After(*cur) {
		return &t
	}
	return cur
}

// applyStats adds a batch's counters to webhook_stats, a chunk of webhooks
// a statement (a fan-out's batch holds one attempt for each of hundreds of
// webhooks: one statement each was a round trip each on PostgreSQL, 10,000
// for a 10,000-webhook fan-out). On PostgreSQL each chunk's rows are first
// locked in id order, so that concurrent batches take them in the same
// order whatever plan the UPDATE gets.
func (s *Store) applyStats(ctx context.Context, tx *txn, m map[string]*statsDelta) error {
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for lo, hi := range s.runs(len(ids)) {
		if err := s.updateStats(ctx, tx, ids[lo:hi], m); err != nil {
			return err
		}
	}
	return s.applyCounts(ctx, tx, ids, m)
}

// statsColumns is how many values updateStats binds per webhook.
const statsColumns = 11

// updateStats adds the counters of a chunk of webhooks, ids in order, to
// their webhook_stats rows in one statement.
func (s *Store) updateStats(ctx context.Context, tx *txn, ids []string, m map[string]*statsDelta) error {
	if err := s.d.lockStats(ctx, tx, ids); err != nil {
		return fmt.Errorf("lock stats: %w", err)
	}
	q, args := s.updateStatsQuery(ids, m)
	if _, err := tx.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("update stats: %w", err)
	}
	return nil
}

// updateStatsQuery is updateStats' statement and its arguments.
func (s *Store) updateStatsQuery(ids []string, m map[string]*statsDelta) (string, []any) {
	a := s.d.args(statsColumns * len(ids))
	values := make([]string, 0, len(ids))
	for _, id := range ids {
		d := m[id]
		// PostgreSQL needs the types spelled out, as in updateDeliveries.
		values = append(values, "("+a.typed(id, "text")+", "+a.typed(d.total, "bigint")+", "+a.typed(d.success, "bigint")+", "+
			a.typed(d.failed, "bigint")+", "+a.typed(d.durationMs, "bigint")+", "+a.typed(d.sawSuccess, "boolean")+", "+
			a.typed(d.failuresAfterSuccess, "bigint")+", "+a.typed(s.d.nt(d.lastAttempt), "timestamptz")+", "+
			a.typed(s.d.nt(d.lastSuccess), "timestamptz")+", "+a.typed(s.d.nt(d.lastFail), "timestamptz")+", "+
			a.typed(s.d.nt(d.streakStart), "timestamptz")+")")
	}
	// v: webhook, total, successes, failures, duration, whether the batch
	// saw a success, failures after its last success, last attempt, last
	// success, last failure, first of the failures after the last success.
	return `UPDATE webhook_stats SET
		total_attempts = total_attempts + v.column2,
		successful_attempts = successful_attempts + v.column3,
		failed_attempts = failed_attempts + v.column4,
		total_duration_ms = total_duration_ms + v.column5,
		consecutive_failures = CASE WHEN v.column6 THEN v.column7 ELSE consecutive_failures + v.column7 END,
		last_attempt_at = COALESCE(v.column8, last_attempt_at),
		last_success_at = COALESCE(v.column9, last_success_at),
		last_failure_at = COALESCE(v.column10, last_failure_at),
		failing_since = CASE WHEN v.column7 = 0 THEN NULL WHEN v.column6 THEN v.column11 ELSE COALESCE(failing_since, v.column11) END
		FROM (VALUES ` + strings.Join(values, ", ") + `) AS v
		WHERE webhook_stats.webhook_id = v.column1`, a.vals
}

// updateStatsFromArraysQuery is updateStatsQuery on PostgreSQL, the
// webhooks' counters as the arrays of statsArrays, one text whatever their
// number, so that it can go in a pipelined batch (see CompleteDeliveries).
// It returns each webhook's failure streak for autoDisable.
const updateStatsFromArraysQuery = `UPDATE webhook_stats SET
		total_attempts = total_attempts + v.total,
		successful_attempts = successful_attempts + v.success,
		failed_attempts = failed_attempts + v.failed,
		total_duration_ms = total_duration_ms + v.duration,
		consecutive_failures = CASE WHEN v.saw_success THEN v.failures_after ELSE consecutive_failures + v.failures_after END,
		last_attempt_at = COALESCE(v.last_attempt, last_attempt_at),
		last_success_at = COALESCE(v.last_success, last_success_at),
		last_failure_at = COALESCE(v.last_failure, last_failure_at),
		failing_since = CASE WHEN v.failures_after = 0 THEN NULL WHEN v.saw_success THEN v.streak_start ELSE COALESCE(failing_since, v.streak_start) END
		FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::boolean[], $7::bigint[],
			$8::timestamptz[], $9::timestamptz[], $10::timestamptz[], $11::timestamptz[])
			AS v(webhook_id, total, success, failed, duration, saw_success, failures_after, last_attempt, last_success, last_failure, streak_start)
		WHERE webhook_stats.webhook_id = v.webhook_id
		RETURNING webhook_stats.webhook_id, webhook_stats.consecutive_failures, webhook_stats.failing_since`

// statsArrays is the counters of ids as the arrays of
// updateStatsFromArraysQuery.
func statsArrays(ids []string, m map[string]*statsDelta) []any {
	n := len(ids)
	totals, successes, failures, durations, after := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
	saw := make([]bool, n)
	last, lastSuccess, lastFail, streak := make([]pgtype.Timestamptz, n), make([]pgtype.Timestamptz, n), make([]pgtype.Timestamptz, n), make([]pgtype.Timestamptz, n)
	for i, id := range ids {
		d := m[id]
		totals[i], successes[i], failures[i], durations[i], saw[i], after[i] = d.total, d.success, d.failed, d.durationMs, d.sawSuccess, d.failuresAfterSuccess
		last[i], lastSuccess[i], lastFail[i], streak[i] = pgTime(d.lastAttempt), pgTime(d.lastSuccess), pgTime(d.lastFail), pgTime(d.streakStart)
	}
	return []any{ids, totals, successes, failures, durations, saw, after, last, lastSuccess, lastFail, streak}
}

// lockStatsQuery locks the webhook_stats rows of $1, ids in order, in
// that order (see lockStats). Each row is found through the primary key
// whatever the statistics and the plan settings say: a subquery that locks
// rows cannot be merged into its query, so the LATERAL one runs once per
// id, in the array's order. "webhook_id = ANY($1) ORDER BY webhook_id" was
// planned, on a table never analysed, as a walk of every row (10,000 a
// batch of a 10,000-webhook fan-out's outcomes).
const lockStatsQuery = `SELECT s.webhook_id FROM unnest($1::text[]) AS p (id)
	CROSS JOIN LATERAL (SELECT webhook_id FROM webhook_stats WHERE webhook_id = p.id FOR UPDATE) AS s`

// lockStats holds the webhook_stats rows of ids, in order, until commit on
// PostgreSQL: the lock order of an UPDATE joined to a VALUES list is its
// plan's, and two processes completing overlapping batches must take rows
// in one order or deadlock. SQLite's single writer needs no row locks.
func (d dialect) lockStats(ctx context.Context, tx queryer, ids []string) error {
	if d.kind != Postgres {
		return nil
	}
	rows, err := tx.QueryContext(ctx, lockStatsQuery, ids)
	if err != nil {
		return err
	}
	_, err = collect(rows, scanString)
	return err
}

// applyCounts adds a batch's per-minute and per-hour counts to
// webhook_log_counts in one statement, keys in order (webhook, span, minute)
// for the same reason as applyStats. A batch's attempts share one
// created_at, so this is usually two rows per webhook.
func (s *Store) applyCounts(ctx context.Context, tx *txn, ids []string, m map[string]*statsDelta) error {
	rows := countRows(ids, m)
	if len(rows) == 0 {
		return nil
	}
	if s.d.kind == Postgres {
		return s.upsertCountsFromArrays(ctx, tx, rows)
	}
	// In runs (see runs): a text for each number of rows was parsed, and
	// prepared, anew (85 texts in a 10,000-webhook fan-out, filling the
	// writer's statement cache with texts used once).
	const columns = 9
	for lo, hi := range s.runs(len(rows)) {
		chunk := rows[lo:hi]
		a := s.d.args(columns * len(chunk))
		values := make([]string, 0, len(chunk))
		for _, r := range chunk {
			values = append(values, a.row(r.webhookID, r.key.span, r.key.minute, r.c.total, r.c.success, r.c.durationMs, r.c.maxDurationMs,
				s.d.nt(r.c.lastSuccess), s.d.nt(r.c.lastFail)))
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO webhook_log_counts AS c (webhook_id, span, minute, total_attempts,
			successful_attempts, total_duration_ms, max_duration_ms, last_success_at, last_failure_at) VALUES `+strings.Join(values, ", ")+
			countsOnConflict(s.d.greatest()), a.vals...); err != nil {
			return fmt.Errorf("update attempt counts: %w", err)
		}
	}
	return nil
}

// countRows lists the webhook_log_counts rows of ids' counters, keys in
// (webhook, span, minute) order, ids being in order.
func countRows(ids []string, m map[string]*statsDelta) []countRow {
	var rows []countRow
	for _, id := range ids {
		keys := make([]countKey, 0, len(m[id].counts))
		for k := range m[id].counts {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, func(a, b countKey) int {
			if a.span != b.span {
				return int(a.span - b.span)
			}
			return cmp.Compare(a.minute, b.minute)
		})
		for _, k := range keys {
			rows = append(rows, countRow{id, k, m[id].counts[k]})
		}
	}
	return rows
}

// countRow is one row applyCounts adds to webhook_log_counts.
type countRow struct {
	webhookID string
	key       countKey
	c         *countDelta
}

// countsOnConflict ends applyCounts' INSERT: a row that exists already
// takes the batch's counts added to its own.
func countsOnConflict(greatest string) string {
	return `
			ON CONFLICT (webhook_id, span, minute) DO UPDATE SET
			total_attempts = c.total_attempts + excluded.total_attempts,
			successful_attempts = c.successful_attempts + excluded.successful_attempts,
			total_duration_ms = c.total_duration_ms + excluded.total_duration_ms,
			max_duration_ms = ` + greatest + `(c.max_duration_ms, excluded.max_duration_ms),
			last_success_at = ` + greatest + `(COALESCE(c.last_success_at, excluded.last_success_at), COALESCE(excluded.last_success_at, c.last_success_at)),
			last_failure_at = ` + greatest + `(COALESCE(c.last_failure_at, excluded.last_failure_at), COALESCE(excluded.last_failure_at, c.last_failure_at))`
}

// upsertCountsFromArrays is applyCounts on PostgreSQL: the rows go as nine
// arrays in one statement, whatever their number. As multi-row VALUES
// lists their text changed with every batch's size, so PostgreSQL (and
// pgx's statement cache) parsed, described and planned nearly every one
// anew: the upsert was the completion's costliest statement, about 10 ms
// for the 128 rows of 64 webhooks. unnest keeps the rows in order, so
// keys are still taken in (webhook, span, minute) order.
func (s *Store) upsertCountsFromArrays(ctx context.Context, tx *txn, rows []countRow) error {
	if _, err := tx.ExecContext(ctx, s.upsertCountsFromArraysQuery(), countArrays(rows)...); err != nil {
		return fmt.Errorf("update attempt counts: %w", err)
	}
	return nil
}

// upsertCountsFromArraysQuery adds the rows of countArrays' arrays to
// webhook_log_counts.
func (s *Store) upsertCountsFromArraysQuery() string {
	return `INSERT INTO webhook_log_counts AS c (webhook_id, span, minute, total_attempts,
		successful_attempts, total_duration_ms, max_duration_ms, last_success_at, last_failure_at)
		SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[],
			$8::timestamptz[], $9::timestamptz[])` + countsOnConflict(s.d.greatest())
}

// countArrays is rows as the nine column arrays of
// upsertCountsFromArraysQuery.
func countArrays(rows []countRow) []any {
	n := len(rows)
	webhooks := make([]string, n)
	spans, minutes, totals, successes, durations, maxes := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
	lastSuccess, lastFail := make([]pgtype.Timestamptz, n), make([]pgtype.Timestamptz, n)
	for i, r := range rows {
		webhooks[i], spans[i], minutes[i] = r.webhookID, r.key.span, r.key.minute
		totals[i], successes[i], durations[i], maxes[i] = r.c.total, r.c.success, r.c.durationMs, r.c.maxDurationMs
		lastSuccess[i], lastFail[i] = pgTime(r.c.lastSuccess), pgTime(r.c.lastFail)
	}
	return []any{webhooks, spans, minutes, totals, successes, durations, maxes, lastSuccess, lastFail}
}

// pgTime is an optional time as an element of a PostgreSQL timestamptz
// array: NULL when absent.
func pgTime(t *time.Time) pgtype.Timestamptz {
	if t == nil {
		return pgtype.Timestamptz{}
	}
	return pgtype.Timestamptz{Time: t.UTC(), Valid: true}
}

// p95Window is how many recent attempts the p95 response time is taken
// over: enough to be stable, few enough to stay fast with millions of logs.
const p95Window = 1000

// WebhookStats summarises a user's webhook's attempts, all time from kept
// counters, or since a time from the log.
// It is ErrNotFound when the webhook is not the user's.
func (s *Store) WebhookStats(ctx context.Context, tenantID, webhookID string, since *time.Time) (Stats, error) {
	hook, err := s.Webhook(ctx, tenantID, webhookID)
	if err != nil {
		return Stats{}, err
	}
	return s.WebhookStatsOf(ctx, hook, since)
}

// WebhookStatsOf is WebhookStats for a webhook the caller has already
// loaded for its owner (with Webhook), so that a request checks ownership
// once.
func (s *Store) WebhookStatsOf(ctx context.Context, hook Webhook, since *time.Time) (Stats, error) {
	webhookID := hook.ID
	var st Stats
	var durationMs int64
	err := s.read.QueryRowContext(ctx, `SELECT total_attempts, successful_attempts, failed_attempts, total_duration_ms,
		consecutive_failures, last_attempt_at, last_success_at, last_failure_at FROM webhook_stats WHERE webhook_id = $1`, webhookID).
		Scan(&st.TotalAttempts, &st.SuccessfulAttempts, &st.FailedAttempts, &durationMs, &st.ConsecutiveFailures,
			scanNullTime{&st.LastAttemptAt}, scanNullTime{&st.LastSuccessAt}, scanNullTime{&st.LastFailureAt})
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return Stats{}, fmt.Errorf("store: webhook stats: %w", err)
	}
	if since != nil {
		if err := s.statsSince(ctx, webhookID, *since, &st); err != nil {
			return Stats{}, err
		}
	} else if st.TotalAttempts > 0 {
		st.AverageDurationMs = float64(durationMs) / float64(st.TotalAttempts)
	}
	if err := s.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM deliveries WHERE webhook_id = $1 AND status = 'pending'`, webhookID).
		Scan(&st.PendingDeliveries); err != nil {
		return Stats{}, fmt.Errorf("store: webhook stats pending: %w", err)
	}
	q, args := s.p95Query(webhookID, since)
	durations, err := readPage(ctx, s, q, args, func(r rowScanner) (int64, error) {
		var d int64
		err := r.Scan(&d)
		return d, err
	})
	if err != nil {
		return Stats{}, fmt.Errorf("store: webhook stats p95: %w", err)
	}
	st.P95DurationMs = percentile(durations, 95)
	return st, nil
}

// statsCountsQuery sums a webhook's kept counts over the minutes from $2
// to the first whole hour $3, and the hours from $3 on: at most 59 minute
// rows and one row an hour, however many attempts they count.
const statsCountsQuery = `SELECT COALESCE(SUM(total_attempts), 0), COALESCE(SUM(successful_attempts), 0),
	COALESCE(SUM(total_duration_ms), 0), MAX(last_success_at), MAX(last_failure_at) FROM (
	SELECT total_attempts, successful_attempts, total_duration_ms, last_success_at, last_failure_at FROM webhook_log_counts
		WHERE webhook_id = $1 AND span = 1 AND minute >= $2 AND minute < $3
	UNION ALL
	SELECT total_attempts, successful_attempts, total_duration_ms, last_success_at, last_failure_at FROM webhook_log_counts
		WHERE webhook_id = $1 AND span = 60 AND minute >= $3) c`

// statsEdgeQuery sums a webhook's log rows in a window under a minute long,
// given also as its id range. On SQLite webhook_logs_webhook_id_idx holds
// every column it reads (migration 00011), so the rows are summed from the
// index without a lookup in the table each.
func (s *Store) statsEdgeQuery() string {
	return `SELECT COUNT(*),
	COALESCE(SUM(CASE WHEN status = 'success' THEN 1 ELSE 0 END), 0),
	COALESCE(SUM(duration_ms), 0),
	MAX(CASE WHEN status = 'success' THEN created_at END),
	MAX(CASE WHEN status = 'failed' THEN created_at END)
	FROM webhook_logs` + s.d.indexedBy("webhook_logs_webhook_id_idx") + `
	WHERE webhook_id = $1 AND created_at >= $2 AND created_at < $3 AND id >= $4 AND id < $5`
}

// statsEdgeComplementQuery sums a webhook's attempts from $2 to the end of
// its minute (minute $6, which starts at $3) as the minute's kept count
// less the log rows from $3 to $2 (given also as their id range $4–$5),
// in one statement so that both are read from one snapshot. The minute's
// latest success and failure are the part's when they are not before $2,
// and the part has none otherwise. No row: the minute had no attempt.
// A prune cutting through that very minute (the retention's edge) leaves
// its kept count whole and some of its rows gone, so a window starting
// there may count a few pruned attempts.
func (s *Store) statsEdgeComplementQuery() string {
	return `SELECT c.total_attempts - h.n, c.successful_attempts - h.ok, c.total_duration_ms - h.ms,
	CASE WHEN c.last_success_at >= $2 THEN c.last_success_at END,
	CASE WHEN c.last_failure_at >= $2 THEN c.last_failure_at END
	FROM webhook_log_counts c CROSS JOIN (SELECT COUNT(*) AS n,
		COALESCE(SUM(CASE WHEN status = 'success' THEN 1 ELSE 0 END), 0) AS ok,
		COALESCE(SUM(duration_ms), 0) AS ms
		FROM webhook_logs` + s.d.indexedBy("webhook_logs_webhook_id_idx") + `
		WHERE webhook_id = $1 AND created_at >= $3 AND created_at < $2 AND id >= $4 AND id < $5) h
	WHERE c.webhook_id = $1 AND c.span = 1 AND c.minute = $6`
}

// statsSince fills st's counts and latest times with the attempts at or
// after since: whole hours and the whole minutes before the first of them
// from webhook_log_counts, and the part of a minute before the first whole
// one from the log rows themselves, so that no more than a minute of rows
// is read whatever the window.
func (s *Store) statsSince(ctx context.Context, webhookID string, since time.Time, st *Stats) error {
	first := unixMinute(since)
	if since.UnixMilli() != first*60_000 {
		first++
	}
	edgeEnd := time.UnixMilli(first * 60_000)
	firstHour := first + mod(-first, spanHour)
	var durationMs int64
	var lastSuccess, lastFail *time.Time
	err := s.read.QueryRowContext(ctx, statsCountsQuery, webhookID, first, firstHour).
		Scan(&st.TotalAttempts, &st.SuccessfulAttempts, &durationMs, scanNullTime{&lastSuccess}, scanNullTime{&lastFail})
	if err != nil {
		return fmt.Errorf("store: webhook stats since: %w", err)
	}
	if since.Before(edgeEnd) {
		var total, success, edgeMs int64
		var edgeSuccess, edgeFail *time.Time
		var err error
		if minuteStart := edgeEnd.Add(-time.Minute); since.Sub(minuteStart) < edgeEnd.Sub(since) {
			// The part of the minute before since is the shorter: the
			// minute's kept count less that part's rows reads at most
			// half a minute of rows (a minute of a busy webhook's rows,
			// 16,000 at 5 million logs in a month with a busy hour, took
			// 57 ms on SQLite).
			err = s.read.QueryRowContext(ctx, s.statsEdgeComplementQuery(),
				webhookID, s.d.t(since), s.d.t(minuteStart), idBound(minuteStart.Add(-idSlack)), idBound(since.Add(idSlack)), first-1).
				Scan(&total, &success, &edgeMs, scanNullTime{&edgeSuccess}, scanNullTime{&edgeFail})
			if errors.Is(err, sql.ErrNoRows) {
				err = nil // no attempt in that minute
			}
		} else {
			err = s.read.QueryRowContext(ctx, s.statsEdgeQuery(),
				webhookID, s.d.t(since), s.d.t(edgeEnd), idBound(since.Add(-idSlack)), idBound(edgeEnd.Add(idSlack))).
				Scan(&total, &success, &edgeMs, scanNullTime{&edgeSuccess}, scanNullTime{&edgeFail})
		}
		if err != nil {
			return fmt.Errorf("store: webhook stats since: %w", err)
		}
		st.TotalAttempts += total
		st.SuccessfulAttempts += success
		durationMs += edgeMs
		if lastSuccess == nil {
			lastSuccess = edgeSuccess
		}
		if lastFail == nil {
			lastFail = edgeFail
		}
	}
	st.FailedAttempts = st.TotalAttempts - st.SuccessfulAttempts
	st.LastSuccessAt, st.LastFailureAt, st.LastAttemptAt = lastSuccess, lastFail, lastSuccess
	if lastFail != nil {
		st.LastAttemptAt = latest(lastSuccess, *lastFail)
	}
	st.AverageDurationMs = 0
	if st.TotalAttempts > 0 {
		st.AverageDurationMs = float64(durationMs) / float64(st.TotalAttempts)
	}
	return nil
}

// p95Query reads the durations of a webhook's latest p95Window attempts,
// since a time if given, in id order from (webhook_id, id).
func (s *Store) p95Query(webhookID string, since *time.Time) (string, []any) {
	key := logKey{cols: []string{"webhook_id"}, vals: []any{webhookID}, index: "webhook_logs_webhook_id_idx"}
	a := s.d.args(3)
	return s.logPageQuery(a, "duration_ms", key, since, nil, p95Window), a.vals
}

// percentile returns the nearest-rank percentile of values (0 when empty).
func percentile(values []int64, p int) int64 {
	if len(values) == 0 {
		return 0
	}
	slices.Sort(values)
	rank := (p*len(values) + 99) / 100 // ceil(p/100 × n)
	if rank < 1 {
		rank = 1
	}
	return values[rank-1]
}
