package store

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// The transactional outbox (issue 17, PostgreSQL only): the CRM inserts
// rows into webhook_outbox inside its own transactions, and ConsumeOutbox
// turns them into events. One transaction takes a batch of rows FOR UPDATE
// SKIP LOCKED, publishes the good ones through publishBatch (the path POST
// /api/v1/events takes: filters, the tenant's webhooks, idempotency keys),
// moves the bad ones to webhook_outbox_dead with the reason, and deletes
// every row it took. So a committed row becomes exactly one event, a
// rolled-back CRM transaction none, a crash mid-batch nothing (the rows are
// taken again), and processes sharing the database skip each other's rows.

// ErrOutboxUnsupported is returned by the outbox methods on SQLite: the
// outbox is a table the CRM writes in its own PostgreSQL transactions.
var ErrOutboxUnsupported = errors.New("store: the outbox needs PostgreSQL (--db postgres://…)")

// outboxChannel is the NOTIFY channel webhook_outbox's insert trigger
// (migration 00010) signals on.
const outboxChannel = "webhookd_outbox"

// OutboxRow is a row of webhook_outbox as the CRM wrote it. A NULL column
// is a nil pointer (nil Data); Data is the jsonb value compacted.
type OutboxRow struct {
	ID             int64
	Tenant         *string
	Event          *string
	Data           []byte
	IdempotencyKey *string
	OccurredAt     *time.Time
	CreatedAt      *time.Time

	// occurredInfinite and createdInfinite hold the column's text
	// ('infinity' or '-infinity') where it is not a finite time, which
	// OccurredAt and CreatedAt (nil then) cannot hold: such a row is
	// dead, and its dead copy keeps the value as the CRM wrote it.
	occurredInfinite, createdInfinite string
}

// OutboxDeadRow is a row of webhook_outbox_dead: an outbox row that could
// not become an event, with why and when it was set aside.
type OutboxDeadRow struct {
	OutboxRow
	Reason string
	DeadAt time.Time
}

// OutboxCheck says why an outbox row cannot become an event ("" when it
// can): the checks POST /api/v1/events makes on an event's type and data,
// handed in so that both publishers share one function.
type OutboxCheck func(OutboxRow) string

// ConsumeOutboxParams says how ConsumeOutbox takes a batch.
type ConsumeOutboxParams struct {
	// Limit is the most rows one call takes.
	Limit int
	// Owner is the tenant of rows whose tenant is NULL (--outbox-owner).
	// "" means the database's only tenant while it has exactly one; with
	// several, such rows are dead with a reason saying to set it.
	Owner string
	// Check is called for every row whose tenant is known.
	Check OutboxCheck
	// MaxDataBytes is the largest event data (compacted) publishing
	// accepts; 0 for no limit. A row whose data is far past it (its
	// jsonb text over twice the limit, so its compact form over it too)
	// is dead without its data being read into memory.
	MaxDataBytes int
}

// outboxBatchBytes bounds the data one batch reads (as jsonb text): a
// careless CRM writing 1,000 rows of 10 MB each must not make a batch
// read 10 GB and the process die of it, again each time it restarts. A
// batch takes rows until their data passes it, and at least one row.
const outboxBatchBytes = 32 << 20

// ConsumeOutboxResult is what one ConsumeOutbox call did.
type ConsumeOutboxResult struct {
	Taken      int // rows taken and deleted from webhook_outbox
	Events     int // new events
	Duplicates int // rows whose idempotency key named an earlier event
	Dead       int // rows moved to webhook_outbox_dead
	Deliveries int // deliveries created for the new events
	// Limited is set when the batch stopped short of Limit at the bytes
	// a batch reads (outboxBatchBytes): more rows are likely waiting.
	Limited bool
}

