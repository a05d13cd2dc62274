package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"
)

// Tenant is one of the CRM's customer accounts: webhooks, events, API keys
// and everything that follows from them belong to a tenant, and every
// member of it sees and manages them. Its id is the CRM's own.
type Tenant struct {
	ID   string
	Name string
	// Metadata is a JSON object the CRM keeps with the tenant, as given.
	Metadata  json.RawMessage
	CreatedAt time.Time
	UpdatedAt time.Time
}

// TenantSummary is a tenant with how many webhooks it has, for lists.
type TenantSummary struct {
	Tenant
	Webhooks int64
}

var tenantIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)

// TenantIDPattern is the shape of a tenant id, for messages.
const TenantIDPattern = `^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`

// ValidTenantID reports whether id can name a tenant: the CRM's own ids,
// such as acme or org_123, up to 128 characters.
func ValidTenantID(id string) bool { return tenantIDPattern.MatchString(id) }

// TenantParams is what PutTenant sets; nil leaves a field as it is (or
// empty on a new tenant).
type TenantParams struct {
	Name     *string
	Metadata json.RawMessage // nil: unchanged
}

const tenantColumns = `id, name, metadata, created_at, updated_at`

func scanTenant(r rowScanner) (Tenant, error) {
	var t Tenant
	var metadata string
	err := r.Scan(&t.ID, &t.Name, &metadata, scanTime{&t.CreatedAt}, scanTime{&t.UpdatedAt})
	t.Metadata = json.RawMessage(metadata)
	return t, err
}

// PutTenant creates the tenant id, or updates the fields p sets on the
// existing one, and reports whether it was created. Calling it again with
// the same parameters changes nothing, so the CRM may call it whenever it
// is unsure.
func (s *Store) PutTenant(ctx context.Context, id string, p TenantParams) (Tenant, bool, error) {
	if !ValidTenantID(id) {
		return Tenant{}, false, fmt.Errorf("store: put tenant: id %q does not match %s", id, TenantIDPattern)
	}
	now := s.Now()
	name, metadata := "", "{}"
	if p.Name != nil {
		name = *p.Name
	}
	if p.Metadata != nil {
		metadata = string(p.Metadata)
	}
	var t Tenant
	created := false
	err := s.inTx(ctx, func(tx *txn) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO tenants (id, name, metadata, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)
			ON CONFLICT (id) DO NOTHING`, id, name, metadata, s.d.t(now))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		created = n == 1
		t, err = scanTenant(tx.QueryRowContext(ctx, `SELECT `+tenantColumns+` FROM tenants WHERE id = $1`, id))
		if err != nil || created {
			return err
		}
		// An existing tenant changes only in what p sets and what differs,
		// and updated_at moves only then: a repeated PUT changes nothing.
		if p.Name == nil {
			name = t.Name
		}
		if p.Metadata == nil {
			metadata = string(t.Metadata)
		}
		if name == t.Name && metadata == string(t.Metadata) {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE tenants SET name = $1, metadata = $2, updated_at = $3 WHERE id = $4`,
			name, metadata, s.d.t(now), id); err != nil {
			return err
		}
		t.Name, t.Metadata, t.UpdatedAt = name, json.RawMessage(metadata), now
		return nil
	})
	if err != nil {
		return Tenant{}, false, fmt.Errorf("store: put tenant %s: %w", id, err)
	}
	return t, created, nil
}

// EnsureTenant creates the tenant id when it does not exist and leaves it
// alone when it does.
func (s *Store) EnsureTenant(ctx context.Context, id string) error {
	if !ValidTenantID(id) {
		return fmt.Errorf("store: ensure tenant: id %q does not match %s", id, TenantIDPattern)
	}
	if _, ok := s.users.getTenant(id); ok {
		return nil // it exists, as of the last change to any tenant or user
	}
	now := s.d.t(s.Now())
	if _, err := s.write.ExecContext(ctx, `INSERT INTO tenants (id, created_at, updated_at) VALUES ($1, $2, $2)
		ON CONFLICT (id) DO NOTHING`, id, now); err != nil {
		return fmt.Errorf("store: ensure tenant %s: %w", id, err)
	}
	return nil
}

