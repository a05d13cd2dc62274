package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/webhookd/webhookd/filter"
)

// IdempotencyWindow is how long an idempotency key answers with the first
// publish's result instead of creating a new event.
const IdempotencyWindow = 24 * time.Hour

// PublishParams is one event to accept.
type PublishParams struct {
	TenantID   string
	Type       string
	Payload    []byte // compacted JSON
	OccurredAt time.Time
	// HasTimestamp says OccurredAt came with the event rather than from
	// the clock: only then must an idempotent replay match it.
	HasTimestamp   bool
	IdempotencyKey string // "" for none
}

// PublishResult is what accepting an event produced.
type PublishResult struct {
	Event      Event
	Deliveries int
	// Duplicate is true when the idempotency key had already been used
	// within IdempotencyWindow: Event is the first one and nothing new was
	// created.
	Duplicate bool
	// Handed is how many of Deliveries were handed, leased, to this
	// process's dispatcher as they were inserted (see Handoff): the
	// dispatcher need not be woken for them.
	Handed int

	// pending: the event's deliveries are still to be created, after its
	// transaction (see FanOutChunk).
	pending bool
}

// PublishEvents accepts a batch of events: they are committed together or
// not at all, and when it returns each has one pending delivery per
// matching active webhook of its tenant. A batch's deliveries go in the same
// transaction as its events up to FanOutChunk; beyond that the events are
// committed with a record of the fan-out still to do, which is then done in
// transactions of FanOutChunk deliveries each (see finishFanOut), so a large
// fan-out never holds the writer long. Batching lets concurrent publishers
// share one commit (see GroupCommitter).
func (s *Store) PublishEvents(ctx context.Context, batch []PublishParams) ([]PublishResult, error) {
	results, err := s.publishEvents(ctx, batch, nil)
	if err != nil {
		return nil, err
	}
	s.finishPending(ctx, results)
	return results, nil
}

// finishPending finishes the fan-out of the results still pending. The
// events are accepted whatever happens here: a fan-out that fails half way
// is still recorded, and RunFanOuts finishes (and logs) it, so the publish
// is not reported as failed, which would invite a retry that creates the
// events again.
func (s *Store) finishPending(ctx context.Context, results []PublishResult) {
	var ids []string
	for _, r := range results {
		if r.pending && !r.Duplicate {
			ids = append(ids, r.Event.ID)
		}
	}
	if ids != nil {
		_ = s.finishFanOut(ctx, ids)
	}
}