// ConsumeOutbox turns up to p.Limit rows of webhook_outbox into events in
// one transaction (see the comment at the top of this file). A row whose
// idempotency key conflicts, or whose event would create more deliveries
// than --max-deliveries-per-request allows, is dead too: the batch is then
// taken again one row at a time, so the rest still go through; so is a
// row PostgreSQL refuses with an error of its own (rowFault), each row
// then under a savepoint, the refused one dead with the error.
func (s *Store) ConsumeOutbox(ctx context.Context, p ConsumeOutboxParams) (ConsumeOutboxResult, error) {
	if s.d.embedded() {
		return ConsumeOutboxResult{}, ErrOutboxUnsupported
	}
	if p.Limit < 1 {
		p.Limit = 1
	}
	var res ConsumeOutboxResult
	var results []PublishResult
	err := s.inTx(ctx, func(tx *txn) error {
		var err error
		res, results, err = s.consumeOutbox(ctx, tx, p, false)
		return err
	})
	if errors.Is(err, errOneByOne) {
		err = s.inTx(ctx, func(tx *txn) error {
			var err error
			res, results, err = s.consumeOutbox(ctx, tx, p, true)
			return err
		})
	}
	if err != nil {
		return ConsumeOutboxResult{}, fmt.Errorf("store: consume outbox: %w", err)
	}
	s.finishPending(ctx, results)
	return res, nil
}

// errOneByOne asks ConsumeOutbox to take the batch again, publishing one
// row at a time, so that the row a batch-wide refusal was about can be
// told apart from the rest.
var errOneByOne = errors.New("publish the batch one row at a time")

// consumeOutbox is one attempt of ConsumeOutbox inside tx.
func (s *Store) consumeOutbox(ctx context.Context, tx *txn, p ConsumeOutboxParams, oneByOne bool) (ConsumeOutboxResult, []PublishResult, error) {
	if err := s.d.walkIndexesInOrder(ctx, tx); err != nil {
		return ConsumeOutboxResult{}, nil, err
	}
	rows, oversize, limited, err := s.takeOutbox(ctx, tx, p.Limit, p.MaxDataBytes)
	if err != nil || len(rows) == 0 {
		return ConsumeOutboxResult{}, nil, err
	}
	res := ConsumeOutboxResult{Taken: len(rows), Limited: limited}
	// The rows are deleted already (takeOutbox); dead holds those to copy
	// into webhook_outbox_dead from what was read, oversize rows aside
	// (takeOutbox copied them from the table, their data unread).
	dead := map[int64]string{}
	tenants, err := s.outboxTenants(ctx, tx, rows, oversize, p.Owner, dead)
	if err != nil {
		return res, nil, err
	}
	var batch []PublishParams
	var ids []int64 // the row of each of batch's events
	for i, r := range rows {
		if _, ok := dead[r.ID]; ok {
			continue
		}
		if _, ok := oversize[r.ID]; ok {
			continue
		}
		if r.occurredInfinite != "" {
			dead[r.ID] = fmt.Sprintf("occurred_at is %s: give the time the change happened, or leave the column to its default, now()", r.occurredInfinite)
			continue
		}
		if p.Check != nil {
			if reason := p.Check(r); reason != "" {
				dead[r.ID] = reason
				continue
			}
		}
		pp := PublishParams{TenantID: tenants[i], Type: *r.Event, Payload: r.Data, OccurredAt: s.Now()}
		// A retried CRM transaction inserts its row again with a new
		// occurred_at default, so a repeated key is matched on event and
		// data only, as the HTTP route does without a timestamp.
		if r.OccurredAt != nil {
			pp.OccurredAt = *r.OccurredAt
		}
		if r.IdempotencyKey != nil {
			pp.IdempotencyKey = *r.IdempotencyKey
		}
		batch = append(batch, pp)
		ids = append(ids, r.ID)
	}
	subs := map[string][]subscription{}
	var results []PublishResult
	if !oneByOne {
		results, err = s.publishBatch(ctx, tx, batch, subs)
		var conflict *IdempotencyConflictError
		var limit *DeliveryLimitError
		if errors.As(err, &conflict) || errors.As(err, &limit) || rowFault(ctx, err) {
			return res, nil, errOneByOne
		}
		if err != nil {
			return res, nil, err
		}
	} else {
		for i, pp := range batch {
			// Each row under a savepoint of its own: a row PostgreSQL
			// refuses (a constraint, a value out of range, a trigger of
			// the CRM's) aborts only its own part of the transaction,
			// and goes to the dead rows with the error, while the rest
			// become events. Without it one such row failed the whole
			// batch, again on every try, and nothing got through.
			if _, err := tx.ExecContext(ctx, `SAVEPOINT outbox_row`); err != nil {
				return res, nil, fmt.Errorf("savepoint: %w", err)
			}
			one, err := s.publishBatch(ctx, tx, []PublishParams{pp}, subs)
			var conflict *IdempotencyConflictError
			var limit *DeliveryLimitError
			switch {
			case errors.As(err, &conflict):
				dead[ids[i]] = fmt.Sprintf("idempotency_key %q was already used with different content (another event or data) within %d hours", pp.IdempotencyKey, int(IdempotencyWindow.Hours()))
			case errors.As(err, &limit):
				dead[ids[i]] = fmt.Sprintf("the event would create %d deliveries (one per matching webhook), more than --max-deliveries-per-request %d", limit.Deliveries, limit.Limit)
			case rowFault(ctx, err):
				dead[ids[i]] = fmt.Sprintf("publishing the event failed: %v", err)
			case err != nil:
				return res, nil, err
			default:
				results = append(results, one...)
			}
			undo := `RELEASE SAVEPOINT outbox_row`
			if err != nil {
				undo = `ROLLBACK TO SAVEPOINT outbox_row`
			}
			if _, err := tx.ExecContext(ctx, undo); err != nil {
				return res, nil, fmt.Errorf("%s: %w", strings.ToLower(undo), err)
			}
		}
	}
	for _, r := range results {
		if r.Duplicate {
			res.Duplicates++
			continue
		}
		res.Events++
		res.Deliveries += r.Deliveries
	}
	res.Dead = len(oversize) + len(dead)
	if err := s.buryOutboxRows(ctx, tx, rows, dead); err != nil {
		return res, nil, err
	}
	// No NOTIFY of the work channel here, unlike a publish: PostgreSQL
	// serializes the commits of every transaction that notifies (a
	// cluster-wide lock held through the commit's flush), so it would
	// queue this commit behind the CRM's own outbox-inserting commits.
	// The consumer wakes its process's dispatcher itself after the commit
	// (outbox.Consumer.RunOnce), and the others' by a NOTIFY of its own
	// (NotifyWork).
	return res, results, nil
}

