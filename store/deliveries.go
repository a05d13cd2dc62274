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

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"
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
	// PerOwner caps how many deliveries of one owner's webhooks may be in
	// flight while another owner has due deliveries its webhooks' caps let
	// go now; OwnerInFlight says how many each owner (user id) has already
	// (0: no cap). Otherwise an owner may go past it, but never into the
	// last PerOwner of FreeWorkers, the workers free for this lease (0:
	// Limit), which are kept for whichever owner's deliveries fall due
	// next.
	PerOwner      int
	OwnerInFlight map[string]int
	FreeWorkers   int
	// PaceHorizon, when set, bounds what one lease takes of a rate-limited
	// webhook to what its rate allows within this span, at least one: the
	// caller paces the sends and leases that webhook again only when its
	// next send is permitted.
	PaceHorizon time.Duration
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
	TenantID   string
	URL        string
	Secret     string
	// PreviousSecret is set while a rotated-out secret is still in its
	// grace period: deliveries are signed with both.
	PreviousSecret string
	Headers        map[string]string
	RateLimit      int
	TimeoutSeconds int
	// Test marks the delivery of a test send, redelivered: its attempt is
	// logged as a test, made once, and a 410 answer to it does not disable
	// the webhook.
	Test bool
	// Ordered marks a delivery to a FIFO webhook, of OrderingKey: the next
	// of its key waits until it succeeds or fails for good.
	Ordered     bool
	OrderingKey string
	// LeaseExpiresAt is when the lease ends, by the store's clock: the
	// delivery is due again for anyone then, so its outcome must be
	// recorded before it to keep it from being sent twice.
	LeaseExpiresAt time.Time
}

// LeaseDeliveries takes up to p.Limit due deliveries of active webhooks,
// oldest due first, and returns them with their event and webhook.
func (s *Store) LeaseDeliveries(ctx context.Context, p LeaseParams) ([]LeasedDelivery, error) {
	l, err := s.LeaseDue(ctx, p)
	return l.Deliveries, err
}

// Lease is what LeaseDue took, and what it left out.
type Lease struct {
	Deliveries []LeasedDelivery
	// OwnersAtCap are the owners with due deliveries this lease left for
	// their owner's cap: until one of their sends ends, or another owner's
	// due deliveries are gone, they can take no more.
	OwnersAtCap []string
}

// LeaseDue is LeaseDeliveries that also says which owners were held to
// their cap, so the caller need not wait for their due deliveries.
func (s *Store) LeaseDue(ctx context.Context, p LeaseParams) (Lease, error) {
	if p.Limit <= 0 {
		return Lease{}, nil
	}
	if s.d.kind == Postgres {
		return s.leasePipelined(ctx, p)
	}
	now := s.Now()
	token := NewID()
	var out []LeasedDelivery
	var capped []string
	err := s.inTx(ctx, func(tx *txn) error {
		ids, atCap, err := s.pickDue(ctx, tx, p, now)
		if err != nil {
			return err
		}
		capped = atCap
		if len(ids) == 0 {
			return nil
		}
		for lo, hi := range s.runs(len(ids)) {
			a := s.d.args(3 + hi - lo)
			if _, err := tx.ExecContext(ctx, `UPDATE deliveries SET lease_token = `+a.add(token)+`, next_attempt_at = `+a.add(s.d.t(now.Add(p.LeaseFor)))+`, updated_at = `+a.add(s.d.t(now))+`
				WHERE id IN (`+a.list(ids[lo:hi]...)+`)`, a.vals...); err != nil {
				return err
			}
		}
		out = make([]LeasedDelivery, 0, len(ids))
		for lo, hi := range s.runs(len(ids)) {
			if err := s.loadLeased(ctx, tx, ids[lo:hi], token, now, &out); err != nil {
				return err
			}
		}
		for i := range out {
			out[i].LeaseExpiresAt = now.Add(p.LeaseFor)
		}
		// Oldest first, as ids are time-ordered, whatever runs they came in.
		slices.SortFunc(out, func(a, b LeasedDelivery) int { return strings.Compare(a.ID, b.ID) })
		return nil
	})
	if err != nil {
		return Lease{}, fmt.Errorf("store: lease deliveries: %w", err)
	}
	return Lease{Deliveries: out, OwnersAtCap: capped}, nil
}