// Tenant returns one tenant, or ErrNotFound.
func (s *Store) Tenant(ctx context.Context, id string) (Tenant, error) {
	t, err := scanTenant(s.queryRow(ctx, `SELECT `+tenantColumns+` FROM tenants WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Tenant{}, fmt.Errorf("store: tenant %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Tenant{}, fmt.Errorf("store: tenant %s: %w", id, err)
	}
	return t, nil
}

// TenantExists reports whether the tenant id exists.
func (s *Store) TenantExists(ctx context.Context, id string) (bool, error) {
	_, err := s.TenantCreatedAt(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// TenantCreatedAt returns when the tenant id was created, or ErrNotFound.
// A tenant deleted and created again under the same id has a new creation
// time, so credentials issued for the old one can tell it apart.
//
// On PostgreSQL the answer comes from the user cache while it is armed,
// kept exact the same way (see usersChannel): a service key's or a CRM
// token's every request names its tenant, and reading it was a round trip
// each (8,850 of the 30,000 requests of 1,000 tenants publishing, past
// the API's own short-lived cache).
func (s *Store) TenantCreatedAt(ctx context.Context, id string) (time.Time, error) {
	if created, ok := s.users.getTenant(id); ok {
		return created, nil
	}
	gen, armed := s.users.generation()
	var created time.Time
	err := s.queryRow(ctx, `SELECT created_at FROM tenants WHERE id = $1`, id).Scan(scanTime{&created})
	if err == nil && armed {
		s.users.putTenant(gen, id, created)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, fmt.Errorf("store: tenant %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("store: tenant %s: %w", id, err)
	}
	return created, nil
}

// ListTenants returns one page of tenants in id order, each with its
// number of webhooks, and the id to pass as after for the next page (""
// on the last page).
func (s *Store) ListTenants(ctx context.Context, after string, limit int) ([]TenantSummary, string, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+prefixed("t.", tenantColumns)+`,
		(SELECT COUNT(*) FROM webhooks w WHERE w.tenant_id = t.id)
		FROM tenants t WHERE t.id > $1 ORDER BY t.id LIMIT `+fmt.Sprint(limit+1), after)
	if err != nil {
		return nil, "", fmt.Errorf("store: list tenants: %w", err)
	}
	out, err := collect(rows, func(r rowScanner) (TenantSummary, error) {
		var t TenantSummary
		var metadata string
		err := r.Scan(&t.ID, &t.Name, &metadata, scanTime{&t.CreatedAt}, scanTime{&t.UpdatedAt}, &t.Webhooks)
		t.Metadata = json.RawMessage(metadata)
		return t, err
	})
	if err != nil {
		return nil, "", fmt.Errorf("store: list tenants: %w", err)
	}
	if out == nil {
		out = []TenantSummary{}
	}
	out, next := trimPage(out, limit, func(t TenantSummary) string { return t.ID })
	return out, next, nil
}

// DeleteTenant removes a tenant and, by cascade, all of its data: members,
// API keys, webhooks with their deliveries, logs and stats, and events.
// Its pending deliveries go with their rows, so no process sends them
// again; one already in flight finds its lease gone and is not recorded.
func (s *Store) DeleteTenant(ctx context.Context, id string) error {
	// Its members go by cascade, so every cached user is forgotten.
	err := s.changeUsers(ctx, usersAll, func(tx *txn) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM tenants WHERE id = $1`, id)
		if err != nil {
			return err
		}
		return mustAffect(res, "no such tenant")
	})
	if err != nil {
		return fmt.Errorf("store: delete tenant %s: %w", id, err)
	}
	return nil
}