// rowFault reports whether err, from publishing one outbox row, is about
// that row: an error PostgreSQL raised for the statement (bad data, a
// constraint, a limit, a trigger's exception) rather than a fault of the
// database, the connection or the transaction as a whole (unavailable,
// full, a serialization failure or deadlock, an aborted transaction,
// ctx's end), which would fail every row alike and is retried instead.
func rowFault(ctx context.Context, err error) bool {
	var pe *pgconn.PgError
	if err == nil || ctx.Err() != nil || Fault(err) != nil || !errors.As(err, &pe) || len(pe.Code) != 5 {
		return false
	}
	switch pe.Code[:2] {
	case "08", // connection
		"25", // invalid transaction state (aborted)
		"40", // serialization failure, deadlock
		"53", // insufficient resources
		"55", // object not in prerequisite state (lock not available)
		"57", // operator intervention (cancelled, shutting down)
		"58", // system error (I/O)
		"XX", // internal error
		"F0": // configuration file error
		return false
	}
	return true
}

const outboxColumns = `id, tenant, event, data::text, idempotency_key, ` + outboxTimes

// outboxTimes reads occurred_at and created_at: a finite value as
// timestamptz, and an infinite one ('infinity' and '-infinity' are valid
// timestamptz values a CRM can write, which Go's time cannot hold) as its
// text in two more columns. Scanned into a time, such a value failed the
// whole batch, again on every try, and stopped the outbox behind it.
const outboxTimes = `CASE WHEN isfinite(occurred_at) THEN occurred_at END, CASE WHEN isfinite(created_at) THEN created_at END,
	CASE WHEN NOT isfinite(occurred_at) THEN occurred_at::text END, CASE WHEN NOT isfinite(created_at) THEN created_at::text END`