// publishEvents commits a batch's events, with their deliveries or a record
// of the fan-out still to do, in one transaction. With a handoff (nil:
// none) it reserves workers first and hands the deliveries they can take to
// the dispatcher once the transaction commits (see Handoff).
func (s *Store) publishEvents(ctx context.Context, batch []PublishParams, handoff Handoff) ([]PublishResult, error) {
	var h *handing
	if handoff != nil {
		if r := handoff.Reserve(s.handoffReserve()); r != nil {
			h = &handing{r: r, fields: map[string]*sendFields{}}
		}
	}
	var results []PublishResult
	// Pipelined on PostgreSQL, for insertChecksCached.
	err := s.inPipedTx(ctx, func(tx *txn) error {
		var err error
		results, err = s.publishHanding(ctx, tx, batch, map[string][]subscription{}, h)
		if err != nil {
			return err
		}
		for _, r := range results {
			// Handed deliveries are leased already: only the rest are
			// work for other processes.
			if !r.Duplicate && r.Deliveries > r.Handed {
				return s.notifyWork(ctx, tx)
			}
		}
		return nil
	})
	if h != nil {
		if err != nil {
			h.r.Cancel()
			if len(h.leased) > 0 {
				// The commit may have reached the database before the
				// error did (a connection lost during COMMIT): give the
				// handed deliveries back rather than leave them leased,
				// unsent, until their lease ends. After a rollback there
				// is nothing to release (the update matches no row).
				if rerr := s.ReleaseDeliveries(context.WithoutCancel(ctx), h.leased); rerr != nil {
					err = errors.Join(err, rerr)
				}
			}
		} else {
			h.r.Adopt(h.leased)
		}
	}
	if isForeignKeyViolation(err) {
		// An event names a tenant that does not exist (or was deleted
		// while the batch waited); the server checks first, so this is
		// the rare race, answered as the check would have.
		return nil, fmt.Errorf("store: publish events: %w", ErrTenantNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: publish events: %w", err)
	}
	return results, nil
}

// subscription is an active webhook's id, patterns and payload filter,
// loaded once per tenant per batch.
type subscription struct {
	webhookID string
	patterns  []string
	// orderingKey is the key's path of a FIFO webhook; fifo says it is one.
	fifo        bool
	orderingKey string
	// filtered: the webhook has a filter; filter is nil when its stored
	// text does not parse (see parsedFilter).
	filtered bool
	filter   *filter.Filter
}

// publish accepts one event inside tx.
func (s *Store) publish(ctx context.Context, tx *txn, p PublishParams, subs map[string][]subscription) (PublishResult, error) {
	res, err := s.publishBatch(ctx, tx, []PublishParams{p}, subs)
	if err != nil {
		return PublishResult{}, err
	}
	return res[0], nil
}

// publishBatch accepts events inside tx with a few multi-row statements:
// first it settles idempotency keys and finds each event's webhooks, then it
// inserts the new events, then their deliveries.
func (s *Store) publishBatch(ctx context.Context, tx *txn, batch []PublishParams, subs map[string][]subscription) ([]PublishResult, error) {
	return s.publishHanding(ctx, tx, batch, subs, nil)
}

// publishHanding is publishBatch handing what it can over through h (nil:
// nothing), whose leased deliveries it fills in.
func (s *Store) publishHanding(ctx context.Context, tx *txn, batch []PublishParams, subs map[string][]subscription, h *handing) ([]PublishResult, error) {
	b := &publishing{batch: batch, now: s.Now(), results: make([]PublishResult, len(batch)),
		targets: make([][]string, len(batch)), sameAs: make([]int, len(batch)), fifo: map[string]string{}, hand: h}
	if err := s.planPublish(ctx, tx, b, subs); err != nil {
		return nil, err
	}
	total := 0
	for _, i := range b.fresh {
		total += len(b.targets[i])
	}
	if limit := s.limits.deliveriesPerRequest; limit > 0 && total > limit {
		return nil, &DeliveryLimitError{Deliveries: total, Limit: limit}
	}
	inserted, err := s.insertEvents(ctx, tx, b.results, b.fresh)
	if err != nil {
		return nil, err
	}
	deliveries, pending, err := s.placeDeliveries(ctx, tx, b, inserted, total)
	if err != nil {
		return nil, err
	}
	slots, err := s.sequence(ctx, tx, deliveries, b.fifo, b.envelopes(), b.ranks())
	if err != nil {
		return nil, err
	}
	deliveries, slots, handed := h.handOut(b, deliveries, slots)
	if err := s.insertDeliveries(ctx, tx, deliveries, slots, b.now); err != nil {
		return nil, err
	}
	if err := s.insertHanded(ctx, tx, b, h, handed); err != nil {
		return nil, err
	}
	if err := s.insertFanOuts(ctx, tx, pending); err != nil {
		return nil, err
	}
	for i, j := range b.sameAs {
		if j >= 0 {
			b.results[i] = b.results[j]
			b.results[i].Duplicate = true
			b.results[i].pending = false
			b.results[i].Handed = 0
		}
	}
	return b.results, nil
}

// publishing is publishBatch's working state, one entry per event of the
// batch in each slice.
type publishing struct {
	batch   []PublishParams
	now     time.Time
	results []PublishResult
	targets [][]string // the webhooks each new event goes to
	sameAs  []int      // index of an earlier event in the batch with the same key, or -1
	fresh   []int      // events to insert
	// fifo maps each FIFO webhook among the targets to its key's path.
	fifo map[string]string
	// hand is what the publish hands over (nil: nothing).
	hand *handing
}

// envelopes returns what the new events' ordering keys are read from, by
// event id; nil when no target is ordered.
func (b *publishing) envelopes() map[string]envelopeParts {
	if len(b.fifo) == 0 {
		return nil
	}
	out := make(map[string]envelopeParts, len(b.fresh))
	for _, i := range b.fresh {
		e := b.results[i].Event
		out[e.ID] = envelopeParts{eventType: e.Type, occurredAt: e.OccurredAt, data: e.Payload}
	}
	return out
}

// ranks returns each new event's place in the batch, by event id: the
// order in which the batch's events are accepted.
func (b *publishing) ranks() map[string]int {
	if len(b.fifo) == 0 {
		return nil
	}
	out := make(map[string]int, len(b.fresh))
	for _, i := range b.fresh {
		out[b.results[i].Event.ID] = i
	}
	return out
}

// planPublish settles each event's idempotency key and, for each new one,
// finds its webhooks and makes its Event.
func (s *Store) planPublish(ctx context.Context, tx *txn, b *publishing, subs map[string][]subscription) error {
	if err := s.loadSubscriptions(ctx, tx, b, subs); err != nil {
		return err
	}
	firstWithKey := map[[2]string]int{}
	for i, p := range b.batch {
		b.sameAs[i] = -1
		if p.IdempotencyKey != "" {
			settled, err := s.settleKey(ctx, tx, b, i, firstWithKey)
			if err != nil {
				return err
			}
			if settled {
				continue
			}
		}
		ws, ok := subs[p.TenantID]
		if !ok {
			var err error
			if b.hand != nil {
				ws, err = s.handingSubscriptions(ctx, tx, p.TenantID, b.hand.fields)
			} else {
				ws, err = s.activeSubscriptions(ctx, tx, p.TenantID)
			}
			if err != nil {
				return err
			}
			subs[p.TenantID] = ws
		}
		at := p.OccurredAt.UTC().Truncate(time.Millisecond)
		var env envelopeCache
		for _, w := range ws {
			if MatchAnyPattern(w.patterns, p.Type) && env.passes(w, p.Type, at, p.Payload) {
				b.targets[i] = append(b.targets[i], w.webhookID)
				if w.fifo {
					b.fifo[w.webhookID] = w.orderingKey
				}
			}
		}
		b.results[i] = PublishResult{Event: Event{
			ID: NewID(), TenantID: p.TenantID, Type: p.Type, Payload: p.Payload,
			OccurredAt: at, IdempotencyKey: p.IdempotencyKey,
			DeliveryCount: len(b.targets[i]), CreatedAt: b.now,
		}, Deliveries: len(b.targets[i])}
		b.fresh = append(b.fresh, i)
	}
	return nil
}

// settleKey resolves event i's idempotency key: against an earlier event
// of the batch with the same key, else against a stored event within
// IdempotencyWindow (expiring an older key). It reports whether i is
// settled as a repeat; a repeat with other content is an
// IdempotencyConflictError.
func (s *Store) settleKey(ctx context.Context, tx *txn, b *publishing, i int, firstWithKey map[[2]string]int) (bool, error) {
	p := b.batch[i]
	k := [2]string{p.TenantID, p.IdempotencyKey}
	if j, ok := firstWithKey[k]; ok {
		// Against the event key j resolved to: an earlier one when j
		// replays it, else j as it will be stored.
		e := b.results[j].Event
		if !b.results[j].Duplicate {
			e = Event{Type: b.batch[j].Type, Payload: b.batch[j].Payload, OccurredAt: b.batch[j].OccurredAt.UTC().Truncate(time.Millisecond)}
		}
		if !sameContent(e.Type, e.Payload, e.OccurredAt, p) {
			return false, &IdempotencyConflictError{Index: i, Key: p.IdempotencyKey}
		}
		b.sameAs[i] = j
		return true, nil
	}
	firstWithKey[k] = i
	prev, err := s.eventByIdempotencyKey(ctx, tx, p.TenantID, p.IdempotencyKey)
	switch {
	case err == nil && b.now.Sub(prev.CreatedAt) < IdempotencyWindow:
		if !sameContent(prev.Type, prev.Payload, prev.OccurredAt, p) {
			return false, &IdempotencyConflictError{Index: i, Key: p.IdempotencyKey}
		}
		b.results[i] = PublishResult{Event: prev, Deliveries: prev.DeliveryCount, Duplicate: true}
		return true, nil
	case err == nil:
		// The key is older than the window: it no longer names that event.
		if _, err := tx.ExecContext(ctx, `UPDATE events SET idempotency_key = NULL WHERE id = $1`, prev.ID); err != nil {
			return false, fmt.Errorf("expire idempotency key: %w", err)
		}
	case !errors.Is(err, sql.ErrNoRows):
		return false, fmt.Errorf("look up idempotency key: %w", err)
	}
	return false, nil
}

// placeDeliveries picks, for the events insertEvents inserted, the
// deliveries this transaction inserts (whole events' worth, up to the
// chunk) and the events whose fan-out is left for later; an event another
// transaction inserted first under its key is answered with that one.
func (s *Store) placeDeliveries(ctx context.Context, tx *txn, b *publishing, inserted map[string]bool, total int) ([][2]string, []pendingFanOut, error) {
	order := b.fresh
	if total > s.chunk() {
		// Not every delivery fits in this transaction: the events with
		// the fewest go first, so a small publish that shares the
		// transaction with a large one is not held up by it.
		order = slices.Clone(b.fresh)
		slices.SortStableFunc(order, func(x, y int) int { return cmp.Compare(len(b.targets[x]), len(b.targets[y])) })
	}
	budget := s.chunk()
	var deliveries [][2]string // event id, webhook id
	var pending []pendingFanOut
	for _, i := range order {
		if !inserted[b.results[i].Event.ID] {
			// Another transaction committed this key first (PostgreSQL):
			// answer with its event, as the idempotency contract says.
			p := b.batch[i]
			prev, err := s.eventByIdempotencyKey(ctx, tx, p.TenantID, p.IdempotencyKey)
			if err != nil {
				return nil, nil, fmt.Errorf("look up idempotency key after conflict: %w", err)
			}
			if !sameContent(prev.Type, prev.Payload, prev.OccurredAt, p) {
				return nil, nil, &IdempotencyConflictError{Index: i, Key: p.IdempotencyKey}
			}
			b.results[i] = PublishResult{Event: prev, Deliveries: prev.DeliveryCount, Duplicate: true}
			continue
		}
		if len(b.targets[i]) > budget {
			pending = append(pending, pendingFanOut{eventID: b.results[i].Event.ID, last: slices.Max(b.targets[i])})
			b.results[i].pending = true
			continue
		}
		budget -= len(b.targets[i])
		for _, w := range b.targets[i] {
			deliveries = append(deliveries, [2]string{b.results[i].Event.ID, w})
		}
	}
	return deliveries, pending, nil
}

// insertEvents inserts results[i].Event for each i in which, and reports
// which ids were inserted: an idempotency key that a concurrent transaction
// committed first is skipped by ON CONFLICT rather than failing the batch.
func (s *Store) insertEvents(ctx context.Context, tx *txn, results []PublishResult, which []int) (map[string]bool, error) {
	if s.d.kind == Postgres {
		return s.insertEventsFromArrays(ctx, tx, results, which)
	}
	const columns = 8
	inserted := make(map[string]bool, len(which))
	for lo, hi := range s.runs(len(which)) {
		chunk := which[lo:hi]
		a := s.d.args(columns * len(chunk))
		values := make([]string, 0, len(chunk))
		for _, i := range chunk {
			e := results[i].Event
			var key any
			if e.IdempotencyKey != "" {
				key = e.IdempotencyKey
			}
			values = append(values, a.row(e.ID, e.TenantID, e.Type, e.Payload, s.d.t(e.OccurredAt), key, e.DeliveryCount, s.d.t(e.CreatedAt)))
		}
		rows, err := tx.QueryContext(ctx, `INSERT INTO events (id, tenant_id, event_type, payload, occurred_at, idempotency_key, delivery_count, created_at)
			VALUES `+strings.Join(values, ", ")+`
			ON CONFLICT (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
			RETURNING id`, a.vals...)
		if err != nil {
			return nil, fmt.Errorf("insert events: %w", err)
		}
		ids, err := collect(rows, scanString)
		if err != nil {
			return nil, fmt.Errorf("insert events: %w", err)
		}
		for _, id := range ids {
			inserted[id] = true
		}
	}
	return inserted, nil
}

// insertEventsFromArrays is insertEvents on PostgreSQL: one statement
// for the whole batch, its columns as arrays, rather than a VALUES list
// of 200 rows with eight parameters each. That is one round trip instead
// of one per 200 events, and one short statement for PostgreSQL to parse
// and plan (custom plans are made every time, see openPostgres) instead
// of a 1,600-parameter one.
func (s *Store) insertEventsFromArrays(ctx context.Context, tx *txn, results []PublishResult, which []int) (map[string]bool, error) {
	inserted := make(map[string]bool, len(which))
	if len(which) == 0 {
		return inserted, nil
	}
	n := len(which)
	ids, tenants, types := make([]string, n), make([]string, n), make([]string, n)
	payloads, occurred := make([][]byte, n), make([]time.Time, n)
	keys, counts := make([]*string, n), make([]int32, n)
	var created time.Time
	for k, i := range which {
		e := results[i].Event
		ids[k], tenants[k], types[k], payloads[k] = e.ID, e.TenantID, e.Type, e.Payload
		occurred[k], counts[k], created = e.OccurredAt.UTC(), int32(e.DeliveryCount), e.CreatedAt.UTC()
		if e.IdempotencyKey != "" {
			keys[k] = &e.IdempotencyKey
		}
	}
	err := s.insertChecksCached(ctx, tx, n, func(id string) { inserted[id] = true },
		`INSERT INTO events (id, tenant_id, event_type, payload, occurred_at, idempotency_key, delivery_count, created_at)
			SELECT v.id, v.tenant_id, v.event_type, v.payload, v.occurred_at, v.idempotency_key, v.delivery_count, $8
			FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[], $5::timestamptz[], $6::text[], $7::int[])
				AS v (id, tenant_id, event_type, payload, occurred_at, idempotency_key, delivery_count)
			ON CONFLICT (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
			RETURNING id`, ids, tenants, types, payloads, occurred, keys, counts, created)
	if err != nil {
		return nil, fmt.Errorf("insert events: %w", err)
	}
	return inserted, nil
}

// checkPlansCachedFrom is the number of rows from which an insert on
// PostgreSQL lets the foreign-key checks keep their plans
// (insertChecksCached): below it, the two more round trips cost about
// what replanning the checks does.
const checkPlansCachedFrom = 8

// insertChecksCached runs query, an insert of rows rows into a table with
// foreign keys, with plan_cache_mode at auto on PostgreSQL, and resets it
// to the session's own after; scan, when set, is given each id the insert
// returns. The store's connections force custom plans (see openPostgres),
// and that reaches the statements PostgreSQL runs itself: each foreign
// key's check, one per inserted row, was planned again for every row,
// which made the checks most of an insert's time (a 1,000-event batch
// with its deliveries took 110 ms instead of 180–270 ms at a load of 10).
// Their plan, a primary key probe, is right cached. The reset keeps the
// rest of the transaction on custom plans; should the insert fail, the
// transaction is rolled back, the setting with it.
//
// In a pipelined transaction (inPipedTx) the setting, the insert and the
// reset go in one round trip. Sent one by one they were three, for each
// of a publish's inserts: of the 11,500 transactions of 1,000 tenants
// publishing, 5,800 round trips set the mode and 3,400 reset it, inside
// the one transaction every publish queues behind.
func (s *Store) insertChecksCached(ctx context.Context, tx *txn, rows int, scan func(id string), query string, args ...any) error {
	if s.d.kind != Postgres || rows < checkPlansCachedFrom {
		return execScanning(ctx, tx, scan, query, args...)
	}
	if tx.pipe != nil {
		var b pgx.Batch
		b.Queue(`SELECT set_config('plan_cache_mode', 'auto', true)`)
		insert := b.Queue(query, args...)
		if scan != nil {
			insert.Query(func(r pgx.Rows) error {
				ids, err := pgx.CollectRows(r, pgx.RowTo[string])
				for _, id := range ids {
					scan(id)
				}
				return err
			})
		}
		b.Queue(`RESET plan_cache_mode`)
		return tx.send(ctx, &b)
	}
	if _, err := tx.ExecContext(ctx, `SELECT set_config('plan_cache_mode', 'auto', true)`); err != nil {
		return fmt.Errorf("cache the foreign-key checks' plans: %w", err)
	}
	if err := execScanning(ctx, tx, scan, query, args...); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `RESET plan_cache_mode`); err != nil {
		return fmt.Errorf("reset plan_cache_mode: %w", err)
	}
	return nil
}