// leasePipelined is LeaseDue on PostgreSQL in three round trips where it
// took five: pickDue sends its plan settings and its window's read in one
// batch (see picker.readWindow), and one UPDATE … RETURNING both leases
// the picked deliveries and returns what sending them needs, where an
// UPDATE was followed by loadLeased's SELECT; then the commit. Its text is
// the same whatever the number of deliveries (an array, not an IN list).
func (s *Store) leasePipelined(ctx context.Context, p LeaseParams) (Lease, error) {
	now := s.Now()
	token := NewID()
	var out []LeasedDelivery
	var capped []string
	err := s.inPipedTx(ctx, func(tx *txn) error {
		ids, atCap, err := s.pickDue(ctx, tx, p, now)
		if err != nil {
			return err
		}
		capped = atCap
		if len(ids) == 0 {
			return nil
		}
		picked := make([]string, len(ids))
		for i, id := range ids {
			picked[i] = id.(string)
		}
		rows, err := tx.QueryContext(ctx, leaseByIDsQuery, token, now.Add(p.LeaseFor).UTC(), now.UTC(), picked)
		if err != nil {
			return err
		}
		if out, err = collect(rows, func(r rowScanner) (LeasedDelivery, error) { return scanLeased(r, token, now) }); err != nil {
			return err
		}
		for i := range out {
			out[i].LeaseExpiresAt = now.Add(p.LeaseFor)
		}
		// Oldest first, as ids are time-ordered.
		slices.SortFunc(out, func(a, b LeasedDelivery) int { return strings.Compare(a.ID, b.ID) })
		return nil
	})
	if err != nil {
		return Lease{}, fmt.Errorf("store: lease deliveries: %w", err)
	}
	return Lease{Deliveries: out, OwnersAtCap: capped}, nil
}

// leaseByIDsQuery leases the picked deliveries ($4) on PostgreSQL and
// returns what sending them needs. The ids drive the update, each found
// through the primary key: the lease's settings (queueLeaseSettings) leave
// PostgreSQL no join but a nested loop. Written "d.id = ANY($4)", it was
// planned, on a table never analysed, as a scan of every delivery
// comparing each with every id picked: a 10,000-webhook fan-out's leases
// read up to 10,000 rows for ~100 each (1–5 ms a lease, 242 ms of the
// database's time in all).
const leaseByIDsQuery = `UPDATE deliveries d SET lease_token = $1, next_attempt_at = $2, updated_at = $3
	FROM unnest($4::text[]) AS p (id), events e, webhooks w
	WHERE d.id = p.id AND e.id = d.event_id AND w.id = d.webhook_id
	RETURNING ` + leasedColumns

// lockWebhooksQuery holds the webhooks of $1 that still exist (FOR KEY
// SHARE) for a completion on PostgreSQL. Joined to the ids, with hash and
// merge joins off (joinByKey), each is found through the primary key; "id
// = ANY($1)" read every webhook of a table never analysed (10,000 for each
// batch of a fan-out's outcomes).
const lockWebhooksQuery = `SELECT w.id FROM unnest($1::text[]) AS p (id) JOIN webhooks w ON w.id = p.id FOR KEY SHARE OF w`

// queueLeaseSettings queues the settings of a pipelined lease's
// transaction: walkIndexesInOrder's plan settings, and a commit that does
// not wait for the write-ahead log to reach the disk. A lease is a claim
// that lapses on its own, so losing it to a crash of the database server
// costs a second send of its deliveries, the duplicate a crash may cause
// anyway, and never a delivery: they stay pending until a completion
// commits, and a completion waits for the disk, which writes the log in
// order, so the lease before it is durable by then. The wait was most of a
// lease's time on a busy machine (one flush each for the lease and the
// completion of every batch of deliveries).
func queueLeaseSettings(b *pgx.Batch) {
	b.Queue(walkIndexesInOrderQuery)
	b.Queue(`SELECT set_config('synchronous_commit', 'off', true)`)
}

// dueWindow is how many of the oldest due deliveries pickDue and NextDueAt
// read before they ask webhook by webhook instead: enough for a full lease
// with some to spare, and no more, since every row read that cannot be
// taken is work (a window of four leases ran 15% slower under a backlog).
func dueWindow(limit int) int { return min(limit+64, 1000) }

// paceBudget is how many deliveries of a webhook limited to rate a second
// one lease may take: as many as the rate allows within horizon, and at
// least one. The dispatcher leases a paced webhook again only when its
// next permitted send time has come, so no leased delivery waits long for
// its turn while it holds a worker.
func paceBudget(rate int, horizon time.Duration) int {
	return max(1, int(time.Duration(rate)*horizon/time.Second))
}

// dueWindowQuery reads the oldest due deliveries of the lease window,
// with their webhook, through the due index in due order: the walk stops at
// the window, however long the backlog behind it. Rows another process
// holds are skipped on PostgreSQL. Its arguments are the time ($1) and the
// window ($2): bound, not written into the text, since the window follows
// the free workers, and a text for each of its values was parsed and
// prepared anew on SQLite (69 texts in a 10,000-webhook fan-out, filling
// the writer's statement cache with texts used once).
func (s *Store) dueWindowQuery() string {
	return `SELECT d.id, d.webhook_id, w.tenant_id, w.is_active, w.rate_limit FROM deliveries d JOIN webhooks w ON w.id = d.webhook_id
		WHERE d.status = 'pending' AND d.next_attempt_at <= $1
		ORDER BY d.next_attempt_at LIMIT $2` + s.d.skipLocked()
}

// leasedColumns is what loadLeased reads of a leased delivery, d, its
// event, e, and its webhook, w, in scanLeased's order.
const leasedColumns = `d.id, d.attempts, e.id, e.event_type, e.payload, e.occurred_at, w.id, w.tenant_id, w.url, w.secret,
		w.previous_secret, w.previous_secret_expires_at, w.headers, w.rate_limit, w.timeout_seconds, d.test, d.ordering_key`