// takeOutbox locks up to limit of the oldest rows no other transaction
// holds, and deletes those it takes, returning them in id order: SKIP
// LOCKED lets processes sharing the database take different rows, and a
// row locked (or deleted) by a transaction that dies is there again. It
// reads their sizes first and keeps the rows whose data fits in
// outboxBatchBytes (limited reports that some were left, locked until
// commit and taken by a later batch). A row whose data's jsonb text is
// over twice maxData is copied into webhook_outbox_dead as it is, in
// oversize with its size, and returned without its data, which is never
// read into memory; the caller copies the other rows it finds dead
// (buryOutboxRows).
func (s *Store) takeOutbox(ctx context.Context, tx *txn, limit, maxData int) (rows []OutboxRow, oversize map[int64]int64, limited bool, err error) {
	// ctid is where each locked row is: it cannot move while this
	// transaction holds the lock, and deleting by it is a TID scan,
	// where deleting by id took a sequential scan of the whole table
	// (and of every row consumed before, until a vacuum) once the
	// planner, without statistics, thought it small.
	sized, err := tx.QueryContext(ctx, `SELECT id, ctid::text, COALESCE(octet_length(data::text), 0) FROM webhook_outbox
		ORDER BY id LIMIT `+strconv.Itoa(limit)+` FOR UPDATE SKIP LOCKED`)
	if err != nil {
		return nil, nil, false, fmt.Errorf("take outbox rows: %w", err)
	}
	type idSize struct {
		id   int64
		ctid string
		size int64
	}
	sizes, err := collect(sized, func(r rowScanner) (idSize, error) {
		var v idSize
		return v, r.Scan(&v.id, &v.ctid, &v.size)
	})
	if err != nil {
		return nil, nil, false, fmt.Errorf("take outbox rows: %w", err)
	}
	var ctids []string
	var skip []int64
	var reasons []string
	var total int64
	for _, v := range sizes {
		if maxData > 0 && v.size > 2*int64(maxData) {
			if oversize == nil {
				oversize = map[int64]int64{}
			}
			oversize[v.id] = v.size
			skip = append(skip, v.id)
			reasons = append(reasons, fmt.Sprintf("data is larger than %d bytes (%d bytes as jsonb text)", maxData, v.size))
			ctids = append(ctids, v.ctid)
			continue
		}
		if len(ctids) > 0 && total+v.size > outboxBatchBytes {
			limited = true
			break
		}
		total += v.size
		ctids = append(ctids, v.ctid)
	}
	if len(ctids) == 0 {
		return nil, nil, false, nil
	}
	if len(skip) > 0 {
		if err := s.buryOutbox(ctx, tx, skip, reasons); err != nil {
			return nil, nil, false, err
		}
	}
	read, err := tx.QueryContext(ctx, `DELETE FROM webhook_outbox WHERE ctid = ANY($1::text[]::tid[])
		RETURNING id, tenant, event, CASE WHEN id = ANY($2::bigint[]) THEN NULL ELSE data::text END, idempotency_key, `+outboxTimes, ctids, skip)
	if err != nil {
		return nil, nil, false, fmt.Errorf("take outbox rows: %w", err)
	}
	rows, err = collect(read, func(r rowScanner) (OutboxRow, error) { return scanOutboxRow(r) })
	if err != nil {
		return nil, nil, false, fmt.Errorf("take outbox rows: %w", err)
	}
	if len(rows) != len(ctids) {
		// Not one of the locked rows can be gone; should it happen, the
		// batch is not taken half.
		return nil, nil, false, fmt.Errorf("take outbox rows: %d of %d locked rows deleted", len(rows), len(ctids))
	}
	// A TID scan returns them in the table's order; events are created in
	// the outbox's.
	slices.SortFunc(rows, func(a, b OutboxRow) int { return cmp.Compare(a.ID, b.ID) })
	return rows, oversize, limited, nil
}

