package store

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Webhook orderings.
const (
	// OrderingNone sends a webhook's deliveries as they fall due, in
	// parallel up to its cap: the default.
	OrderingNone = "none"
	// OrderingFIFO sends the deliveries of one ordering key one at a time,
	// in the order their events were accepted.
	OrderingFIFO = "fifo"
)

// heldUntil is the next_attempt_at of an ordered delivery waiting for the
// one before it: status pending, due at the end of time. The deliveries
// table's status CHECK allows only pending, success and failed, and SQLite
// cannot change a CHECK without rebuilding the table, so a waiting delivery
// is told apart by this time rather than by a status of its own. Every due
// read (the lease window, the per-webhook probe, NextDueAt) walks
// next_attempt_at in order and stops at now, so a waiting delivery is never
// read by them, however many wait: the lease needs no ordering test of its
// own and stays as index-driven as before. When the delivery before it
// finishes (succeeded, or failed for good), promoteNext makes the next one
// of its key due now, in the finishing transaction.
var heldUntil = time.Date(9999, time.January, 1, 0, 0, 0, 0, time.UTC)

// isHeld reports whether a delivery due at t waits for the one before it.
func isHeld(t time.Time) bool { return !t.Before(heldUntil) }

// envelopeTimeLayout is the layout of the envelope's timestamp, as
// internal/wire.TimeLayout writes it (a test holds the two equal); store
// does not import wire.
const envelopeTimeLayout = "2006-01-02T15:04:05.000Z07:00"

// OrderingKeyValue is the ordering key of an event for a webhook ordered
// by path, a dotted path into the envelope the receiver gets ("event",
// "timestamp", "data" or "data.a.b", a number stepping into an array): a
// string as it is, a number as written, true or false, an object or array
// as compact JSON. A path that leads nowhere, or to null, gives the empty
// key, which orders those events among themselves. A key longer than
// maxOrderingKeyBytes is given as "sha256:" and its digest in hex.
func OrderingKeyValue(path, eventType string, occurredAt time.Time, data []byte) string {
	key := orderingKeyValue(path, eventType, occurredAt, data)
	if len(key) > maxOrderingKeyBytes {
		// deliveries_ordering_idx holds the key: PostgreSQL refuses an
		// index row over a page's third (about 2.7 kB, less compressed),
		// and so the whole publish, or outbox batch, with it. Equal keys
		// have equal digests, so the queues stay the same.
		sum := sha256.Sum256([]byte(key))
		return "sha256:" + hex.EncodeToString(sum[:])
	}
	return key
}

// maxOrderingKeyBytes is the longest ordering key stored as it is; a
// longer one is stored as its SHA-256 digest (see OrderingKeyValue).
const maxOrderingKeyBytes = 256

func orderingKeyValue(path, eventType string, occurredAt time.Time, data []byte) string {
	head, rest, _ := strings.Cut(path, ".")
	switch head {
	case "event":
		if rest == "" {
			return eventType
		}
		return ""
	case "timestamp":
		if rest == "" {
			return occurredAt.UTC().Format(envelopeTimeLayout)
		}
		return ""
	case "data":
	default:
		return ""
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return ""
	}
	if rest != "" {
		for _, seg := range strings.Split(rest, ".") {
			switch x := v.(type) {
			case map[string]any:
				v = x[seg]
			case []any:
				i, err := strconv.Atoi(seg)
				if err != nil || i < 0 || i >= len(x) {
					return ""
				}
				v = x[i]
			default:
				return ""
			}
		}
	}
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return ""
		}
		return string(b)
	}
}

// envelopeParts is what an ordering key is read from: the event's type,
// time and data.
type envelopeParts struct {
	eventType  string
	occurredAt time.Time
	data       []byte
}

// orderedSlot is an ordered delivery's place: its key, its sequence number
// and whether it waits for one before it. ok is false for an unordered
// delivery.
type orderedSlot struct {
	ok   bool
	key  string
	seq  int64
	held bool
}