// loadLeased appends what sending needs of each leased delivery in ids.
func (s *Store) loadLeased(ctx context.Context, tx *txn, ids []any, token string, now time.Time, out *[]LeasedDelivery) error {
	a := s.d.args(len(ids))
	rows, err := tx.QueryContext(ctx, `SELECT `+leasedColumns+`
		FROM deliveries d JOIN events e ON e.id = d.event_id JOIN webhooks w ON w.id = d.webhook_id
		WHERE d.id IN (`+a.list(ids...)+`)`, a.vals...)
	if err != nil {
		return err
	}
	leased, err := collect(rows, func(r rowScanner) (LeasedDelivery, error) { return scanLeased(r, token, now) })
	*out = append(*out, leased...)
	return err
}

// scanLeased reads a row of leasedColumns.
func scanLeased(r rowScanner, token string, now time.Time) (LeasedDelivery, error) {
	l := LeasedDelivery{LeaseToken: token}
	var prev sql.NullString
	var prevExpires *time.Time
	var headers string
	var rateLimit, timeout sql.NullInt64
	var key sql.NullString
	if err := r.Scan(&l.ID, &l.Attempt, &l.EventID, &l.EventType, &l.Payload, scanTime{&l.OccurredAt},
		&l.WebhookID, &l.TenantID, &l.URL, &l.Secret, &prev, scanNullTime{&prevExpires}, &headers, &rateLimit, &timeout, &l.Test, &key); err != nil {
		return l, err
	}
	l.Ordered, l.OrderingKey = key.Valid, key.String
	l.Attempt++
	l.PreviousSecret = Webhook{PreviousSecret: prev.String, PreviousSecretExpiresAt: prevExpires}.SigningPreviousSecret(now)
	l.RateLimit, l.TimeoutSeconds = int(rateLimit.Int64), int(timeout.Int64)
	if err := json.Unmarshal([]byte(headers), &l.Headers); err != nil {
		return l, fmt.Errorf("decode headers of webhook %s: %w", l.WebhookID, err)
	}
	return l, nil
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
	if s.d.kind == Postgres {
		return s.completePipelined(ctx, batch)
	}
	fenced := 0
	err := s.inTx(ctx, func(tx *txn) error {
		fenced = 0
		now := s.Now()
		if err := s.d.joinByKey(ctx, tx); err != nil {
			return err
		}
		exists, err := s.existingWebhooks(ctx, tx, batch)
		if err != nil {
			return err
		}
		var finished []finishedKey
		logs, counters := completionLogs(batch, exists, now)
		for lo, hi := range s.runs(len(batch)) {
			n, err := s.updateDeliveries(ctx, tx, batch[lo:hi], now, &finished)
			if err != nil {
				return err
			}
			fenced += n
		}
		if len(finished) > 0 {
			// The ordered webhooks whose deliveries finished are locked
			// last, in the order a publish locks them (see sequence), so
			// that letting a key's next delivery go and adding one to the
			// key take turns, and a publish waits for no more of this
			// transaction than the promotion and the commit. A publish
			// holding a webhook waits for nothing this transaction holds,
			// so the two cannot deadlock.
			if err := s.releaseFinishedKeys(ctx, tx, finished, now); err != nil {
				return err
			}
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

// completePipelined is CompleteDeliveries on PostgreSQL: the same
// statements in the same order, taking the same locks, but sent in two
// pipelined batches, one round trip each, instead of one round trip a
// statement (nine a batch with BEGIN and COMMIT, four now). The first
// batch holds the webhooks (FOR KEY SHARE) and moves the deliveries on,
// fenced by their lease tokens; what it returns says which attempts are
// logged (their webhook still exists) and which ordered keys finished.
// Those keys' next deliveries are let go in between, as before: the
// ordered webhooks are locked before the stats rows, the order enabling a
// webhook takes them in. The second batch writes the log rows, locks the
// stats rows in id order and adds the counters, which return each
// webhook's failure streak, so autoDisable reads none. Every statement
// has one text whatever the batch's size (arrays, not VALUES lists), so
// pgx prepares each once a connection.
func (s *Store) completePipelined(ctx context.Context, batch []Completion) (int, error) {
	fenced := 0
	err := s.inPipedTx(ctx, func(tx *txn) error {
		fenced = 0
		now := s.Now()
		hooks := completionWebhooks(batch)
		exists := make(map[string]bool, len(hooks))
		var finished []finishedKey
		var first pgx.Batch
		first.Queue(`SELECT set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true)`) // see joinByKey
		// Held until commit so that a concurrent delete cannot slip in
		// between this check and the log insert.
		first.Queue(lockWebhooksQuery, hooks).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var id string
				if err := rows.Scan(&id); err != nil {
					return fmt.Errorf("find webhooks: %w", err)
				}
				exists[id] = true
			}
			return rows.Err()
		})
		first.Queue(updateDeliveriesFromArraysQuery, deliveryArrays(batch, now)...).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var webhook, status string
				var key pgtype.Text
				if err := rows.Scan(&webhook, &key, &status); err != nil {
					return fmt.Errorf("update deliveries: %w", err)
				}
				fenced++
				if key.Valid && status != DeliveryPending {
					finished = append(finished, finishedKey{webhook: webhook, key: key.String})
				}
			}
			return rows.Err()
		})
		if err := tx.send(ctx, &first); err != nil {
			return fmt.Errorf("update deliveries: %w", err)
		}
		logs, counters := completionLogs(batch, exists, now)
		if len(finished) > 0 {
			// As in CompleteDeliveries.
			if err := s.releaseFinishedKeys(ctx, tx, finished, now); err != nil {
				return err
			}
		}
		if len(logs) == 0 {
			return nil
		}
		var second pgx.Batch
		args, err := logArrays(logs)
		if err != nil {
			return err
		}
		// The foreign-key checks of the log rows and of the kept counts'
		// new rows keep their plans, as a publish's inserts do
		// (insertChecksCached): under the connection's
		// force_custom_plan PostgreSQL planned each check again for every
		// row. A fan-out's completion inserts two count rows per webhook
		// (minute and hour spans), all new, and planning their checks
		// made the counts' upsert the costliest statement of the
		// transaction (about 18 ms of a 448-outcome batch's 50). The
		// statements in between are array statements whose one plan does
		// not depend on table sizes. In the pipeline the two settings cost
		// no round trip.
		second.Queue(`SELECT set_config('plan_cache_mode', 'auto', true)`)
		second.Queue(insertLogsFromArraysQuery, args...)
		ids := make([]string, 0, len(counters))
		for id := range counters {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		// Locked in id order first, as in lockStats.
		second.Queue(lockStatsQuery, ids)
		second.Queue(updateStatsFromArraysQuery, statsArrays(ids, counters)...).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var id string
				var st failureStreak
				var since pgtype.Timestamptz
				if err := rows.Scan(&id, &st.failures, &since); err != nil {
					return fmt.Errorf("update stats: %w", err)
				}
				if since.Valid {
					t := since.Time.UTC()
					st.since = &t
				}
				if d := counters[id]; d != nil {
					d.streak = &st
				}
			}
			return rows.Err()
		})
		second.Queue(s.upsertCountsFromArraysQuery(), countArrays(countRows(ids, counters))...)
		second.Queue(`RESET plan_cache_mode`)
		if err := tx.send(ctx, &second); err != nil {
			return fmt.Errorf("insert logs and stats: %w", err)
		}
		return s.autoDisable(ctx, tx, counters, now)
	})
	if err != nil {
		return 0, fmt.Errorf("store: complete deliveries: %w", err)
	}
	return fenced, nil
}