// scanOutboxRow reads outboxColumns, compacting the data: jsonb prints
// itself with spaces, and an event's payload is stored compact.
func scanOutboxRow(r rowScanner, more ...any) (OutboxRow, error) {
	var o OutboxRow
	var tenant, event, data, key sql.NullString
	var occurred, created sql.NullTime
	var occurredText, createdText sql.NullString
	if err := r.Scan(append([]any{&o.ID, &tenant, &event, &data, &key, &occurred, &created, &occurredText, &createdText}, more...)...); err != nil {
		return o, err
	}
	o.Tenant, o.Event, o.IdempotencyKey = nullable(tenant), nullable(event), nullable(key)
	o.occurredInfinite, o.createdInfinite = occurredText.String, createdText.String
	if data.Valid {
		var buf bytes.Buffer
		if err := json.Compact(&buf, []byte(data.String)); err != nil {
			return o, fmt.Errorf("compact data of outbox row %d: %w", o.ID, err)
		}
		o.Data = buf.Bytes()
	}
	if occurred.Valid {
		t := occurred.Time.UTC()
		o.OccurredAt = &t
	}
	if created.Valid {
		t := created.Time.UTC()
		o.CreatedAt = &t
	}
	return o, nil
}

func nullable(s sql.NullString) *string {
	if !s.Valid {
		return nil
	}
	return &s.String
}

// outboxTenants returns the tenant of each row: its own, or owner for a
// NULL one (the only tenant when owner is ""). A row whose tenant is not
// a tenant id, or names none that exists, goes into dead with why. Rows
// in oversize are dead already, for their size, and left out: counted
// and buried a second time, for their tenant, they made the dead count
// say two rows where the table held one, and lost the first reason.
func (s *Store) outboxTenants(ctx context.Context, tx *txn, rows []OutboxRow, oversize map[int64]int64, owner string, dead map[int64]string) ([]string, error) {
	out := make([]string, len(rows))
	var named []string
	seen := map[string]bool{}
	soughtSole := false
	for i, r := range rows {
		if _, ok := oversize[r.ID]; ok {
			continue
		}
		if r.Tenant == nil && owner == "" && !soughtSole {
			soughtSole = true
			var err error
			if owner, err = s.soleTenant(ctx, tx); err != nil {
				return nil, err
			}
		}
		switch {
		case r.Tenant != nil:
			out[i] = *r.Tenant
		case owner != "":
			out[i] = owner
		default:
			dead[r.ID] = "tenant is NULL and the database has more than one tenant (or none): set the row's tenant, or start serve with --outbox-owner naming the tenant such rows belong to"
			continue
		}
		if !ValidTenantID(out[i]) {
			dead[r.ID] = fmt.Sprintf("tenant %q is not a tenant id: it must match %s", out[i], TenantIDPattern)
			continue
		}
		// Each tenant once: a batch is mostly of a few tenants.
		if !seen[out[i]] {
			seen[out[i]] = true
			named = append(named, out[i])
		}
	}
	if len(named) == 0 {
		return out, nil
	}
	// Each tenant through the primary key, whatever the statistics say
	// (a LATERAL subquery PostgreSQL cannot flatten, as in
	// subscriptionsOfTenantsQuery).
	found, err := tx.QueryContext(ctx, `SELECT t.id FROM unnest($1::text[]) AS p (id)
		CROSS JOIN LATERAL (SELECT id FROM tenants WHERE id = p.id OFFSET 0) AS t`, named)
	if err != nil {
		return nil, fmt.Errorf("look up outbox tenants: %w", err)
	}
	ids, err := collect(found, scanString)
	if err != nil {
		return nil, fmt.Errorf("look up outbox tenants: %w", err)
	}
	exists := make(map[string]bool, len(ids))
	for _, id := range ids {
		exists[id] = true
	}
	for i, r := range rows {
		if _, big := oversize[r.ID]; big {
			continue
		}
		if _, bad := dead[r.ID]; !bad && !exists[out[i]] {
			dead[r.ID] = fmt.Sprintf("tenant %q does not exist: create it (PUT /api/v1/tenants/%s or webhookd tenant create) and requeue the row", out[i], out[i])
		}
	}
	return out, nil
}

