package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Handoff is this process's dispatcher as a publish sees it: it holds free
// workers for the deliveries a publish is about to insert, and after the
// commit takes those the publish inserted already leased to it. A handed
// delivery costs no lease transaction: on SQLite the lease was a third of
// the writer's transactions per delivery (the publish, the lease, the
// completion), 11–24% of webhookd's CPU.
//
// The rows are leased exactly as LeaseDue leases them (a lease token, due
// again at now plus the lease), so completion's fencing, expiry after a
// crash and takeover by another process work unchanged.
type Handoff interface {
	// Reserve holds up to n free workers for one publish, before its
	// transaction begins, so that no lease meanwhile counts them free; nil
	// when it can take none (none free, not running, stopping).
	Reserve(n int) Reservation
}

// Reservation is the workers Handoff.Reserve held for one publish. Exactly
// one of Adopt and Cancel ends it.
type Reservation interface {
	// Claim takes one reserved worker for a delivery to webhookID, owned
	// by tenantID, if that webhook's and owner's caps on sends in flight
	// allow another, and counts it against them at once; false when they
	// do not or no reserved worker is left.
	Claim(webhookID, tenantID string) bool
	// LeaseFor is how long the dispatcher's leases hold.
	LeaseFor() time.Duration
	// Adopt sends the claimed deliveries, leased by the committed
	// transaction, and frees the reserved workers left unused. Should the
	// dispatcher have begun to stop, it releases them instead
	// (ReleaseDeliveries): they are never dropped.
	Adopt(leased []LeasedDelivery)
	// Cancel frees every reserved worker and claim: the transaction did
	// not commit, so nothing was leased.
	Cancel()
}

// handoffReserve is how many workers a publish asks to reserve: the most a
// transaction's deliveries could use, which the dispatcher cuts to its
// free workers and its lease batch.
func (s *Store) handoffReserve() int { return s.chunk() }

// sendColumns is what a publish reads of each webhook beside its
// subscription, to hand its deliveries over with everything sending
// needs (as leasedColumns does for a lease), in scanSendFields' order.
const sendColumns = `url, secret, previous_secret, previous_secret_expires_at, headers, rate_limit, timeout_seconds`

// sendFields is what sending needs of a webhook, read with its
// subscription when the publish may hand deliveries over.
type sendFields struct {
	url, secret    string
	previousSecret sql.NullString
	previousUntil  *time.Time
	headers        string
	rateLimit      int
	timeout        int
}