// sequence gives each delivery to a FIFO webhook (fifo maps such a
// webhook to its ordering key's path) among pairs (event id, webhook id)
// its key, its sequence number and whether it must wait; rank orders the
// events as they were accepted (their place in the batch). It returns nil
// when no pair goes to a FIFO webhook.
//
// The numbers come from the webhook's own counter (webhooks.ordering_seq),
// taken with UPDATE … RETURNING in this, the publishing, transaction, not
// from a sequence or a bigserial id. On PostgreSQL, ids drawn from a
// sequence by concurrent transactions commit in any order: a process that
// saw id 11 committed could pass over an id 10 that commits a moment later,
// and send 11 first. The UPDATE locks the webhook's row until commit, so
// two transactions publishing to one FIFO webhook, in one process or in
// several, take their numbers one after the other and the first to take
// them commits before the second can: numbers follow commit order, which
// is acceptance order. The same lock makes "does this key have a delivery
// in the queue already?" (keyWaiting) and the completion that lets the
// next one go (promoteNext, which takes it too) take turns, so a delivery
// cannot be added behind one that finishes unseen, nor promoted past one
// being added. Webhooks are locked in id order, as completions lock them,
// so that two transactions cannot wait for each other. SQLite's single
// writer runs such transactions one at a time anyway.
func (s *Store) sequence(ctx context.Context, tx *txn, pairs [][2]string, fifo map[string]string,
	events map[string]envelopeParts, rank map[string]int) ([]orderedSlot, error) {
	if len(fifo) == 0 {
		return nil, nil
	}
	var idx []int
	counts := map[string]int64{}
	for i, p := range pairs {
		if _, ok := fifo[p[1]]; ok {
			idx = append(idx, i)
			counts[p[1]]++
		}
	}
	if len(idx) == 0 {
		return nil, nil
	}
	// The pairs may come grouped by fan-out size; numbers follow the
	// events' acceptance order.
	slices.SortStableFunc(idx, func(x, y int) int { return cmp.Compare(rank[pairs[x][0]], rank[pairs[y][0]]) })
	next, err := s.takeSeqs(ctx, tx, counts)
	if err != nil {
		return nil, err
	}
	out := make([]orderedSlot, len(pairs))
	keys := map[string][]string{} // by webhook, each key once
	for _, i := range idx {
		p := pairs[i]
		e := events[p[0]]
		key := OrderingKeyValue(fifo[p[1]], e.eventType, e.occurredAt, e.data)
		if !slices.Contains(keys[p[1]], key) {
			keys[p[1]] = append(keys[p[1]], key)
		}
		out[i] = orderedSlot{ok: true, key: key, seq: next[p[1]]}
		next[p[1]]++
	}
	// Each key's queue is read through deliveries_ordering_idx, which
	// gives it in order; a PostgreSQL without statistics would rather
	// read the webhook's whole backlog through its due index and sort it.
	if err := s.d.walkIndexesInOrder(ctx, tx); err != nil {
		return nil, err
	}
	busy := map[[2]string]bool{}
	for webhook, ks := range keys {
		if err := s.keysWaiting(ctx, tx, webhook, ks, busy); err != nil {
			return nil, err
		}
	}
	// The first of a key in this batch waits only for one already
	// queued; the rest wait for it.
	for _, i := range idx {
		k := [2]string{pairs[i][1], out[i].key}
		out[i].held = busy[k]
		busy[k] = true
	}
	return out, nil
}

// keysWaiting adds to busy each of keys that webhook has an ordered
// delivery of still pending (in flight, waiting for a retry, or waiting
// its turn): one statement for a batch's keys, a probe of
// deliveries_ordering_idx each.
func (s *Store) keysWaiting(ctx context.Context, tx *txn, webhook string, keys []string, busy map[[2]string]bool) error {
	for lo, hi := range s.runs(len(keys)) {
		// tx.Tx: the text varies with the number of keys.
		q, args := s.keysWaitingQuery(webhook, keys[lo:hi])
		rows, err := tx.Tx.QueryContext(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("look for pending deliveries of the ordering keys: %w", err)
		}
		found, err := collect(rows, scanString)
		if err != nil {
			return fmt.Errorf("look for pending deliveries of the ordering keys: %w", err)
		}
		for _, k := range found {
			busy[[2]string{webhook, k}] = true
		}
	}
	return nil
}