// execScanning runs query in tx, giving scan (when set) each id it returns.
func execScanning(ctx context.Context, tx *txn, scan func(id string), query string, args ...any) error {
	if scan == nil {
		_, err := tx.ExecContext(ctx, query, args...)
		return err
	}
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	ids, err := collect(rows, scanString)
	for _, id := range ids {
		scan(id)
	}
	return err
}

// insertDeliveries adds a pending delivery, due now, for each event and
// webhook pair; slots (nil, or one per pair) gives an ordered delivery its
// key and sequence number, and holds one that must wait its turn.
func (s *Store) insertDeliveries(ctx context.Context, tx *txn, pairs [][2]string, slots []orderedSlot, now time.Time) error {
	if s.d.kind == Postgres {
		return s.insertDeliveriesFromArrays(ctx, tx, pairs, slots, now)
	}
	if slots != nil {
		return s.insertOrderedDeliveries(ctx, tx, pairs, slots, now)
	}
	const columns = 6
	t := s.d.t(now)
	for lo, hi := range s.runs(len(pairs)) {
		chunk := pairs[lo:hi]
		a := s.d.args(columns * len(chunk))
		values := make([]string, 0, len(chunk))
		for _, p := range chunk {
			values = append(values, "("+a.list(NewID(), p[0], p[1], t, t, t)+", 'pending', 0)")
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO deliveries (id, event_id, webhook_id, next_attempt_at, created_at, updated_at, status, attempts)
			VALUES `+strings.Join(values, ", "), a.vals...); err != nil {
			return fmt.Errorf("insert deliveries: %w", err)
		}
	}
	return nil
}

// insertOrderedDeliveries is insertDeliveries on SQLite for a batch with
// ordered deliveries: each row also carries its key and sequence number
// (NULL for an unordered one), and a held one is due at heldUntil. Kept
// apart so that the unordered batch's statements stay as they were.
func (s *Store) insertOrderedDeliveries(ctx context.Context, tx *txn, pairs [][2]string, slots []orderedSlot, now time.Time) error {
	const columns = 8
	t, held := s.d.t(now), s.d.t(heldUntil)
	for lo, hi := range s.runs(len(pairs)) {
		a := s.d.args(columns * (hi - lo))
		values := make([]string, 0, hi-lo)
		for i := lo; i < hi; i++ {
			var key, seq any
			due := t
			if sl := slots[i]; sl.ok {
				key, seq = sl.key, sl.seq
				if sl.held {
					due = held
				}
			}
			values = append(values, "("+a.list(NewID(), pairs[i][0], pairs[i][1], due, t, t, key, seq)+", 'pending', 0)")
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO deliveries (id, event_id, webhook_id, next_attempt_at, created_at, updated_at, ordering_key, seq, status, attempts)
			VALUES `+strings.Join(values, ", "), a.vals...); err != nil {
			return fmt.Errorf("insert deliveries: %w", err)
		}
	}
	return nil
}