// completionLogs returns the log row of each completion whose webhook
// still exists, stamped now, and the stats they add up to. A webhook
// deleted while its attempt was in flight has lost its logs and
// deliveries, and with them the place to record it; any other attempt
// happened even if its lease was lost, so it is logged and counted
// either way.
func completionLogs(batch []Completion, exists map[string]bool, now time.Time) ([]Log, map[string]*statsDelta) {
	counters := map[string]*statsDelta{}
	logs := make([]Log, 0, len(batch))
	for _, c := range batch {
		if !exists[c.Log.WebhookID] {
			continue
		}
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
	return logs, counters
}

// completionWebhooks returns the webhooks of batch, each once, in the
// order they first appear.
func completionWebhooks(batch []Completion) []string {
	seen := make(map[string]bool, len(batch))
	hooks := make([]string, 0, len(batch))
	for _, c := range batch {
		if !seen[c.Log.WebhookID] {
			seen[c.Log.WebhookID] = true
			hooks = append(hooks, c.Log.WebhookID)
		}
	}
	return hooks
}

// releaseFinishedKeys lets the next delivery of each ordered key whose
// delivery finished go, locking the keys' webhooks first (see
// CompleteDeliveries for the order), and wakes the dispatchers when one
// did.
func (s *Store) releaseFinishedKeys(ctx context.Context, tx *txn, finished []finishedKey, now time.Time) error {
	if err := s.lockOrdered(ctx, tx, finishedWebhooks(finished)); err != nil {
		return err
	}
	n, err := s.promoteNext(ctx, tx, finished, now)
	if err != nil || n == 0 {
		return err
	}
	return s.notifyWork(ctx, tx)
}

// deliveryStatus is the state a completion moves its delivery to:
// succeeded, pending again for a retry (at NextAttemptAt), or failed for
// good.
func (c Completion) deliveryStatus() string {
	switch {
	case c.Log.Status == AttemptSuccess:
		return DeliverySuccess
	case c.NextAttemptAt != nil:
		return DeliveryPending
	}
	return DeliveryFailed
}

// updateDeliveriesFromArraysQuery is updateDeliveriesQuery on PostgreSQL,
// the completions as the arrays of deliveryArrays.
const updateDeliveriesFromArraysQuery = `UPDATE deliveries SET status = v.status, attempts = v.attempts,
		next_attempt_at = COALESCE(v.next, deliveries.next_attempt_at), lease_token = NULL, updated_at = $1
		FROM unnest($2::text[], $3::text[], $4::text[], $5::integer[], $6::timestamptz[]) AS v(id, token, status, attempts, next)
		WHERE deliveries.id = v.id AND deliveries.lease_token = v.token
		RETURNING deliveries.webhook_id, deliveries.ordering_key, deliveries.status`

// deliveryArrays is the arguments of updateDeliveriesFromArraysQuery: the
// time, then each completion's delivery, lease token, new status, attempts
// and next attempt (NULL: unchanged), as updateDeliveriesQuery decides them.
func deliveryArrays(batch []Completion, now time.Time) []any {
	n := len(batch)
	ids, tokens, statuses := make([]string, n), make([]string, n), make([]string, n)
	attempts := make([]int64, n)
	next := make([]pgtype.Timestamptz, n)
	for i, c := range batch {
		status := c.deliveryStatus()
		if status == DeliveryPending {
			next[i] = pgTime(c.NextAttemptAt)
		}
		ids[i], tokens[i], statuses[i], attempts[i] = c.DeliveryID, c.LeaseToken, status, int64(c.Log.Attempt)
	}
	return []any{now.UTC(), ids, tokens, statuses, attempts, next}
}

// joinByKey makes PostgreSQL join the rest of tx's statements to a VALUES
// list row by row through the table's key (a nested loop), as the
// completion's UPDATE … FROM (VALUES …) statements want: their lists hold
// a batch's keys, and without this PostgreSQL hashed the list and read the
// whole table for them, a 10,000-row deliveries or webhook_stats table
// in 6–9 ms a statement instead of 1–2 ms, and a backlog's table in
// proportion (TestCompletionJoinsByKey). SQLite loops over the list on its
// own.
func (d dialect) joinByKey(ctx context.Context, q queryer) error {
	if d.kind != Postgres {
		return nil
	}
	rows, err := q.QueryContext(ctx, `SELECT set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true)`)
	if err != nil {
		return fmt.Errorf("plan joins by key: %w", err)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("plan joins by key: %w", err)
	}
	return nil
}

// finishedWebhooks lists the webhooks of finished keys, each once.
func finishedWebhooks(keys []finishedKey) []string {
	var out []string
	for _, k := range keys {
		if !slices.Contains(out, k.webhook) {
			out = append(out, k.webhook)
		}
	}
	return out
}

// existingWebhooks reports which of a batch's webhooks still exist.
func (s *Store) existingWebhooks(ctx context.Context, tx *txn, batch []Completion) (map[string]bool, error) {
	hooks := completionWebhooks(batch)
	ids := make([]any, len(hooks))
	for i, h := range hooks {
		ids[i] = h
	}
	exists := make(map[string]bool, len(ids))
	for lo, hi := range s.runs(len(ids)) {
		chunk := ids[lo:hi]
		// Hold the rows until commit so a concurrent delete cannot slip in
		// between this check and the log insert.
		a := s.d.args(len(chunk))
		q := `SELECT id FROM webhooks WHERE id IN (` + a.list(chunk...) + `)` + s.d.forKeyShare()
		rows, err := tx.QueryContext(ctx, q, a.vals...)
		if err != nil {
			return nil, fmt.Errorf("find webhooks: %w", err)
		}
		found, err := collect(rows, scanString)
		if err != nil {
			return nil, fmt.Errorf("find webhooks: %w", err)
		}
		for _, id := range found {
			exists[id] = true
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
// SQLite. The ordered deliveries it finished (succeeded, or failed for
// good, under their lease) have their keys added to finished: the next
// of each key may go.
func (s *Store) updateDeliveries(ctx context.Context, tx *txn, chunk []Completion, now time.Time, finished *[]finishedKey) (int, error) {
	q, args := s.updateDeliveriesQuery(chunk, now)
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return 0, fmt.Errorf("update deliveries: %w", err)
	}
	type updated struct {
		webhook, status string
		key             sql.NullString
	}
	done, err := collect(rows, func(r rowScanner) (updated, error) {
		var u updated
		err := r.Scan(&u.webhook, &u.key, &u.status)
		return u, err
	})
	if err != nil {
		return 0, fmt.Errorf("update deliveries: %w", err)
	}
	for _, u := range done {
		if u.key.Valid && u.status != DeliveryPending {
			*finished = append(*finished, finishedKey{webhook: u.webhook, key: u.key.String})
		}
	}
	return len(done), nil
}

// updateDeliveriesQuery is updateDeliveries' statement and its arguments.
func (s *Store) updateDeliveriesQuery(chunk []Completion, now time.Time) (string, []any) {
	a := s.d.args(5*len(chunk) + 1)
	updatedAt := a.add(s.d.t(now))
	values := make([]string, 0, len(chunk))
	for _, c := range chunk {
		status, next := c.deliveryStatus(), any(nil)
		if status == DeliveryPending {
			next = s.d.t(*c.NextAttemptAt)
		}
		// PostgreSQL needs the types spelled out, because a VALUES list in
		// FROM has no target columns to take them from.
		values = append(values, "("+a.typed(c.DeliveryID, "text")+", "+a.typed(c.LeaseToken, "text")+", "+a.typed(status, "text")+", "+
			a.typed(c.Log.Attempt, "int")+", "+a.typed(next, "timestamptz")+")")
	}
	return `UPDATE deliveries SET status = v.column3, attempts = v.column4,
		next_attempt_at = COALESCE(v.column5, deliveries.next_attempt_at), lease_token = NULL, updated_at = ` + updatedAt + `
		FROM (VALUES ` + strings.Join(values, ", ") + `) AS v
		WHERE deliveries.id = v.column1 AND deliveries.lease_token = v.column2
		RETURNING deliveries.webhook_id, deliveries.ordering_key, deliveries.status`, a.vals
}

// ReleaseDeliveries gives leased deliveries back without counting an
// attempt, making them due again: a first attempt as of its publish, a
// retry now. Used at shutdown for sends that did not finish, and for
// leased or handed deliveries the dispatcher could not start.
func (s *Store) ReleaseDeliveries(ctx context.Context, leases []LeasedDelivery) error {
	if len(leases) == 0 {
		return nil
	}
	now := s.Now()
	err := s.inTx(ctx, func(tx *txn) error {
		for _, l := range leases {
			// A first attempt is due again when it was published, so
			// that it keeps its place before deliveries published while
			// it was leased; a retry is due now.
			if _, err := tx.ExecContext(ctx, `UPDATE deliveries SET lease_token = NULL,
				next_attempt_at = CASE WHEN attempts = 0 THEN created_at ELSE $1 END, updated_at = $1
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
// in skip, and not of an owner in skipOwners, falls due (possibly in the
// past), or nil if there is none. Like pickDue it reads a bounded window of
// the oldest pending deliveries, and asks webhook by webhook only when that
// window belongs wholly to skipped or paused webhooks.
func (s *Store) NextDueAt(ctx context.Context, skip []string, skipOwners ...string) (*time.Time, error) {
	skipped := make(map[string]bool, len(skip))
	for _, id := range skip {
		skipped[id] = true
	}
	ownerSkipped := make(map[string]bool, len(skipOwners))
	for _, id := range skipOwners {
		ownerSkipped[id] = true
	}
	if s.d.kind == Postgres {
		t, full, err := s.firstDueInWindowPipelined(ctx, skipped, ownerSkipped)
		if err != nil {
			return nil, fmt.Errorf("store: next due delivery: %w", err)
		}
		if t != nil || !full {
			return t, nil
		}
		// A full window of deliveries that cannot go: on webhook by
		// webhook, as below.
		if t, err = s.nextDueOfWebhooksPipelined(ctx, skipped, ownerSkipped, skipOwners); err != nil {
			return nil, fmt.Errorf("store: next due delivery: %w", err)
		}
		return t, nil
	}
	// Read as the lease reads: in due order, stopping at the window.
	var next *time.Time
	err := s.d.readInIndexOrder(ctx, s.read, func(q queryer) error {
		t, full, err := s.firstDueInWindow(ctx, q, skipped, ownerSkipped)
		if err != nil || t != nil || !full {
			next = t
			return err
		}
		all, err := s.activeWebhooksByDue(ctx, q, skipOwners...)
		next = earliestGoing(all, skipped, ownerSkipped)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: next due delivery: %w", err)
	}
	return next, nil
}

// readInIndexOrderPipelined is readInIndexOrder on PostgreSQL in one round
// trip instead of four: the read-only transaction's BEGIN, the plan
// settings, the statements queue adds and the COMMIT go in one pipelined
// batch on a connection of the reader pool. A batch that fails leaves its
// transaction open; the pool then drops the connection rather than reuse
// it (stdlib.Conn.ResetSession).
func (s *Store) readInIndexOrderPipelined(ctx context.Context, queue func(b *pgx.Batch)) error {
	conn, err := s.read.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(driverConn any) error {
		c, ok := driverConn.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("read in index order: %T is not a pgx connection", driverConn)
		}
		var b pgx.Batch
		b.Queue(`BEGIN READ ONLY`)
		b.Queue(walkIndexesInOrderQuery)
		queue(&b)
		b.Queue(`COMMIT`)
		return c.Conn().SendBatch(ctx, &b).Close()
	})
}

// firstDueInWindowPipelined is firstDueInWindow on PostgreSQL in one
// round trip (readInIndexOrderPipelined). The dispatcher asks every time a
// lease takes fewer deliveries than it has room for, which with events
// arriving one at a time is after nearly every lease.
func (s *Store) firstDueInWindowPipelined(ctx context.Context, skipped, ownerSkipped map[string]bool) (*time.Time, bool, error) {
	window := dueWindow(0)
	var next *time.Time
	full := false
	err := s.readInIndexOrderPipelined(ctx, func(b *pgx.Batch) {
		b.Queue(`SELECT d.next_attempt_at, d.webhook_id, w.tenant_id, w.is_active FROM deliveries d JOIN webhooks w ON w.id = d.webhook_id
			WHERE d.status = 'pending' ORDER BY d.next_attempt_at LIMIT ` + strconv.Itoa(window)).Query(func(rows pgx.Rows) error {
			read := 0
			for rows.Next() {
				read++
				var t time.Time
				var webhook, owner string
				var active bool
				if err := rows.Scan(&t, &webhook, &owner, &active); err != nil {
					return err
				}
				t = t.UTC()
				if isHeld(t) {
					return nil // as in firstDueInWindow
				}
				if active && !skipped[webhook] && !ownerSkipped[owner] {
					next = &t
					return nil
				}
			}
			full = read == window
			return rows.Err()
		})
	})
	if err != nil {
		return nil, false, err
	}
	return next, full, nil
}

// nextDueOfWebhooksPipelined is the second half of NextDueAt on
// PostgreSQL, for when the window held only deliveries that cannot go:
// the earliest due time of an active webhook not skipped, webhook by
// webhook, in one round trip. The window is not read again: after a large
// fan-out's lease it is full of the owner's deliveries whenever the owner
// is at its cap, and reading it twice, in a transaction of four round
// trips, made NextDueAt cost more than the lease before it.
func (s *Store) nextDueOfWebhooksPipelined(ctx context.Context, skipped, ownerSkipped map[string]bool, skipOwners []string) (*time.Time, error) {
	except := ""
	var args []any
	if len(skipOwners) > 0 {
		except = ` AND u.id <> ALL($1::text[])`
		args = append(args, skipOwners)
	}
	var all []webhookDue
	err := s.readInIndexOrderPipelined(ctx, func(b *pgx.Batch) {
		b.Queue(s.d.activeWebhooksByDueQuery(except), args...).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var w webhookDue
				var rate pgtype.Int8
				if err := rows.Scan(&w.id, &w.owner, &rate, &w.due); err != nil {
					return err
				}
				w.rate, w.due = int(rate.Int64), w.due.UTC()
				all = append(all, w)
			}
			return rows.Err()
		})
	})
	s.probedWebhooks.Add(int64(len(all)))
	if err != nil {
		return nil, err
	}
	return earliestGoing(all, skipped, ownerSkipped), nil
}

// earliestGoing returns the due time of the first of ws (active webhooks
// with pending deliveries, earliest due first) that is neither skipped nor
// of a skipped owner, or nil when there is none or only ordered deliveries
// waiting their turn remain, due when one before them finishes.
func earliestGoing(ws []webhookDue, skipped, ownerSkipped map[string]bool) *time.Time {
	for _, w := range ws {
		if isHeld(w.due) {
			return nil
		}
		if !skipped[w.id] && !ownerSkipped[w.owner] {
			return &w.due
		}
	}
	return nil
}

// firstDueInWindow returns when the first pending delivery of the oldest
// window falls due whose webhook is active and not skipped, and whether
// the window was full, so that more may lie behind it. It closes its rows
// before returning, rather than hold their snapshot through the next query.
func (s *Store) firstDueInWindow(ctx context.Context, q queryer, skipped, ownerSkipped map[string]bool) (*time.Time, bool, error) {
	window := dueWindow(0)
	rows, err := q.QueryContext(ctx, `SELECT d.next_attempt_at, d.webhook_id, w.tenant_id, w.is_active FROM deliveries d JOIN webhooks w ON w.id = d.webhook_id
		WHERE d.status = 'pending' ORDER BY d.next_attempt_at LIMIT `+strconv.Itoa(window))
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	read := 0
	for rows.Next() {
		read++
		var t time.Time
		var webhook, owner string
		var active bool
		if err := rows.Scan(scanTime{&t}, &webhook, &owner, &active); err != nil {
			return nil, false, err
		}
		if isHeld(t) {
			// Ordered deliveries waiting their turn, and only they, from
			// here on: none falls due until one before it finishes.
			return nil, false, nil
		}
		if active && !skipped[webhook] && !ownerSkipped[owner] {
			return &t, false, nil
		}
	}
	return nil, read == window, rows.Err()
}

// webhookDue is an active webhook, its owner and rate limit, and when its
// earliest pending delivery falls due.
type webhookDue struct {
	id, owner string
	rate      int
	due       time.Time
}

// activeWebhooksByDueQuery lists the active webhooks with pending
// deliveries, earliest due first; except is a further condition on the
// owner, u. It reads owner by owner (dialect.activeWebhooksOfOwners), so
// that an owner left out costs nothing however many webhooks it has:
// filtering webhook rows by owner instead read all 10,000 of a large
// fan-out's on every lease, two thirds of the lease's time.
func (d dialect) activeWebhooksByDueQuery(except string) string {
	return `SELECT id, tenant_id, rate_limit, due FROM (
			SELECT w.id, w.tenant_id, w.rate_limit, (SELECT MIN(d.next_attempt_at) FROM deliveries d WHERE d.webhook_id = w.id AND d.status = 'pending') AS due
			FROM ` + d.activeWebhooksOfOwners() + ` WHERE TRUE` + except + `) AS x
		WHERE due IS NOT NULL ORDER BY due`
}

// activeWebhooksByDue lists the active webhooks that have a pending
// delivery, earliest due first, leaving out those of exceptOwners: one
// probe per webhook of the (webhook_id, status, next_attempt_at) index,
// however long each one's backlog. The owners are left out before the
// probes, so an owner that can take no more (one with 10,000 webhooks
// after a large fan-out) costs a pass over its webhook rows, not 10,000
// probes, on every lease.
func (s *Store) activeWebhooksByDue(ctx context.Context, q queryer, exceptOwners ...string) ([]webhookDue, error) {
	except := ""
	a := s.d.args(len(exceptOwners))
	if len(exceptOwners) > 0 {
		except = ` AND u.id NOT IN (` + listOf(a, exceptOwners) + `)`
	}
	rows, err := q.QueryContext(ctx, s.d.activeWebhooksByDueQuery(except), a.vals...)
	if err != nil {
		return nil, err
	}
	out, err := collect(rows, func(r rowScanner) (webhookDue, error) {
		var w webhookDue
		var rate sql.NullInt64
		err := r.Scan(&w.id, &w.owner, &rate, scanTime{&w.due})
		w.rate = int(rate.Int64)
		return w, err
	})
	s.probedWebhooks.Add(int64(len(out)))
	return out, err
}

// TestAttempt is a test send to record: it gets its own event and a
// delivery that is already final, so the log row points at real rows.
type TestAttempt struct {
	TenantID   string
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
		if _, err := tx.ExecContext(ctx, `INSERT INTO events (id, tenant_id, event_type, payload, occurred_at, delivery_count, created_at)
			VALUES ($1, $2, $3, $4, $5, 1, $6)`, l.EventID, a.TenantID, l.EventType, a.Payload, s.d.t(a.OccurredAt), s.d.t(now)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO deliveries (id, event_id, webhook_id, status, attempts, next_attempt_at, created_at, updated_at, test)
			VALUES ($1, $2, $3, $4, 1, $5, $5, $5, TRUE)`, l.DeliveryID, l.EventID, l.WebhookID, status, s.d.t(now)); err != nil {
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
	if s.d.kind == Postgres {
		return s.insertLogsFromArrays(ctx, tx, logs)
	}
	a := s.d.args(logColumnCount * len(logs))
	values := make([]string, 0, len(logs))
	for _, l := range logs {
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
		values = append(values, a.row(l.ID, l.WebhookID, l.EventID, l.DeliveryID, l.EventType, l.Attempt, l.Status,
			code, l.DurationMs, errText, string(headers), body, l.ResponseBody, s.d.t(l.CreatedAt), s.d.nt(l.NextAttemptAt), l.Test))
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO webhook_logs (id, webhook_id, event_id, delivery_id, event_type, attempt, status,
		status_code, duration_ms, error, request_headers, request_body, response_body, created_at, next_attempt_at, test)
		VALUES `+strings.Join(values, ", "), a.vals...)
	if err != nil {
		return fmt.Errorf("insert logs: %w", err)
	}
	return nil
}

// insertLogsFromArrays is insertLogs on PostgreSQL: a column an array, one
// statement text whatever the number of rows, for the reason given at
// upsertCountsFromArrays (as VALUES lists, 41 ms a statement on average in
// a 10,000-webhook fan-out).
func (s *Store) insertLogsFromArrays(ctx context.Context, tx *txn, logs []Log) error {
	args, err := logArrays(logs)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, insertLogsFromArraysQuery, args...); err != nil {
		return fmt.Errorf("insert logs: %w", err)
	}
	return nil
}

// insertLogsFromArraysQuery inserts the rows of logArrays' arrays.
const insertLogsFromArraysQuery = `INSERT INTO webhook_logs (id, webhook_id, event_id, delivery_id, event_type, attempt, status,
		status_code, duration_ms, error, request_headers, request_body, response_body, created_at, next_attempt_at, test)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::integer[], $7::text[], $8::integer[],
			$9::integer[], $10::text[], $11::text[], $12::bytea[], $13::bytea[], $14::timestamptz[], $15::timestamptz[], $16::boolean[])`

// logArrays is logs as the sixteen column arrays of
// insertLogsFromArraysQuery.
func logArrays(logs []Log) ([]any, error) {
	n := len(logs)
	ids, webhooks, events, deliveries, types, statuses, headers := make([]string, n), make([]string, n), make([]string, n),
		make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	attempts, durations := make([]int64, n), make([]int64, n)
	codes, errTexts := make([]pgtype.Int4, n), make([]pgtype.Text, n)
	bodies, responses := make([][]byte, n), make([][]byte, n)
	created, next := make([]time.Time, n), make([]pgtype.Timestamptz, n)
	tests := make([]bool, n)
	for i, l := range logs {
		h, err := json.Marshal(l.RequestHeaders)
		if err != nil {
			return nil, fmt.Errorf("encode request headers: %w", err)
		}
		ids[i], webhooks[i], events[i], deliveries[i], types[i], statuses[i], headers[i] = l.ID, l.WebhookID, l.EventID, l.DeliveryID, l.EventType, l.Status, string(h)
		attempts[i], durations[i] = int64(l.Attempt), l.DurationMs
		codes[i] = pgtype.Int4{Int32: int32(l.StatusCode), Valid: l.StatusCode != 0}
		errTexts[i] = pgtype.Text{String: l.Error, Valid: l.Error != ""}
		bodies[i], responses[i] = l.RequestBody, l.ResponseBody
		if bodies[i] == nil {
			bodies[i] = []byte{}
		}
		created[i], next[i], tests[i] = l.CreatedAt.UTC(), pgTime(l.NextAttemptAt), l.Test
	}
	return []any{ids, webhooks, events, deliveries, types, attempts, statuses, codes, durations, errTexts, headers, bodies, responses, created, next, tests}, nil
}