// takeSeqs reserves counts[w] sequence numbers of each webhook w, locking
// the webhooks' rows in id order until commit (see sequence), and returns
// the first number reserved of each.
func (s *Store) takeSeqs(ctx context.Context, tx *txn, counts map[string]int64) (map[string]int64, error) {
	ids := make([]string, 0, len(counts))
	for id := range counts {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	next := make(map[string]int64, len(ids))
	for _, id := range ids {
		var last int64
		if err := tx.QueryRowContext(ctx, `UPDATE webhooks SET ordering_seq = ordering_seq + $1 WHERE id = $2 RETURNING ordering_seq`,
			counts[id], id).Scan(&last); err != nil {
			return nil, fmt.Errorf("take sequence numbers of webhook %s: %w", id, err)
		}
		next[id] = last - counts[id] + 1
	}
	return next, nil
}

// keyWaiting reports whether webhook has an ordered delivery of key still
// pending (in flight, waiting for a retry, or waiting its turn), through
// deliveries_ordering_idx.
func (s *Store) keyWaiting(ctx context.Context, tx *txn, webhook, key string) (bool, error) {
	var busy bool
	if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM deliveries
		WHERE webhook_id = $1 AND ordering_key = $2 AND status = 'pending' AND seq IS NOT NULL)`, webhook, key).Scan(&busy); err != nil {
		return false, fmt.Errorf("look for a pending delivery of the ordering key: %w", err)
	}
	return busy, nil
}

// keysWaitingQuery is keysWaiting's statement for one run of keys
// (distinct): for each, whether its queue has a first delivery, read as
// promoteNext reads it, in order through deliveries_ordering_idx.
func (s *Store) keysWaitingQuery(webhook string, keys []string) (string, []any) {
	// Placeholders in the order of the text (a bare ? on SQLite).
	a := s.d.args(len(keys) + 1)
	values := make([]string, 0, len(keys))
	for _, k := range keys {
		values = append(values, "("+a.typed(k, "text")+")")
	}
	return `SELECT v.column1 FROM (VALUES ` + strings.Join(values, ", ") + `) AS v
		WHERE (SELECT h.seq FROM deliveries h
			WHERE h.webhook_id = ` + a.add(webhook) + ` AND h.ordering_key = v.column1 AND h.status = 'pending' AND h.seq IS NOT NULL
			ORDER BY h.seq LIMIT 1) IS NOT NULL`, a.vals
}

// promoteNextQuery is promoteNext's statement for one run of keys.
func (s *Store) promoteNextQuery(keys []finishedKey, now time.Time) (string, []any) {
	// Placeholders in the order of the text (a bare ? on SQLite).
	a := s.d.args(2*len(keys) + 3)
	q := `UPDATE deliveries SET next_attempt_at = ` + a.add(s.d.t(now)) + `, updated_at = ` + a.add(s.d.t(now)) + `
		WHERE next_attempt_at >= ` + a.add(s.d.t(heldUntil))
	values := make([]string, 0, len(keys))
	for _, k := range keys {
		values = append(values, "("+a.typed(k.webhook, "text")+", "+a.typed(k.key, "text")+")")
	}
	return q + ` AND id IN (SELECT (SELECT h.id FROM deliveries h
			WHERE h.webhook_id = v.column1 AND h.ordering_key = v.column2 AND h.status = 'pending' AND h.seq IS NOT NULL
			ORDER BY h.seq LIMIT 1) FROM (VALUES ` + strings.Join(values, ", ") + `) AS v)`, a.vals
}

// lockOrdered locks the rows of the given webhooks until commit, in id
// order, as the publish's takeSeqs does: a completion that lets the next
// delivery of a key go and a publish that adds one take turns. SQLite's
// single writer needs no lock.
func (s *Store) lockOrdered(ctx context.Context, tx *txn, ids []string) error {
	if s.d.kind != Postgres || len(ids) == 0 {
		return nil
	}
	ids = slices.Clone(ids)
	slices.Sort(ids)
	for _, id := range ids {
		rows, err := tx.QueryContext(ctx, `SELECT id FROM webhooks WHERE id = $1 FOR NO KEY UPDATE`, id)
		if err != nil {
			return fmt.Errorf("lock ordered webhook %s: %w", id, err)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("lock ordered webhook %s: %w", id, err)
		}
	}
	return nil
}

// finishedKey is a webhook's ordering key whose head delivery finished.
type finishedKey struct{ webhook, key string }

// promoteNext makes the oldest waiting delivery of each finished key due
// now, unless another of the key is still pending (which should not
// happen: a key has one delivery pending and due at most; it keeps the
// queue whole if it does). It reports how many it made due. The caller
// holds the webhooks' locks (lockOrdered).
//
// One statement for the batch: for each key, the head (the lowest
// sequence number still pending, one probe of deliveries_ordering_idx) is
// made due when it is waiting.
func (s *Store) promoteNext(ctx context.Context, tx *txn, keys []finishedKey, now time.Time) (int, error) {
	seen := map[finishedKey]bool{}
	uniq := keys[:0:0]
	for _, k := range keys {
		if !seen[k] {
			seen[k] = true
			uniq = append(uniq, k)
		}
	}
	if err := s.d.walkIndexesInOrder(ctx, tx); err != nil { // see sequence
		return 0, err
	}
	n := 0
	for lo, hi := range s.runs(len(uniq)) {
		// tx.Tx: the text varies with the number of keys.
		q, args := s.promoteNextQuery(uniq[lo:hi], now)
		res, err := tx.Tx.ExecContext(ctx, q, args...)
		if err != nil {
			return n, fmt.Errorf("let the next delivery of each ordering key go: %w", err)
		}
		m, err := res.RowsAffected()
		if err != nil {
			return n, fmt.Errorf("let the next delivery of each ordering key go: %w", err)
		}
		n += int(m)
	}
	return n, nil
}

// requeueOrdered puts finished deliveries of a FIFO webhook back at the
// tail of their keys' queues, in the order given: each gets a new sequence
// number and is due now when its key has nothing pending, else it waits.
// A delivery made before the webhook was ordered has no key yet and is
// given the one its event has under path. The caller has checked that the
// deliveries are the webhook's and finished.
func (s *Store) requeueOrdered(ctx context.Context, tx *txn, webhook, path string, ids []string, now time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	next, err := s.takeSeqs(ctx, tx, map[string]int64{webhook: int64(len(ids))})
	if err != nil {
		return err
	}
	if err := s.d.walkIndexesInOrder(ctx, tx); err != nil { // see sequence
		return err
	}
	seq := next[webhook]
	waiting := map[string]bool{}
	for _, id := range ids {
		var key sql.NullString
		var e envelopeParts
		if err := tx.QueryRowContext(ctx, `SELECT d.ordering_key, e.event_type, e.occurred_at, e.payload
			FROM deliveries d JOIN events e ON e.id = d.event_id WHERE d.id = $1`, id).
			Scan(&key, &e.eventType, scanTime{&e.occurredAt}, &e.data); err != nil {
			return fmt.Errorf("read delivery %s to requeue: %w", id, err)
		}
		if !key.Valid {
			key.String = OrderingKeyValue(path, e.eventType, e.occurredAt, e.data)
		}
		busy, seen := waiting[key.String]
		if !seen {
			if busy, err = s.keyWaiting(ctx, tx, webhook, key.String); err != nil {
				return err
			}
		}
		waiting[key.String] = true
		due := now
		if busy {
			due = heldUntil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE deliveries SET status = 'pending', ordering_key = $1, seq = $2, next_attempt_at = $3,
			lease_token = NULL, updated_at = $4 WHERE id = $5`, key.String, seq, s.d.t(due), s.d.t(now), id); err != nil {
			return fmt.Errorf("requeue delivery %s: %w", id, err)
		}
		seq++
	}
	return nil
}