func (s *Store) eventByIdempotencyKey(ctx context.Context, tx *txn, tenantID, key string) (Event, error) {
	var e Event
	var k sql.NullString
	rows, err := tx.QueryContext(ctx, `SELECT id, tenant_id, event_type, payload, occurred_at, idempotency_key, delivery_count, created_at
		FROM events WHERE tenant_id = $1 AND idempotency_key = $2`, tenantID, key)
	if err != nil {
		return Event{}, err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return Event{}, err
		}
		return Event{}, sql.ErrNoRows
	}
	err = rows.
		Scan(&e.ID, &e.TenantID, &e.Type, &e.Payload, scanTime{&e.OccurredAt}, &k, &e.DeliveryCount, scanTime{&e.CreatedAt})
	e.IdempotencyKey = k.String
	return e, err
}

// subscriptionColumns is what loadSubscriptions reads of each webhook: a
// subscription's columns (scanSubscription) and its tenant.
const subscriptionColumns = `id, events, ordering, ordering_key, filter, tenant_id`

// loadSubscriptions adds to subs the subscriptions of every tenant of the
// batch not in it yet, all in one statement when there are several: the
// group committer's batches mix tenants (a CRM publishes for many
// businesses at once), and reading each tenant's webhooks in a statement
// of its own cost a round trip per tenant inside the one transaction all
// publishes queue behind (on PostgreSQL about half of a 16-event group's
// time with 1,000 tenants). A tenant with no active webhook gets an empty
// entry, so it is not read again.
func (s *Store) loadSubscriptions(ctx context.Context, tx *txn, b *publishing, subs map[string][]subscription) error {
	var tenants []string
	seen := map[string]bool{}
	for _, p := range b.batch {
		if _, ok := subs[p.TenantID]; !ok && !seen[p.TenantID] {
			seen[p.TenantID] = true
			tenants = append(tenants, p.TenantID)
		}
	}
	if len(tenants) < 2 {
		// One tenant: planPublish reads it with the statement it always
		// used.
		return nil
	}
	for _, t := range tenants {
		subs[t] = nil
	}
	columns := subscriptionColumns
	if b.hand != nil {
		columns += `, ` + sendColumns
	}
	read := func(query string, args ...any) error {
		rows, err := tx.QueryContext(ctx, query, args...)
		if err != nil {
			return fmt.Errorf("load subscriptions: %w", err)
		}
		_, err = collect(rows, func(r rowScanner) (subscription, error) {
			var tenant string
			var sub subscription
			var err error
			if b.hand != nil {
				sub, err = s.scanHandingSubscription(r, b.hand.fields, &tenant)
			} else {
				sub, err = s.scanSubscription(r, &tenant)
			}
			if err == nil {
				subs[tenant] = append(subs[tenant], sub)
			}
			return sub, err
		})
		return err
	}
	if s.d.kind == Postgres {
		q, args := s.subscriptionsOfTenantsQuery(columns, tenants)
		return read(q, args...)
	}
	for lo, hi := range s.runs(len(tenants)) {
		q, args := s.subscriptionsOfTenantsQuery(columns, tenants[lo:hi])
		if err := read(q, args...); err != nil {
			return err
		}
	}
	return nil
}