// soleTenant returns the database's only tenant, or "" when it has none
// or several: what a single-tenant installation's NULL tenant means.
func (s *Store) soleTenant(ctx context.Context, tx *txn) (string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id FROM tenants ORDER BY id LIMIT 2`)
	if err != nil {
		return "", fmt.Errorf("find the only tenant: %w", err)
	}
	ids, err := collect(rows, scanString)
	if err != nil {
		return "", fmt.Errorf("find the only tenant: %w", err)
	}
	if len(ids) != 1 {
		return "", nil
	}
	return ids[0], nil
}

// buryOutbox copies the rows ids names, as they are in webhook_outbox,
// into webhook_outbox_dead with the reason beside each; the caller
// deletes them from webhook_outbox.
func (s *Store) buryOutbox(ctx context.Context, tx *txn, ids []int64, reasons []string) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO webhook_outbox_dead (id, tenant, event, data, idempotency_key, occurred_at, created_at, reason, dead_at)
		SELECT o.id, o.tenant, o.event, o.data, o.idempotency_key, o.occurred_at, o.created_at, v.reason, $3
		FROM webhook_outbox o JOIN unnest($1::bigint[], $2::text[]) AS v (id, reason) ON v.id = o.id
		ON CONFLICT (id) DO UPDATE SET reason = EXCLUDED.reason, dead_at = EXCLUDED.dead_at`,
		ids, reasons, s.d.t(s.Now())); err != nil {
		return fmt.Errorf("move outbox rows to webhook_outbox_dead: %w", err)
	}
	return nil
}

// buryOutboxRows inserts the rows dead names (by id, with the reason)
// into webhook_outbox_dead as takeOutbox read them, their compact data
// becoming the same jsonb value again.
func (s *Store) buryOutboxRows(ctx context.Context, tx *txn, rows []OutboxRow, dead map[int64]string) error {
	if len(dead) == 0 {
		return nil
	}
	n := len(dead)
	ids, reasons := make([]int64, 0, n), make([]string, 0, n)
	tenants, events, datas, keys := make([]*string, 0, n), make([]*string, 0, n), make([]*string, 0, n), make([]*string, 0, n)
	occurred, created := make([]*string, 0, n), make([]*string, 0, n)
	for _, r := range rows {
		reason, ok := dead[r.ID]
		if !ok {
			continue
		}
		var data *string
		if r.Data != nil {
			d := string(r.Data)
			data = &d
		}
		ids, reasons = append(ids, r.ID), append(reasons, reason)
		tenants, events, datas, keys = append(tenants, r.Tenant), append(events, r.Event), append(datas, data), append(keys, r.IdempotencyKey)
		occurred, created = append(occurred, outboxTimeText(r.OccurredAt, r.occurredInfinite)), append(created, outboxTimeText(r.CreatedAt, r.createdInfinite))
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO webhook_outbox_dead (id, tenant, event, data, idempotency_key, occurred_at, created_at, reason, dead_at)
		SELECT v.id, v.tenant, v.event, v.data::jsonb, v.idempotency_key, v.occurred_at::timestamptz, v.created_at::timestamptz, v.reason, $9
		FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])
			AS v (id, tenant, event, data, idempotency_key, occurred_at, created_at, reason)
		ON CONFLICT (id) DO UPDATE SET reason = EXCLUDED.reason, dead_at = EXCLUDED.dead_at`,
		ids, tenants, events, datas, keys, occurred, created, reasons, s.d.t(s.Now())); err != nil {
		return fmt.Errorf("move outbox rows to webhook_outbox_dead: %w", err)
	}
	return nil
}

// outboxDeadPageBytes bounds the data one page of ListOutboxDead reads
// (as jsonb text): a flood of dead rows of megabytes each must not make
// GET /api/v1/outbox/dead read and answer gigabytes. A page stops at it,
// with at least one row, and its cursor goes on from there.
const outboxDeadPageBytes = 8 << 20

// ListOutboxDead returns one page of webhook_outbox_dead in id order,
// after the row id after (0: from the start), and the id to pass as after
// for the next page (0 on the last page). A page holds at most limit rows
// and, past its first row, outboxDeadPageBytes of data.
func (s *Store) ListOutboxDead(ctx context.Context, after int64, limit int) ([]OutboxDeadRow, int64, error) {
	if s.d.embedded() {
		return nil, 0, ErrOutboxUnsupported
	}
	// The sizes first, so that only the page's rows' data is read.
	sized, err := s.read.QueryContext(ctx, `SELECT id, COALESCE(octet_length(data::text), 0) FROM webhook_outbox_dead
		WHERE id > $1 ORDER BY id LIMIT `+strconv.Itoa(limit+1), after)
	if err != nil {
		return nil, 0, fmt.Errorf("store: list outbox dead: %w", err)
	}
	type idSize struct{ id, size int64 }
	sizes, err := collect(sized, func(r rowScanner) (idSize, error) {
		var v idSize
		return v, r.Scan(&v.id, &v.size)
	})
	if err != nil {
		return nil, 0, fmt.Errorf("store: list outbox dead: %w", err)
	}
	var ids []int64
	var total int64
	more := false
	for _, v := range sizes {
		if len(ids) == limit || (len(ids) > 0 && total+v.size > outboxDeadPageBytes) {
			more = true
			break
		}
		total += v.size
		ids = append(ids, v.id)
	}
	if len(ids) == 0 {
		return []OutboxDeadRow{}, 0, nil
	}
	// Row by row through the primary key, as in outboxTenants.
	rows, err := s.read.QueryContext(ctx, `SELECT d.* FROM unnest($1::bigint[]) AS p (id)
		CROSS JOIN LATERAL (SELECT `+outboxColumns+`, reason, dead_at FROM webhook_outbox_dead WHERE id = p.id OFFSET 0) AS d
		ORDER BY d.id`, ids)
	if err != nil {
		return nil, 0, fmt.Errorf("store: list outbox dead: %w", err)
	}
	out, err := collect(rows, func(r rowScanner) (OutboxDeadRow, error) {
		var d OutboxDeadRow
		var err error
		d.OutboxRow, err = scanOutboxRow(r, &d.Reason, scanTime{&d.DeadAt})
		return d, err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("store: list outbox dead: %w", err)
	}
	if out == nil {
		out = []OutboxDeadRow{}
	}
	var next int64
	if more {
		// The last id sized, even if its row was requeued since.
		next = ids[len(ids)-1]
	}
	return out, next, nil
}

// CountOutbox returns how many rows wait in webhook_outbox and how many
// are dead; ok is false on SQLite, which has no outbox.
func (s *Store) CountOutbox(ctx context.Context) (waiting, dead int64, ok bool, err error) {
	if s.d.embedded() {
		return 0, 0, false, nil
	}
	err = s.read.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM webhook_outbox), (SELECT COUNT(*) FROM webhook_outbox_dead)`).Scan(&waiting, &dead)
	if err != nil {
		return 0, 0, true, fmt.Errorf("store: count outbox: %w", err)
	}
	return waiting, dead, true, nil
}