// handingSubscriptions is activeSubscriptions with each webhook's
// sendFields, by webhook id.
func (s *Store) handingSubscriptions(ctx context.Context, tx *txn, tenantID string, fields map[string]*sendFields) ([]subscription, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id, events, ordering, ordering_key, filter, `+sendColumns+`
		FROM webhooks WHERE tenant_id = $1 AND is_active = TRUE`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("load subscriptions: %w", err)
	}
	return collect(rows, func(r rowScanner) (subscription, error) { return s.scanHandingSubscription(r, fields) })
}

// scanHandingSubscription is scanSubscription reading more, then the
// webhook's sendFields (sendColumns), which it stores in fields.
func (s *Store) scanHandingSubscription(r rowScanner, fields map[string]*sendFields, more ...any) (subscription, error) {
	f := &sendFields{}
	var rateLimit, timeout sql.NullInt64
	sub, err := s.scanSubscription(r, append(more, &f.url, &f.secret, &f.previousSecret, scanNullTime{&f.previousUntil}, &f.headers, &rateLimit, &timeout)...)
	if err != nil {
		return sub, err
	}
	f.rateLimit, f.timeout = int(rateLimit.Int64), int(timeout.Int64)
	fields[sub.webhookID] = f
	return sub, nil
}

// handing is what a publish hands over: the reservation it claims
// deliveries from, and the webhooks' sendFields.
type handing struct {
	r      Reservation
	fields map[string]*sendFields
	// headers caches each webhook's decoded headers for this publish.
	headers map[string]map[string]string
	leased  []LeasedDelivery
}

// handOut claims from h's reservation the deliveries of pairs that may be
// handed over and returns the rest, with their slots, for insertDeliveries.
// Never handed: deliveries to FIFO webhooks (the next of a key waits for
// the one before, which only the lease query knows) and to rate-limited
// ones (the dispatcher paces them as it leases). Test sends never come
// through a publish.
func (h *handing) handOut(b *publishing, pairs [][2]string, slots []orderedSlot) ([][2]string, []orderedSlot, []handedPair) {
	if h == nil || h.r == nil || len(pairs) == 0 {
		return pairs, slots, nil
	}
	event := make(map[string]int, len(b.fresh))
	for _, i := range b.fresh {
		event[b.results[i].Event.ID] = i
	}
	var handed []handedPair
	restPairs := pairs[:0:0]
	var restSlots []orderedSlot
	for k, p := range pairs {
		f := h.fields[p[1]]
		i, ok := event[p[0]]
		if ok && f != nil && f.rateLimit == 0 && (slots == nil || !slots[k].ok) && !b.fifoHook(p[1]) &&
			h.r.Claim(p[1], b.results[i].Event.TenantID) {
			handed = append(handed, handedPair{id: NewID(), event: i, webhookID: p[1]})
			b.results[i].Handed++
			continue
		}
		restPairs = append(restPairs, p)
		if slots != nil {
			restSlots = append(restSlots, slots[k])
		}
	}
	if handed == nil {
		return pairs, slots, nil
	}
	return restPairs, restSlots, handed
}

// fifoHook reports whether the publish found webhookID to be a FIFO
// webhook.
func (b *publishing) fifoHook(webhookID string) bool {
	_, ok := b.fifo[webhookID]
	return ok
}

// handedPair is a delivery a publish hands over: its new id, the index of
// its event in the batch, and its webhook.
type handedPair struct {
	id        string
	event     int
	webhookID string
}

// insertHanded inserts the handed deliveries leased under one token, due
// again when the lease ends, exactly as LeaseDue would have left them, and
// builds what sending each needs.
func (s *Store) insertHanded(ctx context.Context, tx *txn, b *publishing, h *handing, handed []handedPair) error {
	if len(handed) == 0 {
		return nil
	}
	token := NewID()
	until := b.now.Add(h.r.LeaseFor())
	if err := s.insertLeasedRows(ctx, tx, handed, b.results, token, b.now, until); err != nil {
		return err
	}
	h.leased = make([]LeasedDelivery, 0, len(handed))
	for _, p := range handed {
		e := b.results[p.event].Event
		f := h.fields[p.webhookID]
		headers, err := h.headersOf(p.webhookID, f.headers)
		if err != nil {
			return err
		}
		h.leased = append(h.leased, LeasedDelivery{
			ID: p.id, LeaseToken: token, Attempt: 1, EventID: e.ID, EventType: e.Type, Payload: e.Payload, OccurredAt: e.OccurredAt,
			WebhookID: p.webhookID, TenantID: e.TenantID, URL: f.url, Secret: f.secret,
			PreviousSecret: Webhook{PreviousSecret: f.previousSecret.String, PreviousSecretExpiresAt: f.previousUntil}.SigningPreviousSecret(b.now),
			Headers:        headers, TimeoutSeconds: f.timeout, LeaseExpiresAt: until,
		})
	}
	return nil
}

// headersOf decodes a webhook's headers once per publish; the deliveries
// of one webhook share the map, which sending only reads.
func (h *handing) headersOf(webhookID, raw string) (map[string]string, error) {
	if m, ok := h.headers[webhookID]; ok {
		return m, nil
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		return nil, fmt.Errorf("decode headers of webhook %s: %w", webhookID, err)
	}
	if h.headers == nil {
		h.headers = map[string]map[string]string{}
	}
	h.headers[webhookID] = m
	return m, nil
}

// insertLeasedRows inserts handed deliveries as pending rows leased under
// token until until.
func (s *Store) insertLeasedRows(ctx context.Context, tx *txn, handed []handedPair, results []PublishResult, token string, now, until time.Time) error {
	if s.d.kind == Postgres {
		ids, events, webhooks := make([]string, len(handed)), make([]string, len(handed)), make([]string, len(handed))
		for i, p := range handed {
			ids[i], events[i], webhooks[i] = p.id, results[p.event].Event.ID, p.webhookID
		}
		err := s.insertChecksCached(ctx, tx, len(handed), nil,
			`INSERT INTO deliveries (id, event_id, webhook_id, next_attempt_at, created_at, updated_at, status, attempts, lease_token)
				SELECT v.id, v.event_id, v.webhook_id, $5, $4, $4, 'pending', 0, $6 FROM unnest($1::text[], $2::text[], $3::text[]) AS v (id, event_id, webhook_id)`,
			ids, events, webhooks, s.d.t(now), s.d.t(until), token)
		if err != nil {
			return fmt.Errorf("insert handed deliveries: %w", err)
		}
		return nil
	}
	for lo, hi := range s.runs(len(handed)) {
		const columns = 7
		a := s.d.args(columns * (hi - lo))
		t, due := s.d.t(now), s.d.t(until)
		values := make([]string, 0, hi-lo)
		for _, p := range handed[lo:hi] {
			values = append(values, "("+a.list(p.id, results[p.event].Event.ID, p.webhookID, due, t, t, token)+", 'pending', 0)")
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO deliveries (id, event_id, webhook_id, next_attempt_at, created_at, updated_at, lease_token, status, attempts)
			VALUES `+strings.Join(values, ", "), a.vals...); err != nil {
			return fmt.Errorf("insert handed deliveries: %w", err)
		}
	}
	return nil
}
