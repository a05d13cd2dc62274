package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Page asks for one page of a newest-first list: at most Limit rows whose
// ids sort before Before (all rows when Before is empty).
type Page struct {
	Before string
	Limit  int
}

// CreateWebhookParams is what a new webhook is made of.
type CreateWebhookParams struct {
	TenantID string
	// CreatedBy is the member creating it (a user's id or a trusted
	// token's subject).
	CreatedBy      string
	Name           string
	URL            string
	Events         []string
	Secret         string
	Description    string
	IsActive       bool
	Headers        map[string]string
	RateLimit      int
	TimeoutSeconds int
	// Ordering is OrderingNone ("" too) or OrderingFIFO, with OrderingKey.
	Ordering    string
	OrderingKey string
	// Filter is the payload filter as compact JSON (package filter), which
	// the caller has validated; nil for none.
	Filter []byte
}

const webhookColumns = `id, tenant_id, name, url, events, secret, description, is_active, created_at, updated_at,
	previous_secret, previous_secret_expires_at, disabled_reason, disabled_at, headers, rate_limit, timeout_seconds, created_by,
	ordering, ordering_key, filter`

// CreateWebhook stores a new webhook with an empty statistics row, or
// returns a *WebhookLimitError when the owner already has as many as
// WithMaxWebhooksPerOwner allows.
func (s *Store) CreateWebhook(ctx context.Context, p CreateWebhookParams) (Webhook, error) {
	now := s.Now()
	w := Webhook{
		ID: NewID(), TenantID: p.TenantID, CreatedBy: p.CreatedBy, Name: p.Name, URL: p.URL, Events: p.Events,
		Secret: p.Secret, Description: p.Description, IsActive: p.IsActive,
		Headers: p.Headers, RateLimit: p.RateLimit, TimeoutSeconds: p.TimeoutSeconds, Filter: nullBytes(p.Filter),
		Ordering: p.Ordering, OrderingKey: p.OrderingKey,
		CreatedAt: now, UpdatedAt: now,
	}
	if w.Ordering == "" {
		w.Ordering = OrderingNone
	}
	if w.Headers == nil {
		w.Headers = map[string]string{}
	}
	events, err := json.Marshal(w.Events)
	if err != nil {
		return Webhook{}, fmt.Errorf("store: create webhook: encode events: %w", err)
	}
	headers, err := json.Marshal(w.Headers)
	if err != nil {
		return Webhook{}, fmt.Errorf("store: create webhook: encode headers: %w", err)
	}
	err = s.inTx(ctx, func(tx *txn) error {
		if err := s.checkWebhookLimit(ctx, tx, w.TenantID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO webhooks (id, tenant_id, name, url, events, secret, description, is_active,
			created_at, updated_at, headers, rate_limit, timeout_seconds, created_by, ordering, ordering_key, filter)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
			w.ID, w.TenantID, w.Name, w.URL, string(events), w.Secret, w.Description, w.IsActive, s.d.t(now), s.d.t(now),
			string(headers), nullInt(w.RateLimit), nullInt(w.TimeoutSeconds), w.CreatedBy, w.Ordering, w.OrderingKey, nullText(w.Filter)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO webhook_stats (webhook_id) VALUES ($1)`, w.ID)
		return err
	})
	if isForeignKeyViolation(err) {
		return Webhook{}, fmt.Errorf("store: create webhook: %s: %w", w.TenantID, ErrTenantNotFound)
	}
	if err != nil {
		return Webhook{}, fmt.Errorf("store: create webhook: %w", err)
	}
	return w, nil
}

// checkWebhookLimit refuses one more webhook for an owner at the limit.
// Two creates must not both count the owner below it and both insert: on
// SQLite the writer runs one transaction at a time, and on PostgreSQL the
// owner's row is locked first (dialect.lockOwner), so creates for one
// owner take turns.
func (s *Store) checkWebhookLimit(ctx context.Context, tx *txn, tenantID string) error {
	limit := s.limits.webhooksPerOwner
	if limit <= 0 {
		return nil
	}
	if err := s.d.lockOwner(ctx, tx, tenantID); err != nil {
		return err
	}
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM webhooks WHERE tenant_id = $1`, tenantID).Scan(&n); err != nil {
		return fmt.Errorf("count webhooks: %w", err)
	}
	if n >= limit {
		return &WebhookLimitError{Limit: limit}
	}
	return nil
}

// Webhook returns one of the user's webhooks, or ErrNotFound.
func (s *Store) Webhook(ctx context.Context, tenantID, id string) (Webhook, error) {
	row := s.queryRow(ctx, `SELECT `+webhookColumns+` FROM webhooks WHERE id = $1 AND tenant_id = $2`, id, tenantID)
	w, err := scanWebhook(row)
	if errors.Is(err, sql.ErrNoRows) {
		return Webhook{}, fmt.Errorf("store: webhook %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Webhook{}, fmt.Errorf("store: webhook %s: %w", id, err)
	}
	return w, nil
}

// ListWebhooks returns one page of the user's webhooks, newest first, and
// the id to pass as Page.Before for the next page ("" on the last page).
func (s *Store) ListWebhooks(ctx context.Context, tenantID string, page Page) ([]Webhook, string, error) {
	q := `SELECT ` + webhookColumns + ` FROM webhooks WHERE tenant_id = $1`
	args := []any{tenantID}
	if page.Before != "" {
		q += ` AND id < $2`
		args = append(args, page.Before)
	}
	q += fmt.Sprintf(` ORDER BY id DESC LIMIT %d`, page.Limit+1)
	rows, err := s.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("store: list webhooks: %w", err)
	}
	out, err := collect(rows, scanWebhook)
	if err != nil {
		return nil, "", fmt.Errorf("store: list webhooks: %w", err)
	}
	out, next := trimPage(out, page.Limit, func(w Webhook) string { return w.ID })
	return out, next, nil
}

// trimPage cuts a page fetched with one extra row and reports the cursor for
// the next page when that extra row existed.
func trimPage[T any](rows []T, limit int, id func(T) string) ([]T, string) {
	if len(rows) <= limit {
		return rows, ""
	}
	rows = rows[:limit]
	return rows, id(rows[len(rows)-1])
}

// WebhookPatch holds the fields of a partial update; nil means unchanged.
type WebhookPatch struct {
	Name           *string
	URL            *string
	Events         *[]string
	Secret         *string
	Description    *string
	IsActive       *bool
	Headers        *map[string]string
	RateLimit      *int // 0 removes the cap
	TimeoutSeconds *int // 0 returns to the default
	// Ordering changes the ordering; to OrderingNone it also clears
	// OrderingKey (unless given) and lets every waiting delivery go.
	// OrderingKey changes the path for events accepted afterwards:
	// deliveries already queued keep the key they were given.
	Ordering    *string
	OrderingKey *string
	// Filter replaces the payload filter (compact JSON, validated by the
	// caller); pointing at an empty slice removes it.
	Filter *[]byte
}

// patchSets is the SET list of an UPDATE of webhooks that applies p, with
// its arguments added to a; updated_at is always set.
func (s *Store) patchSets(a *args, p WebhookPatch) ([]string, error) {
	sets := []string{}
	add := func(col string, v any) {
		sets = append(sets, col+" = "+a.add(v))
	}
	if p.Name != nil {
		add("name", *p.Name)
	}
	if p.URL != nil {
		add("url", *p.URL)
	}
	if p.Events != nil {
		b, err := json.Marshal(*p.Events)
		if err != nil {
			return nil, fmt.Errorf("encode events: %w", err)
		}
		add("events", string(b))
	}
	if p.Secret != nil {
		add("secret", *p.Secret)
		// Setting a secret outright ends any rotation's grace period:
		// otherwise deliveries would be signed with the new secret and one
		// from before the rotation.
		sets = append(sets, "previous_secret = NULL", "previous_secret_expires_at = NULL")
	}
	if p.Description != nil {
		add("description", *p.Description)
	}
	if p.IsActive != nil {
		add("is_active", *p.IsActive)
		if *p.IsActive {
			// Re-enabled by its owner: the reason it was disabled is history.
			sets = append(sets, "disabled_reason = NULL", "disabled_at = NULL")
		}
	}
	if p.Headers != nil {
		b, err := json.Marshal(*p.Headers)
		if err != nil {
			return nil, fmt.Errorf("encode headers: %w", err)
		}
		add("headers", string(b))
	}
	if p.RateLimit != nil {
		add("rate_limit", nullInt(*p.RateLimit))
	}
	if p.TimeoutSeconds != nil {
		add("timeout_seconds", nullInt(*p.TimeoutSeconds))
	}
	if p.Ordering != nil {
		add("ordering", *p.Ordering)
		if *p.Ordering == OrderingNone && p.OrderingKey == nil {
			add("ordering_key", "")
		}
	}
	if p.OrderingKey != nil {
		add("ordering_key", *p.OrderingKey)
	}
	if p.Filter != nil {
		add("filter", nullText(*p.Filter))
	}
	add("updated_at", s.d.t(s.Now()))
	return sets, nil
}

// checkOrderingKeyChange refuses, with ErrOrderingKeyBusy, to give a FIFO
// webhook a new orderingKey path while ordered deliveries wait: each keeps
// the key value it was given under the old path, so an event accepted
// after the change, under its new key, would not wait behind them. The
// webhook's row is locked first (publishes take it to number their
// deliveries), so that no delivery is queued under the old path between
// the check and the update.
func (s *Store) checkOrderingKeyChange(ctx context.Context, tx *txn, tenantID, id, key string) error {
	var ordering, current string
	err := tx.QueryRowContext(ctx, `SELECT ordering, ordering_key FROM webhooks WHERE id = $1 AND tenant_id = $2`+s.d.forUpdate("webhooks"),
		id, tenantID).Scan(&ordering, &current)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	if err != nil {
		return err
	}
	if ordering != OrderingFIFO || current == key {
		return nil
	}
	var waiting int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM deliveries WHERE webhook_id = $1 AND status = 'pending' AND seq IS NOT NULL`,
		id).Scan(&waiting); err != nil {
		return err
	}
	if waiting > 0 {
		return fmt.Errorf("%w: %d ordered deliveries are pending under %q", ErrOrderingKeyBusy, waiting, current)
	}
	return nil
}

// UpdateWebhook applies a partial update to one of the user's webhooks and
// returns the result.
func (s *Store) UpdateWebhook(ctx context.Context, tenantID, id string, p WebhookPatch) (Webhook, error) {
	a := s.d.args(16)
	sets, err := s.patchSets(a, p)
	if err != nil {
		return Webhook{}, fmt.Errorf("store: update webhook: %w", err)
	}
	q := `UPDATE webhooks SET ` + strings.Join(sets, ", ") + ` WHERE id = ` + a.add(id) + ` AND tenant_id = ` + a.add(tenantID) + ` RETURNING ` + webhookColumns
	// One transaction: a completion batch committing between the update and
	// the stats reset could otherwise auto-disable a webhook just re-enabled,
	// and a failed reset would answer an error for a change already made.
	reenable := p.IsActive != nil && *p.IsActive
	var w Webhook
	err = s.inTx(ctx, func(tx *txn) error {
		if reenable {
			// A re-enabled webhook starts a fresh failure streak, so the
			// rule that disabled it needs the full --disable-after again
			// rather than firing on the next failed attempt. The stats row
			// is locked before the webhook's, in the order a completion
			// batch that auto-disables takes them, so that the two wait for
			// each other rather than deadlock on PostgreSQL.
			if _, err := tx.ExecContext(ctx, `UPDATE webhook_stats SET failing_since = $1
				WHERE webhook_id = $2 AND failing_since IS NOT NULL AND EXISTS (SELECT 1 FROM webhooks WHERE id = $2 AND tenant_id = $3)`,
				s.d.t(s.Now()), id, tenantID); err != nil {
				return err
			}
		}
		if p.OrderingKey != nil && (p.Ordering == nil || *p.Ordering == OrderingFIFO) {
			if err := s.checkOrderingKeyChange(ctx, tx, tenantID, id, *p.OrderingKey); err != nil {
				return err
			}
		}
		// tx.Tx, not tx: the text varies with the fields patched, and each
		// variant would take a place among the writer's prepared statements.
		var err error
		w, err = scanWebhook(tx.Tx.QueryRowContext(ctx, q, a.vals...))
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if p.Ordering != nil && *p.Ordering == OrderingNone {
			// No longer ordered: what waited its turn goes now.
			n, err := s.unorder(ctx, tx, id, s.Now())
			if err != nil {
				return err
			}
			if n > 0 {
				return s.notifyWork(ctx, tx)
			}
		}
		if !reenable {
			return nil
		}
		// Re-activation makes paused deliveries due for every process; the
		// notification goes out when the transaction commits.
		return s.notifyWork(ctx, tx)
	})
	if err != nil {
		return Webhook{}, fmt.Errorf("store: update webhook %s: %w", id, err)
	}
	return w, nil
}

// DeleteWebhook removes one of the user's webhooks with its deliveries and
// logs.
func (s *Store) DeleteWebhook(ctx context.Context, tenantID, id string) error {
	res, err := s.write.ExecContext(ctx, `DELETE FROM webhooks WHERE id = $1 AND tenant_id = $2`, id, tenantID)
	if err != nil {
		return fmt.Errorf("store: delete webhook %s: %w", id, err)
	}
	return mustAffect(res, "store: delete webhook "+id)
}

func scanWebhook(r rowScanner) (Webhook, error) {
	var w Webhook
	var events, headers string
	var prevSecret, reason, flt sql.NullString
	var rateLimit, timeout sql.NullInt64
	if err := r.Scan(&w.ID, &w.TenantID, &w.Name, &w.URL, &events, &w.Secret, &w.Description, &w.IsActive,
		scanTime{&w.CreatedAt}, scanTime{&w.UpdatedAt}, &prevSecret, scanNullTime{&w.PreviousSecretExpiresAt},
		&reason, scanNullTime{&w.DisabledAt}, &headers, &rateLimit, &timeout, &w.CreatedBy, &w.Ordering, &w.OrderingKey, &flt); err != nil {
		return Webhook{}, err
	}
	if flt.Valid {
		w.Filter = []byte(flt.String)
	}
	w.PreviousSecret, w.DisabledReason = prevSecret.String, reason.String
	w.RateLimit, w.TimeoutSeconds = int(rateLimit.Int64), int(timeout.Int64)
	if err := json.Unmarshal([]byte(events), &w.Events); err != nil {
		return Webhook{}, fmt.Errorf("decode events of webhook %s: %w", w.ID, err)
	}
	if err := json.Unmarshal([]byte(headers), &w.Headers); err != nil {
		return Webhook{}, fmt.Errorf("decode headers of webhook %s: %w", w.ID, err)
	}
	return w, nil
}

// nullText stores an empty document as NULL, and the rest as text (a
// filter is a TEXT column).
func nullText(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return string(b)
}

// nullBytes is b, or nil when empty.
func nullBytes(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// nullInt stores 0 as NULL, for optional limits.
func nullInt(n int) any {
	if n == 0 {
		return nil
	}
	return n
}

// RotateSecret gives a webhook a new secret. The current one becomes the
// previous secret and keeps signing deliveries, beside the new one, for
// grace (none when grace is 0).
func (s *Store) RotateSecret(ctx context.Context, tenantID, id, newSecret string, grace time.Duration) (Webhook, error) {
	now := s.Now()
	var expires any
	if grace > 0 {
		expires = s.d.t(now.Add(grace))
	}
	row := s.write.QueryRowContext(ctx, `UPDATE webhooks SET
			previous_secret = CASE WHEN $1 THEN secret ELSE NULL END,
			previous_secret_expires_at = $2, secret = $3, updated_at = $4
		WHERE id = $5 AND tenant_id = $6 RETURNING `+webhookColumns, grace > 0, expires, newSecret, s.d.t(now), id, tenantID)
	w, err := scanWebhook(row)
	if errors.Is(err, sql.ErrNoRows) {
		return Webhook{}, fmt.Errorf("store: rotate secret of webhook %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Webhook{}, fmt.Errorf("store: rotate secret of webhook %s: %w", id, err)
	}
	return w, nil
}

func jsonUnmarshalString(s string, v any) error { return json.Unmarshal([]byte(s), v) }