// webhookOrdering reads a webhook's ordering and its key's path, and with
// lock, on PostgreSQL, locks its row until commit as a publish does (see
// sequence).
func (s *Store) webhookOrdering(ctx context.Context, tx *txn, webhook string, lock bool) (string, string, error) {
	var ordering, path string
	q := `SELECT ordering, ordering_key FROM webhooks WHERE id = $1`
	if lock && s.d.kind == Postgres {
		q += ` FOR NO KEY UPDATE`
	}
	if err := tx.QueryRowContext(ctx, q, webhook).Scan(&ordering, &path); err != nil {
		return "", "", fmt.Errorf("read ordering of webhook %s: %w", webhook, err)
	}
	return ordering, path, nil
}

// unorder releases a webhook's waiting deliveries, due now, and forgets
// the ordering of its pending ones: the webhook is no longer ordered.
func (s *Store) unorder(ctx context.Context, tx *txn, webhook string, now time.Time) (int64, error) {
	res, err := tx.ExecContext(ctx, `UPDATE deliveries SET ordering_key = NULL, seq = NULL, updated_at = $1,
			next_attempt_at = CASE WHEN next_attempt_at >= $2 THEN $1 ELSE next_attempt_at END
		WHERE webhook_id = $3 AND status = 'pending' AND seq IS NOT NULL`, s.d.t(now), s.d.t(heldUntil), webhook)
	if err != nil {
		return 0, fmt.Errorf("release ordered deliveries: %w", err)
	}
	return res.RowsAffected()
}