// subscriptionsOfTenantsQuery reads columns of the active webhooks of
// tenants (on SQLite, at most a run of them). On PostgreSQL it has one
// text whatever the number of tenants, prepared once, and reads each
// tenant's webhooks through the tenant index whatever the statistics say:
// with none (a table never analysed), "tenant_id = ANY($1)" was planned as
// a scan of every webhook, comparing each with every tenant of the batch
// (2.3 ms a statement at 5,000 webhooks, and growing with them). A LATERAL
// subquery PostgreSQL cannot flatten (OFFSET 0) is read once per tenant,
// as activeWebhooksOfOwners does.
func (s *Store) subscriptionsOfTenantsQuery(columns string, tenants []string) (string, []any) {
	if s.d.kind == Postgres {
		return `SELECT w.* FROM unnest($1::text[]) AS t(id) CROSS JOIN LATERAL (SELECT ` + columns + `
			FROM webhooks WHERE tenant_id = t.id AND is_active = TRUE OFFSET 0) AS w`, []any{tenants}
	}
	a := s.d.args(len(tenants))
	return `SELECT ` + columns + ` FROM webhooks WHERE is_active = TRUE AND tenant_id IN (` + listOf(a, tenants) + `)`, a.vals
}

func (s *Store) activeSubscriptions(ctx context.Context, tx *txn, tenantID string) ([]subscription, error) {
	return s.subscriptionsWhere(ctx, tx, "", tenantID)
}

