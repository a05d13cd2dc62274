package store

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

// FanOutChunk is the most deliveries one transaction inserts. A publish
// whose events match more webhooks than this commits its events (with as
// many whole events' deliveries as fit) and a fanouts row for each of the
// rest, then inserts their deliveries FanOutChunk at a time in transactions
// of their own, so that another owner's publish waits for at most one such
// chunk rather than for the whole fan-out. Most publishes (an event or a
// few, each matching a handful of webhooks) fit in one chunk and take the
// single-transaction path unchanged.
const FanOutChunk = 2000

// WithMaxWebhooksPerOwner makes CreateWebhook refuse, with a
// *WebhookLimitError, a webhook beyond n for one owner (0: no limit).
func WithMaxWebhooksPerOwner(n int) Option {
	return func(s *Store) { s.limits.webhooksPerOwner = n }
}

// WithMaxDeliveriesPerRequest makes PublishEvents refuse, with a
// *DeliveryLimitError, a batch whose events would create more than n
// deliveries in all (0: no limit).
func WithMaxDeliveriesPerRequest(n int) Option {
	return func(s *Store) { s.limits.deliveriesPerRequest = n }
}

// limits are the configured bounds on what one owner or request may create.
type limits struct {
	webhooksPerOwner     int
	deliveriesPerRequest int
	// fanOutChunk overrides FanOutChunk in tests (0: FanOutChunk).
	fanOutChunk int
	// afterFanOutStep, when set (tests), runs after each fan-out
	// transaction commits.
	afterFanOutStep func()
}

func (s *Store) chunk() int {
	if s.limits.fanOutChunk > 0 {
		return s.limits.fanOutChunk
	}
	return FanOutChunk
}

// WebhookLimitError is returned by CreateWebhook when the owner already has
// the most webhooks WithMaxWebhooksPerOwner allows.
type WebhookLimitError struct{ Limit int }

// Error implements error.
func (e *WebhookLimitError) Error() string {
	return fmt.Sprintf("store: limit of %d webhooks per owner reached", e.Limit)
}

// DeliveryLimitError is returned by PublishEvents when a batch would create
// more deliveries than WithMaxDeliveriesPerRequest allows; nothing is
// created.
type DeliveryLimitError struct{ Deliveries, Limit int }

// Error implements error.
func (e *DeliveryLimitError) Error() string {
	return fmt.Sprintf("store: the events would create %d deliveries, more than the limit of %d per request", e.Deliveries, e.Limit)
}

// IdempotencyConflictError is returned by PublishEvents when an idempotency
// key is used again, within IdempotencyWindow, for an event whose type,
// data or timestamp differ from the event the key first named (or from an
// earlier event of the same batch). Nothing is created.
type IdempotencyConflictError struct {
	Index int // the event's place in the batch
	Key   string
}

// Error implements error.
func (e *IdempotencyConflictError) Error() string {
	return fmt.Sprintf("store: idempotency key %q was already used with different content", e.Key)
}

// sameContent reports whether p is the event prev described again: the same
// type, the same data as JSON values (whitespace and key order aside), and,
// when p gives a timestamp, the same one to the millisecond kept.
func sameContent(prevType string, prevPayload []byte, prevAt time.Time, p PublishParams) bool {
	if prevType != p.Type || !sameJSON(prevPayload, p.Payload) {
		return false
	}
	return !p.HasTimestamp || prevAt.Equal(p.OccurredAt.UTC().Truncate(time.Millisecond))
}

// sameJSON compares two JSON documents as values: objects by their members
// whatever their order, numbers by their text.
func sameJSON(a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	ca, errA := canonicalJSON(a)
	cb, errB := canonicalJSON(b)
	return errA == nil && errB == nil && bytes.Equal(ca, cb)
}

func canonicalJSON(b []byte) ([]byte, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return json.Marshal(v) // maps marshal with sorted keys
}

// pendingFanOut is an event whose deliveries are created after its
// transaction, FanOutChunk at a time.
type pendingFanOut struct {
	eventID string
	last    string // the greatest webhook id it matched when accepted
}

