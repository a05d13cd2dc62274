package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// LeaseParams says which due deliveries to lease.
type LeaseParams struct {
	Limit int
	// LeaseFor is how long the lease holds before the delivery is due again
	// for anyone: longer than the slowest send.
	LeaseFor time.Duration
	// SkipWebhooks lists webhooks already at their in-flight cap, whose
	// deliveries must wait.
	SkipWebhooks []string
	// PerWebhook caps how many deliveries of one webhook may be in flight;
	// InFlight says how many each webhook has already. Candidates past a
	// webhook's cap are left alone, untouched, for a later lease (0: no
	// cap).
	PerWebhook int
	InFlight   map[string]int
}

// LeasedDelivery is a delivery taken for sending, with everything needed to
// send it.
type LeasedDelivery struct {
	ID         string
	LeaseToken string
	Attempt    int // the attempt about to be made, from 1
	EventID    string
	EventType  string
	Payload    []byte
	OccurredAt time.Time
	WebhookID  string
	UserID     string
	URL        string
	Secret     string
	// PreviousSecret is set while a rotated-out secret is still in its
	// grace period: deliveries are signed with both.
	PreviousSecret string
	Headers        map[string]string
	RateLimit      int
	TimeoutSeconds int
}

// LeaseDeliveries takes up to p.Limit due deliveries of active webhooks,
// oldest due first, and returns them with their event and webhook.
func (s *Store) LeaseDeliveries(ctx context.Context, p LeaseParams) ([]LeasedDelivery, error) {
	if p.Limit <= 0 {
		return nil, nil
	}
	now := s.Now()
	token := NewID()
	var out []LeasedDelivery
	err := s.inTx(ctx, func(tx *txn) error {
		ids, err := s.pickDue(ctx, tx, p, now)
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		lease := []any{token, s.d.t(now.Add(p.LeaseFor)), s.d.t(now)}
		for lo, hi := range s.runs(len(ids)) {
			if _, err := tx.ExecContext(ctx, `UPDATE deliveries SET lease_token = `+s.d.param(1)+`, next_attempt_at = `+s.d.param(2)+`, updated_at = `+s.d.param(3)+`
				WHERE id IN (`+s.d.params(4, hi-lo)+`)`, slices.Concat(lease, ids[lo:hi])...); err != nil {
				return err
			}
		}
		out = make([]LeasedDelivery, 0, len(ids))
		for lo, hi := range s.runs(len(ids)) {
			if err := s.loadLeased(ctx, tx, ids[lo:hi], token, now, &out); err != nil {
				return err
			}
		}
		// Oldest first, as ids are time-ordered, whatever runs they came in.
		slices.SortFunc(out, func(a, b LeasedDelivery) int { return strings.Compare(a.ID, b.ID) })
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: lease deliveries: %w", err)
	}
	return out, nil
}

// dueWindow is how many of the oldest due deliveries pickDue and NextDueAt
// read before they ask webhook by webhook instead: enough for a full lease
// with some to spare, and no more, since every row read that cannot be
// taken is work (a window of four leases ran 15% slower under a backlog).
func dueWindow(limit int) int { return min(limit+64, 1000) }

// pickDue chooses up to p.Limit due deliveries of active webhooks to lease,
// oldest due first, leaving out p.SkipWebhooks and any past a webhook's
// cap. It reads a bounded window of the oldest due deliveries first, which
// usually holds enough. When that window is full of deliveries it cannot
// take, those of a webhook at its cap or paused with a backlog of
// thousands, reading on would cost a pass over that whole backlog on every
// lease; it asks each active webhook with room and due deliveries for its
// own oldest instead, through the (webhook_id, status, next_attempt_at)
// index.
func (s *Store) pickDue(ctx context.Context, tx *txn, p LeaseParams, now time.Time) ([]any, error) {
	// On PostgreSQL SKIP LOCKED lets several processes lease side by side
	// without waiting on each other's rows; rows read but not taken are
	// unlocked at commit, unchanged.
	lock := ""
	if s.kind == Postgres {
		lock = ` FOR UPDATE OF d SKIP LOCKED`
	}
	skip := make(map[string]bool, len(p.SkipWebhooks))
	for _, id := range p.SkipWebhooks {
		skip[id] = true
	}
	taken := map[string]int{}
	picked := map[string]bool{}
	var ids []any
	// room is how many more of webhook's deliveries this lease may take.
	room := func(webhook string) int {
		left := p.Limit - len(ids)
		if p.PerWebhook > 0 {
			left = min(left, p.PerWebhook-p.InFlight[webhook]-taken[webhook])
		}
		return left
	}
	take := func(id, webhook string) {
		taken[webhook]++
		picked[id] = true
		ids = append(ids, id)
	}

	window := dueWindow(p.Limit)
	rows, err := tx.QueryContext(ctx, `SELECT d.id, d.webhook_id, w.is_active FROM deliveries d JOIN webhooks w ON w.id = d.webhook_id
		WHERE d.status = 'pending' AND d.next_attempt_at <= $1
		ORDER BY d.next_attempt_at LIMIT `+strconv.Itoa(window)+lock, s.d.t(now))
	if err != nil {
		return nil, err
	}
	read := 0
	for rows.Next() {
		read++
		var id, webhook string
		var active bool
		if err := rows.Scan(&id, &webhook, &active); err != nil {
			rows.Close()
			return nil, err
		}
		if active && !skip[webhook] && room(webhook) > 0 {
			take(id, webhook)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(ids) == p.Limit || read < window {
		// Enough, or the window held every due delivery.
		return ids, nil
	}

	// Active webhooks with room and due deliveries, oldest due first.
	all, err := s.activeWebhooksByDue(ctx, tx)
	if err != nil {
		return nil, err
	}
	var webhooks []string
	for _, w := range all {
		if w.due.After(now) {
			break
		}
		if !skip[w.id] && room(w.id) > 0 {
			webhooks = append(webhooks, w.id)
		}
	}
	for _, webhook := range webhooks {
		want := room(webhook)
		if want <= 0 {
			continue
		}
		// Past the ones the window already took.
		rows, err := tx.QueryContext(ctx, `SELECT d.id FROM deliveries d
			WHERE d.webhook_id = $1 AND d.status = 'pending' AND d.next_attempt_at <= $2
			ORDER BY d.next_attempt_at LIMIT $3`+lock, webhook, s.d.t(now), want+taken[webhook])
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, err
			}
			if !picked[id] && room(webhook) > 0 {
				take(id, webhook)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		if len(ids) == p.Limit {
			break
		}
	}
	return ids, nil
}

// loadLeased appends what sending needs of each leased delivery in ids.
func (s *Store) loadLeased(ctx context.Context, tx *txn, ids []any, token string, now time.Time, out *[]LeasedDelivery) error {
	rows, err := tx.QueryContext(ctx, `SELECT d.id, d.attempts, e.id, e.event_type, e.payload, e.occurred_at, w.id, w.user_id, w.url, w.secret,
		w.previous_secret, w.previous_secret_expires_at, w.headers, w.rate_limit, w.timeout_seconds
		FROM deliveries d JOIN events e ON e.id = d.event_id JOIN webhooks w ON w.id = d.webhook_id
		WHERE d.id IN (`+s.d.params(1, len(ids))+`)`, ids...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		l := LeasedDelivery{LeaseToken: token}
		var prev sql.NullString
		var prevExpires *time.Time
		var headers string
		var rateLimit, timeout sql.NullInt64
		if err := rows.Scan(&l.ID, &l.Attempt, &l.EventID, &l.EventType, &l.Payload, scanTime{&l.OccurredAt},
			&l.WebhookID, &l.UserID, &l.URL, &l.Secret, &prev, scanNullTime{&prevExpires}, &headers, &rateLimit, &timeout); err != nil {
			return err
		}
		l.Attempt++
		l.PreviousSecret = Webhook{PreviousSecret: prev.String, PreviousSecretExpiresAt: prevExpires}.SigningPreviousSecret(now)
		l.RateLimit, l.TimeoutSeconds = int(rateLimit.Int64), int(timeout.Int64)
		if err := json.Unmarshal([]byte(headers), &l.Headers); err != nil {
			return fmt.Errorf("decode headers of webhook %s: %w", l.WebhookID, err)
		}
		*out = append(*out, l)
	}
	return rows.Err()
}

// placeholders returns "$first, …" for n parameters.
func placeholders(first, n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "$%d", first+i)
	}
	return b.String()
}

// Completion is the outcome of one leased attempt.
type Completion struct {
	DeliveryID string
	LeaseToken string
	// NextAttemptAt schedules a retry; nil with a failed Log.Status makes
	// the delivery finally failed.
	NextAttemptAt *time.Time
	Log           Log
	// Gone is set when the receiver answered 410 Gone: the webhook is
	// disabled at once.
	Gone bool
}

// CompleteDeliveries records a batch of attempts in one transaction: each
// attempt's log row, the delivery's new state (fenced by its lease token,
// so a lease that expired and was taken over is not overwritten) and the
// webhooks' counters. It reports how many completions still held their
// lease.
func (s *Store) CompleteDeliveries(ctx context.Context, batch []Completion) (int, error) {
	if len(batch) == 0 {
		return 0, nil
	}
	fenced := 0
	err := s.inTx(ctx, func(tx *txn) error {
		fenced = 0
		now := s.Now()
		counters := map[string]*statsDelta{}
		exists, err := s.existingWebhooks(ctx, tx, batch)
		if err != nil {
			return err
		}
		logs := make([]Log, 0, len(batch))
		for _, c := range batch {
			if !exists[c.Log.WebhookID] {
				// Deleted while this attempt was in flight: its logs and
				// deliveries are gone, and so is the place to record it.
				continue
			}
			// The attempt happened even if the lease was lost, so it is
			// logged and counted either way.
			l := c.Log
			l.NextAttemptAt = c.NextAttemptAt
			if l.ID == "" {
				l.ID = logID(now)
			}
			l.CreatedAt = now
			logs = append(logs, l)
			addStats(counters, l)
			if c.Gone {
				counters[l.WebhookID].gone = true
			}
		}
		for lo, hi := range s.runs(len(batch)) {
			n, err := s.updateDeliveries(ctx, tx, batch[lo:hi], now)
			if err != nil {
				return err
			}
			fenced += n
		}
		for lo, hi := range s.runs(len(logs)) {
			if err := s.insertLogs(ctx, tx, logs[lo:hi]); err != nil {
				return err
			}
		}
		if err := s.applyStats(ctx, tx, counters); err != nil {
			return err
		}
		return s.autoDisable(ctx, tx, counters, now)
	})
	if err != nil {
		return 0, fmt.Errorf("store: complete deliveries: %w", err)
	}
	return fenced, nil
}

// existingWebhooks reports which of a batch's webhooks still exist.
func (s *Store) existingWebhooks(ctx context.Context, tx *txn, batch []Completion) (map[string]bool, error) {
	seen := map[string]bool{}
	var ids []any
	for _, c := range batch {
		if !seen[c.Log.WebhookID] {
			seen[c.Log.WebhookID] = true
			ids = append(ids, c.Log.WebhookID)
		}
	}
	exists := make(map[string]bool, len(ids))
	for lo, hi := range s.runs(len(ids)) {
		chunk := ids[lo:hi]
		q := `SELECT id FROM webhooks WHERE id IN (` + s.d.params(1, len(chunk)) + `)`
		if s.kind == Postgres {
			// Hold the rows until commit so a concurrent delete cannot slip
			// in between this check and the log insert.
			q += ` FOR KEY SHARE`
		}
		rows, err := tx.QueryContext(ctx, q, chunk...)
		if err != nil {
			return nil, fmt.Errorf("find webhooks: %w", err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, fmt.Errorf("find webhooks: %w", err)
			}
			exists[id] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("find webhooks: %w", err)
		}
	}
	return exists, nil
}

// completionChunk bounds the rows of one multi-row statement, well inside
// both databases' parameter limits.
const completionChunk = 200

// updateDeliveries moves a chunk of deliveries to their new state in one
// statement, each fenced by its lease token, and returns how many still
// held their lease. One statement per chunk instead of one per delivery
// saves a round trip per delivery on PostgreSQL and a parse per delivery on
// SQLite.
func (s *Store) updateDeliveries(ctx context.Context, tx *txn, chunk []Completion, now time.Time) (int, error) {
	args := make([]any, 0, 5*len(chunk)+1)
	args = append(args, s.d.t(now))
	var values strings.Builder
	for i, c := range chunk {
		status, next := DeliverySuccess, any(nil)
		switch {
		case c.Log.Status == AttemptSuccess:
		case c.NextAttemptAt != nil:
			status, next = DeliveryPending, s.d.t(*c.NextAttemptAt)
		default:
			status = DeliveryFailed
		}
		if i > 0 {
			values.WriteString(", ")
		}
		values.WriteString(s.d.completionRow(len(args) + 1))
		args = append(args, c.DeliveryID, c.LeaseToken, status, c.Log.Attempt, next)
	}
	res, err := tx.ExecContext(ctx, `UPDATE deliveries SET status = v.column3, attempts = v.column4,
		next_attempt_at = COALESCE(v.column5, deliveries.next_attempt_at), lease_token = NULL, updated_at = `+s.d.param(1)+`
		FROM (VALUES `+values.String()+`) AS v
		WHERE deliveries.id = v.column1 AND deliveries.lease_token = v.column2`, args...)
	if err != nil {
		return 0, fmt.Errorf("update deliveries: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("update deliveries: %w", err)
	}
	return int(n), nil
}

// ReleaseDeliveries gives leased deliveries back without counting an
// attempt, making them due now; used at shutdown for sends that did not
// finish.
func (s *Store) ReleaseDeliveries(ctx context.Context, leases []LeasedDelivery) error {
	if len(leases) == 0 {
		return nil
	}
	now := s.Now()
	err := s.inTx(ctx, func(tx *txn) error {
		for _, l := range leases {
			if _, err := tx.ExecContext(ctx, `UPDATE deliveries SET lease_token = NULL, next_attempt_at = $1, updated_at = $1
				WHERE id = $2 AND lease_token = $3 AND status = 'pending'`, s.d.t(now), l.ID, l.LeaseToken); err != nil {
				return err
			}
		}
		return s.notifyWork(ctx, tx)
	})
	if err != nil {
		return fmt.Errorf("store: release deliveries: %w", err)
	}
	return nil
}

// ReleaseAllLeases makes every leased delivery due now. Only safe when no
// other process can hold leases: SQLite, whose file lock this process owns.
func (s *Store) ReleaseAllLeases(ctx context.Context) (int64, error) {
	now := s.Now()
	res, err := s.write.ExecContext(ctx, `UPDATE deliveries SET lease_token = NULL, next_attempt_at = $1, updated_at = $1
		WHERE status = 'pending' AND lease_token IS NOT NULL`, s.d.t(now))
	if err != nil {
		return 0, fmt.Errorf("store: release all leases: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("store: release all leases: %w", err)
	}
	return n, nil
}

// NextDueAt returns when the next pending delivery of an active webhook not
// in skip falls due (possibly in the past), or nil if there is none. Like
// pickDue it reads a bounded window of the oldest pending deliveries, and
// asks webhook by webhook only when that window belongs wholly to skipped
// or paused webhooks.
func (s *Store) NextDueAt(ctx context.Context, skip []string) (*time.Time, error) {
	skipped := make(map[string]bool, len(skip))
	for _, id := range skip {
		skipped[id] = true
	}
	window := dueWindow(0)
	rows, err := s.read.QueryContext(ctx, `SELECT d.next_attempt_at, d.webhook_id, w.is_active FROM deliveries d JOIN webhooks w ON w.id = d.webhook_id
		WHERE d.status = 'pending' ORDER BY d.next_attempt_at LIMIT `+strconv.Itoa(window))
	if err != nil {
		return nil, fmt.Errorf("store: next due delivery: %w", err)
	}
	defer rows.Close()
	read := 0
	for rows.Next() {
		read++
		var t time.Time
		var webhook string
		var active bool
		if err := rows.Scan(scanTime{&t}, &webhook, &active); err != nil {
			return nil, fmt.Errorf("store: next due delivery: %w", err)
		}
		if active && !skipped[webhook] {
			return &t, nil
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: next due delivery: %w", err)
	}
	if read < window {
		return nil, nil
	}
	rows.Close() // before the next query, rather than hold this snapshot
	all, err := s.activeWebhooksByDue(ctx, s.read)
	if err != nil {
		return nil, fmt.Errorf("store: next due delivery: %w", err)
	}
	for _, w := range all {
		if !skipped[w.id] {
			return &w.due, nil
		}
	}
	return nil, nil
}

// webhookDue is an active webhook and when its earliest pending delivery
// falls due.
type webhookDue struct {
	id  string
	due time.Time
}

// activeWebhooksByDue lists the active webhooks that have a pending
// delivery, earliest due first: one probe per webhook of the (webhook_id,
// status, next_attempt_at) index, however long each one's backlog.
func (s *Store) activeWebhooksByDue(ctx context.Context, q queryer) ([]webhookDue, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, due FROM (
			SELECT w.id, (SELECT MIN(d.next_attempt_at) FROM deliveries d WHERE d.webhook_id = w.id AND d.status = 'pending') AS due
			FROM webhooks w WHERE w.is_active = TRUE) AS x
		WHERE due IS NOT NULL ORDER BY due`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []webhookDue
	for rows.Next() {
		var w webhookDue
		if err := rows.Scan(&w.id, scanTime{&w.due}); err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, rows.Err()
}

// TestAttempt is a test send to record: it gets its own event and a
// delivery that is already final, so the log row points at real rows.
type TestAttempt struct {
	UserID     string
	OccurredAt time.Time
	Payload    []byte
	Log        Log // WebhookID, EventType, outcome fields; ids are filled in
}

// RecordTestAttempt stores a test send and returns its log row.
func (s *Store) RecordTestAttempt(ctx context.Context, a TestAttempt) (Log, error) {
	now := s.Now()
	l := a.Log
	if l.ID == "" {
		l.ID = logID(now)
	}
	if l.EventID == "" {
		l.EventID = NewID()
	}
	if l.DeliveryID == "" {
		l.DeliveryID = NewID()
	}
	l.Attempt, l.Test, l.CreatedAt, l.NextAttemptAt = 1, true, now, nil
	status := DeliveryFailed
	if l.Status == AttemptSuccess {
		status = DeliverySuccess
	}
	err := s.inTx(ctx, func(tx *txn) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO events (id, user_id, event_type, payload, occurred_at, delivery_count, created_at)
			VALUES ($1, $2, $3, $4, $5, 1, $6)`, l.EventID, a.UserID, l.EventType, a.Payload, s.d.t(a.OccurredAt), s.d.t(now)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO deliveries (id, event_id, webhook_id, status, attempts, next_attempt_at, created_at, updated_at)
			VALUES ($1, $2, $3, $4, 1, $5, $5, $5)`, l.DeliveryID, l.EventID, l.WebhookID, status, s.d.t(now)); err != nil {
			return err
		}
		if err := s.insertLogs(ctx, tx, []Log{l}); err != nil {
			return err
		}
		counters := map[string]*statsDelta{}
		addStats(counters, l)
		return s.applyStats(ctx, tx, counters)
	})
	if err != nil {
		return Log{}, fmt.Errorf("store: record test attempt: %w", err)
	}
	return l, nil
}

// logColumnCount is the number of columns insertLogs writes per row.
const logColumnCount = 16

// insertLogs writes attempts' rows in one statement; each Log's ID and
// CreatedAt must be set.
func (s *Store) insertLogs(ctx context.Context, tx *txn, logs []Log) error {
	args := make([]any, 0, logColumnCount*len(logs))
	var values strings.Builder
	for i, l := range logs {
		headers, err := json.Marshal(l.RequestHeaders)
		if err != nil {
			return fmt.Errorf("encode request headers: %w", err)
		}
		var code, errText any
		if l.StatusCode != 0 {
			code = l.StatusCode
		}
		if l.Error != "" {
			errText = l.Error
		}
		body := l.RequestBody
		if body == nil {
			body = []byte{}
		}
		if i > 0 {
			values.WriteString(", ")
		}
		values.WriteString("(" + s.d.params(len(args)+1, logColumnCount) + ")")
		args = append(args, l.ID, l.WebhookID, l.EventID, l.DeliveryID, l.EventType, l.Attempt, l.Status,
			code, l.DurationMs, errText, string(headers), body, l.ResponseBody, s.d.t(l.CreatedAt), s.d.nt(l.NextAttemptAt), l.Test)
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO webhook_logs (id, webhook_id, event_id, delivery_id, event_type, attempt, status,
		status_code, duration_ms, error, request_headers, request_body, response_body, created_at, next_attempt_at, test)
		VALUES `+values.String(), args...)
	if err != nil {
		return fmt.Errorf("insert logs: %w", err)
	}
	return nil
}