// subscriptionsWhere reads the active webhooks of the tenant ($1) that also
// meet cond, a further condition on their columns ("" for none), whose
// arguments follow the tenant's.
func (s *Store) subscriptionsWhere(ctx context.Context, tx *txn, cond string, args ...any) ([]subscription, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id, events, ordering, ordering_key, filter FROM webhooks WHERE tenant_id = $1 AND is_active = TRUE`+cond, args...)
	if err != nil {
		return nil, fmt.Errorf("load subscriptions: %w", err)
	}
	return collect(rows, func(r rowScanner) (subscription, error) { return s.scanSubscription(r) })
}

// scanSubscription reads a webhook's id, events, ordering, ordering key and
// filter, then any further columns into more.
func (s *Store) scanSubscription(r rowScanner, more ...any) (subscription, error) {
	var sub subscription
	var events, ordering string
	var flt sql.NullString
	if err := r.Scan(append([]any{&sub.webhookID, &events, &ordering, &sub.orderingKey, &flt}, more...)...); err != nil {
		return sub, fmt.Errorf("load subscriptions: %w", err)
	}
	if err := jsonUnmarshalString(events, &sub.patterns); err != nil {
		return sub, fmt.Errorf("decode events of webhook %s: %w", sub.webhookID, err)
	}
	sub.fifo = ordering == OrderingFIFO
	if flt.Valid {
		sub.filtered = true
		sub.filter, _ = s.parsedFilter(sub.webhookID, flt.String)
	}
	return sub, nil
}

// Event returns one of the user's events.
func (s *Store) Event(ctx context.Context, tenantID, id string) (Event, error) {
	var e Event
	var k sql.NullString
	err := s.read.QueryRowContext(ctx, `SELECT id, tenant_id, event_type, payload, occurred_at, idempotency_key, delivery_count, created_at
		FROM events WHERE id = $1 AND tenant_id = $2`, id, tenantID).
		Scan(&e.ID, &e.TenantID, &e.Type, &e.Payload, scanTime{&e.OccurredAt}, &k, &e.DeliveryCount, scanTime{&e.CreatedAt})
	if errors.Is(err, sql.ErrNoRows) {
		return Event{}, fmt.Errorf("store: event %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Event{}, fmt.Errorf("store: event %s: %w", id, err)
	}
	e.IdempotencyKey = k.String
	return e, nil
}