// RequeueOutboxDead moves dead rows back into webhook_outbox under their
// own ids, so the consumer takes them again (after their cause, a missing
// tenant or event type, has been fixed): the rows ids names, or every one
// when all is set. It returns the ids moved; an id that is not dead is
// left out.
func (s *Store) RequeueOutboxDead(ctx context.Context, ids []int64, all bool) ([]int64, error) {
	if s.d.embedded() {
		return nil, ErrOutboxUnsupported
	}
	where, args := `id = ANY($1::bigint[])`, []any{ids}
	if all {
		where, args = `TRUE`, nil
	}
	var moved []int64
	err := s.inTx(ctx, func(tx *txn) error {
		rows, err := tx.QueryContext(ctx, `WITH gone AS (DELETE FROM webhook_outbox_dead WHERE `+where+`
				RETURNING id, tenant, event, data, idempotency_key, occurred_at, created_at)
			INSERT INTO webhook_outbox (id, tenant, event, data, idempotency_key, occurred_at, created_at)
			SELECT id, tenant, event, data, idempotency_key, occurred_at, created_at FROM gone ORDER BY id
			RETURNING id`, args...)
		if err != nil {
			return err
		}
		moved, err = collect(rows, func(r rowScanner) (int64, error) {
			var id int64
			return id, r.Scan(&id)
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: requeue outbox rows: %w", err)
	}
	return moved, nil
}

// outboxTimeText is an outbox row's timestamp as timestamptz text for its
// dead copy: the time read, or the infinite value it held, or nil (NULL).
func outboxTimeText(t *time.Time, infinite string) *string {
	switch {
	case t != nil:
		v := t.UTC().Format(time.RFC3339Nano)
		return &v
	case infinite != "":
		return &infinite
	}
	return nil
}