// insertFanOuts records events whose fan-out is still to be done.
func (s *Store) insertFanOuts(ctx context.Context, tx *txn, pending []pendingFanOut) error {
	const columns = 2
	for lo, hi := range s.runs(len(pending)) {
		chunk := pending[lo:hi]
		a := s.d.args(columns * len(chunk))
		values := make([]string, 0, len(chunk))
		for _, p := range chunk {
			values = append(values, a.row(p.eventID, p.last))
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO fanouts (event_id, last_webhook_id) VALUES `+strings.Join(values, ", "), a.vals...); err != nil {
			return fmt.Errorf("insert fan-outs: %w", err)
		}
	}
	return nil
}

// finishFanOut creates the deliveries of the given events' pending
// fan-outs, one bounded transaction at a time, and returns once none is
// left. It runs to the end whatever ctx does, apart from its values: the
// events are accepted, and a fan-out stopped half way waits for
// ResumeFanOuts.
func (s *Store) finishFanOut(ctx context.Context, eventIDs []string) error {
	ctx = context.WithoutCancel(ctx)
	ids := slices.Clone(eventIDs)
	for len(ids) > 0 {
		done, _, more, err := s.fanOutStep(ctx, ids)
		if err != nil {
			return fmt.Errorf("store: fan out: %w", err)
		}
		if !more {
			return nil
		}
		ids = slices.DeleteFunc(ids, func(id string) bool { return done[id] })
	}
	return nil
}

// ResumeFanOuts finishes every pending fan-out, such as one a stopped
// process left half done, and returns how many deliveries it created.
func (s *Store) ResumeFanOuts(ctx context.Context) (int, error) {
	total := 0
	for ctx.Err() == nil {
		_, n, more, err := s.fanOutStep(ctx, nil)
		total += n
		if err != nil {
			return total, fmt.Errorf("store: resume fan-outs: %w", err)
		}
		if !more {
			return total, nil
		}
	}
	return total, ctx.Err()
}

// RunFanOuts calls ResumeFanOuts now and then every interval until ctx
// ends, calling wake when it created deliveries. A publish finishes its own
// fan-out before it answers; this finishes those a stopped process (or a
// failed transaction) left behind.
func (s *Store) RunFanOuts(ctx context.Context, every time.Duration, wake func(), logger *slog.Logger) {
	for {
		n, err := s.ResumeFanOuts(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			logger.Warn("resume fan-outs", "err", err)
		case n > 0:
			logger.Info("resumed unfinished fan-outs", "deliveries", n)
			wake()
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

// fanOutStep inserts at most one chunk of deliveries for pending fan-outs
// (those of eventIDs, or any when eventIDs is nil) in one transaction. It
// reports the events whose fan-out it finished, how many deliveries it
// created, and whether any of the fan-outs it looked at remain.
//
// Each event's matching webhooks are taken in id order after the row's
// progress and up to the greatest one it matched when accepted, so a
// webhook created since does not receive it, and the progress is written
// in the same transaction as the deliveries: a fan-out stopped at any point
// resumes without creating a delivery twice. On PostgreSQL the rows are
// locked, so two processes resuming at once take turns.
func (s *Store) fanOutStep(ctx context.Context, eventIDs []string) (map[string]bool, int, bool, error) {
	budget := s.chunk()
	done := map[string]bool{}
	inserted, more := 0, false
	err := s.inTx(ctx, func(tx *txn) error {
		clear(done)
		todo, loadedMore, err := s.loadFanOuts(ctx, tx, eventIDs, budget)
		if err != nil {
			return err
		}
		pairs, finished, advancedMore, fifo, err := s.advanceFanOuts(ctx, tx, todo, budget)
		if err != nil {
			return err
		}
		more = loadedMore || advancedMore
		slots, err := s.sequence(ctx, tx, pairs, fifo, fanOutEnvelopes(todo), fanOutRanks(todo))
		if err != nil {
			return err
		}
		if err := s.insertDeliveries(ctx, tx, pairs, slots, s.Now()); err != nil {
			return err
		}
		for lo, hi := range s.runs(len(finished)) {
			a := s.d.args(hi - lo)
			if _, err := tx.ExecContext(ctx, `DELETE FROM fanouts WHERE event_id IN (`+listOf(a, finished[lo:hi])+`)`, a.vals...); err != nil {
				return fmt.Errorf("finish fan-outs: %w", err)
			}
		}
		for _, id := range finished {
			done[id] = true
		}
		inserted = len(pairs)
		if inserted > 0 {
			return s.notifyWork(ctx, tx)
		}
		return nil
	})
	if err != nil {
		return nil, 0, false, err
	}
	if inserted > 0 {
		s.wakeSelf()
	}
	if hook := s.limits.afterFanOutStep; hook != nil {
		hook()
	}
	return done, inserted, more, nil
}

// fanOutRow is one pending fan-out as fanOutStep reads it: its event, the
// progress so far (after) and the greatest webhook id it may reach (last).
type fanOutRow struct {
	eventID, after, last, tenantID, eventType string
	// occurredAt and payload are read for ordering keys.
	occurredAt time.Time
	payload    []byte
}

// fanOutEnvelopes returns what the events' ordering keys are read from.
func fanOutEnvelopes(todo []fanOutRow) map[string]envelopeParts {
	out := make(map[string]envelopeParts, len(todo))
	for _, r := range todo {
		out[r.eventID] = envelopeParts{eventType: r.eventType, occurredAt: r.occurredAt, data: r.payload}
	}
	return out
}

// fanOutRanks orders the events by id, which is time-ordered: as near to
// acceptance order as a fan-out finished later knows.
func fanOutRanks(todo []fanOutRow) map[string]int {
	ids := make([]string, len(todo))
	for i, r := range todo {
		ids[i] = r.eventID
	}
	slices.Sort(ids)
	out := make(map[string]int, len(ids))
	for i, id := range ids {
		out[id] = i
	}
	return out
}

// loadFanOuts reads, and on PostgreSQL locks, up to budget pending
// fan-outs (those of eventIDs, or any when eventIDs is nil), and reports
// whether more may be waiting past them.
func (s *Store) loadFanOuts(ctx context.Context, tx *txn, eventIDs []string, budget int) ([]fanOutRow, bool, error) {
	more := false
	q := `SELECT f.event_id, f.after_webhook_id, f.last_webhook_id, e.tenant_id, e.event_type, e.occurred_at, e.payload
		FROM fanouts f JOIN events e ON e.id = f.event_id`
	a := s.d.args(budget)
	if eventIDs != nil {
		ids := eventIDs[:min(len(eventIDs), budget)]
		q += ` WHERE f.event_id IN (` + listOf(a, ids) + `)`
		more = len(ids) < len(eventIDs)
	}
	q += fmt.Sprintf(` ORDER BY f.event_id LIMIT %d`, budget) + s.d.forUpdate("f")
	// The statement's text varies with the number of ids, so it
	// bypasses the writer's prepared-statement cache.
	rows, err := tx.Tx.QueryContext(ctx, q, a.vals...)
	if err != nil {
		return nil, false, fmt.Errorf("load fan-outs: %w", err)
	}
	todo, err := collect(rows, func(sc rowScanner) (fanOutRow, error) {
		var r fanOutRow
		err := sc.Scan(&r.eventID, &r.after, &r.last, &r.tenantID, &r.eventType, scanTime{&r.occurredAt}, &r.payload)
		return r, err
	})
	if err != nil {
		return nil, false, fmt.Errorf("load fan-outs: %w", err)
	}
	return todo, more || len(todo) == budget, nil
}

// advanceFanOuts takes each fan-out's matching webhooks in id order after
// its progress, up to budget deliveries in all, and records the progress
// of those it could not finish. It returns the deliveries to insert, the
// events whose fan-out they finish, whether any fan-out remains, and the
// FIFO webhooks among them with their keys' paths.
func (s *Store) advanceFanOuts(ctx context.Context, tx *txn, todo []fanOutRow, budget int) ([][2]string, []string, bool, map[string]string, error) {
	subs := map[string][]subscription{}
	fifo := map[string]string{}
	var pairs [][2]string
	var finished []string
	more := false
	spans := fanOutSpans(todo)
	for _, r := range todo {
		if len(pairs) == budget {
			more = true
			break
		}
		ws, ok := subs[r.tenantID]
		if !ok {
			// Only the webhooks past the tenant's fan-outs' progress,
			// compared as Go compares them (webhookIDRange); the loop
			// below checks each against its own fan-out's bounds.
			var err error
			span := spans[r.tenantID]
			if ws, err = s.subscriptionsWhere(ctx, tx, s.d.webhookIDRange(), r.tenantID, span[0], span[1]); err != nil {
				return nil, nil, false, nil, err
			}
			s.fanOutWebhooksRead.Add(int64(len(ws)))
			slices.SortFunc(ws, func(a, b subscription) int { return cmp.Compare(a.webhookID, b.webhookID) })
			subs[r.tenantID] = ws
		}
		complete := true
		progress := r.after
		var env envelopeCache
		for _, w := range ws {
			if w.webhookID <= r.after || w.webhookID > r.last || !MatchAnyPattern(w.patterns, r.eventType) ||
				!env.passes(w, r.eventType, r.occurredAt, r.payload) {
				continue
			}
			if len(pairs) == budget {
				complete = false
				break
			}
			pairs = append(pairs, [2]string{r.eventID, w.webhookID})
			if w.fifo {
				fifo[w.webhookID] = w.orderingKey
			}
			progress = w.webhookID
		}
		if complete {
			finished = append(finished, r.eventID)
			continue
		}
		more = true
		if _, err := tx.ExecContext(ctx, `UPDATE fanouts SET after_webhook_id = $1 WHERE event_id = $2`, progress, r.eventID); err != nil {
			return nil, nil, false, nil, fmt.Errorf("record fan-out progress: %w", err)
		}
	}
	return pairs, finished, more, fifo, nil
}

// fanOutSpans returns, for each tenant of todo, the least progress and the
// greatest last webhook id of its fan-outs: every webhook any of them may
// still reach lies past the first and up to the second.
func fanOutSpans(todo []fanOutRow) map[string][2]string {
	out := make(map[string][2]string, 1)
	for _, r := range todo {
		span, ok := out[r.tenantID]
		if !ok {
			span = [2]string{r.after, r.last}
		}
		span[0], span[1] = min(span[0], r.after), max(span[1], r.last)
		out[r.tenantID] = span
	}
	return out
}

// insertDeliveriesFromArrays is insertDeliveries on PostgreSQL: the pairs
// go as three arrays in one statement, however many, instead of as
// multi-row VALUES lists of six parameters a row, which PostgreSQL binds
// and plans again on every execution (a 10,000-webhook fan-out's 10,000
// rows went as 50 statements of 1,200 parameters).
func (s *Store) insertDeliveriesFromArrays(ctx context.Context, tx *txn, pairs [][2]string, slots []orderedSlot, now time.Time) error {
	if len(pairs) == 0 {
		return nil
	}
	ids, events, webhooks := make([]string, len(pairs)), make([]string, len(pairs)), make([]string, len(pairs))
	for i, p := range pairs {
		ids[i], events[i], webhooks[i] = NewID(), p[0], p[1]
	}
	if slots != nil {
		return s.insertOrderedFromArrays(ctx, tx, ids, events, webhooks, slots, now)
	}
	err := s.insertChecksCached(ctx, tx, len(pairs), nil,
		`INSERT INTO deliveries (id, event_id, webhook_id, next_attempt_at, created_at, updated_at, status, attempts)
			SELECT v.id, v.event_id, v.webhook_id, $4, $4, $4, 'pending', 0 FROM unnest($1::text[], $2::text[], $3::text[]) AS v (id, event_id, webhook_id)`,
		ids, events, webhooks, s.d.t(now))
	if err != nil {
		return fmt.Errorf("insert deliveries: %w", err)
	}
	return nil
}

// insertOrderedFromArrays is insertDeliveriesFromArrays for a batch with
// ordered deliveries: their keys and sequence numbers go as two more
// arrays (NULL for an unordered delivery), and a held one is due at
// heldUntil.
func (s *Store) insertOrderedFromArrays(ctx context.Context, tx *txn, ids, events, webhooks []string, slots []orderedSlot, now time.Time) error {
	keys, seqs, held := make([]pgtype.Text, len(ids)), make([]pgtype.Int8, len(ids)), make([]bool, len(ids))
	for i, sl := range slots {
		if sl.ok {
			keys[i], seqs[i], held[i] = pgtype.Text{String: sl.key, Valid: true}, pgtype.Int8{Int64: sl.seq, Valid: true}, sl.held
		}
	}
	err := s.insertChecksCached(ctx, tx, len(ids), nil,
		`INSERT INTO deliveries (id, event_id, webhook_id, next_attempt_at, created_at, updated_at, status, attempts, ordering_key, seq)
			SELECT v.id, v.event_id, v.webhook_id, CASE WHEN v.held THEN $8::timestamptz ELSE $4::timestamptz END, $4, $4, 'pending', 0, v.ordering_key, v.seq
			FROM unnest($1::text[], $2::text[], $3::text[], $5::text[], $6::bigint[], $7::boolean[]) AS v (id, event_id, webhook_id, ordering_key, seq, held)`,
		ids, events, webhooks, s.d.t(now), keys, seqs, held, s.d.t(heldUntil))
	if err != nil {
		return fmt.Errorf("insert deliveries: %w", err)
	}
	return nil
}
