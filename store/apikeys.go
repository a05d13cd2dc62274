package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// NewAPIKey is what CreateAPIKey stores: the key's hash and short prefix
// (the caller makes the key and shows it once), its name, and whom it acts
// for: TenantID, or every tenant when Service is set.
type NewAPIKey struct {
	TenantID  string
	Service   bool
	CreatedBy string
	Name      string
	KeyHash   string
	Prefix    string
}

// CreateAPIKey stores a key's hash.
func (s *Store) CreateAPIKey(ctx context.Context, p NewAPIKey) (APIKey, error) {
	if p.Service != (p.TenantID == "") {
		return APIKey{}, errors.New("store: create api key: a key acts for one tenant, or is a service key for all")
	}
	now := s.Now()
	k := APIKey{ID: NewID(), TenantID: p.TenantID, Service: p.Service, CreatedBy: p.CreatedBy, Name: p.Name, Prefix: p.Prefix, CreatedAt: now}
	_, err := s.write.ExecContext(ctx,
		`INSERT INTO api_keys (id, tenant_id, service, created_by, name, key_hash, key_prefix, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		k.ID, nullString(p.TenantID), p.Service, p.CreatedBy, p.Name, p.KeyHash, p.Prefix, s.d.t(now))
	if isUniqueViolation(err) {
		return APIKey{}, fmt.Errorf("store: create api key: %w", ErrConflict)
	}
	if isForeignKeyViolation(err) {
		return APIKey{}, fmt.Errorf("store: create api key: %s: %w", p.TenantID, ErrTenantNotFound)
	}
	if err != nil {
		return APIKey{}, fmt.Errorf("store: create api key: %w", err)
	}
	return k, nil
}

const apiKeyColumns = `k.id, COALESCE(k.tenant_id, ''), k.service, k.created_by, k.name, k.key_prefix, k.created_at, k.last_used_at`

func (k *APIKey) scanDest() []any {
	return []any{&k.ID, &k.TenantID, &k.Service, &k.CreatedBy, &k.Name, &k.Prefix, scanTime{&k.CreatedAt}, scanNullTime{&k.LastUsedAt}}
}

// ListAPIKeys returns the tenant's keys, newest first; "" lists the
// service keys.
func (s *Store) ListAPIKeys(ctx context.Context, tenantID string) ([]APIKey, error) {
	q := `SELECT ` + apiKeyColumns + ` FROM api_keys k WHERE k.tenant_id = $1 ORDER BY k.id DESC`
	args := []any{tenantID}
	if tenantID == "" {
		q, args = `SELECT `+apiKeyColumns+` FROM api_keys k WHERE k.service ORDER BY k.id DESC`, nil
	}
	rows, err := s.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list api keys: %w", err)
	}
	out, err := collect(rows, func(r rowScanner) (APIKey, error) {
		var k APIKey
		err := r.Scan(k.scanDest()...)
		return k, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: list api keys: %w", err)
	}
	if out == nil {
		out = []APIKey{} // none is an empty list, not an absent one
	}
	return out, nil
}

// ListAllAPIKeys returns every key, of every tenant and the service keys,
// by tenant (service keys first) and newest first, for an operator.
func (s *Store) ListAllAPIKeys(ctx context.Context) ([]APIKey, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+apiKeyColumns+` FROM api_keys k ORDER BY COALESCE(k.tenant_id, ''), k.id DESC`)
	if err != nil {
		return nil, fmt.Errorf("store: list all api keys: %w", err)
	}
	out, err := collect(rows, func(r rowScanner) (APIKey, error) {
		var k APIKey
		err := r.Scan(k.scanDest()...)
		return k, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: list all api keys: %w", err)
	}
	return out, nil
}

// RevokeAPIKey deletes the key with this id whoever it acts for, a
// service key included: the operator's way to end a leaked key. The key
// stops working at once, in every process, since keys are looked up on
// each request.
func (s *Store) RevokeAPIKey(ctx context.Context, id string) (APIKey, error) {
	var k APIKey
	err := s.queryRow(ctx, `SELECT `+apiKeyColumns+` FROM api_keys k WHERE k.id = $1`, id).Scan(k.scanDest()...)
	if errors.Is(err, sql.ErrNoRows) {
		return APIKey{}, fmt.Errorf("store: revoke api key %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return APIKey{}, fmt.Errorf("store: revoke api key %s: %w", id, err)
	}
	if err := s.deleteAPIKey(ctx, `DELETE FROM api_keys WHERE id = $1`, id); err != nil {
		return APIKey{}, fmt.Errorf("store: revoke api key %s: %w", id, err)
	}
	return k, nil
}

// DeleteAPIKey revokes one of the tenant's keys.
func (s *Store) DeleteAPIKey(ctx context.Context, tenantID, id string) error {
	if err := s.deleteAPIKey(ctx, `DELETE FROM api_keys WHERE id = $1 AND tenant_id = $2`, id, tenantID); err != nil {
		return fmt.Errorf("store: delete api key %s: %w", id, err)
	}
	return nil
}

// deleteAPIKey runs a delete of one key and returns once no process's
// cache serves it (see userCache): a revoked key stops at once everywhere.
func (s *Store) deleteAPIKey(ctx context.Context, query string, args ...any) error {
	return s.changeUsers(ctx, usersAll, func(tx *txn) error {
		res, err := tx.ExecContext(ctx, query, args...)
		if err != nil {
			return err
		}
		return mustAffect(res, "no such key")
	})
}

// APIKeyByHash finds the key with this hash and, when a member of its
// tenant created it, that user (nil otherwise: a service key, or a key
// made by a trusted CRM token's subject or by a user since deleted), so
// that a disabled user's keys stop working with the user's tokens. A
// creator is only ever a user of the key's own tenant: a trusted token's
// subject is the CRM's to choose, and one that happened to be another
// tenant's user id must not tie the key to that user (whose email
// /auth/me would show, and whose disabling would stop the key).
func (s *Store) APIKeyByHash(ctx context.Context, keyHash string) (APIKey, *User, error) {
	if k, u, ok := s.users.getKey(keyHash); ok {
		return k, u, nil
	}
	gen, armed := s.users.generation()
	k, u, err := s.apiKeyByHash(ctx, keyHash)
	if err == nil && armed {
		var creator *User
		if u != nil {
			c := *u
			creator = &c
		}
		s.users.putKey(gen, keyHash, k, creator)
	}
	return k, u, err
}

// apiKeyByHash is APIKeyByHash read from the database.
func (s *Store) apiKeyByHash(ctx context.Context, keyHash string) (APIKey, *User, error) {
	var k APIKey
	var u User
	var userID sql.NullString
	dest := append(k.scanDest(), &userID, &u.Email, &u.PasswordHash, &u.TenantID, &u.TokenVersion, scanNullTime{&u.DisabledAt})
	err := s.queryRow(ctx, `
		SELECT `+apiKeyColumns+`, u.id, COALESCE(u.email, ''), COALESCE(u.password_hash, ''), COALESCE(u.tenant_id, ''),
		       COALESCE(u.token_version, 0), u.disabled_at
		FROM api_keys k LEFT JOIN users u ON u.id = k.created_by AND u.tenant_id = k.tenant_id
		WHERE k.key_hash = $1`, keyHash).Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return APIKey{}, nil, fmt.Errorf("store: api key: %w", ErrNotFound)
	}
	if err != nil {
		return APIKey{}, nil, fmt.Errorf("store: api key: %w", err)
	}
	if !userID.Valid {
		return k, nil, nil
	}
	u.ID = userID.String
	return k, &u, nil
}

// TouchAPIKey records that a key was just used.
func (s *Store) TouchAPIKey(ctx context.Context, id string) error {
	now := s.Now()
	if _, err := s.write.ExecContext(ctx, `UPDATE api_keys SET last_used_at = $1 WHERE id = $2`, s.d.t(now), id); err != nil {
		return fmt.Errorf("store: touch api key: %w", err)
	}
	s.users.touchKey(id, now)
	return nil
}
