package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// CreateAPIKey stores a key's hash. The caller makes the key, shows it once
// and passes only its hash and a short prefix here.
func (s *Store) CreateAPIKey(ctx context.Context, userID, name, keyHash, prefix string) (APIKey, error) {
	now := s.Now()
	k := APIKey{ID: NewID(), UserID: userID, Name: name, Prefix: prefix, CreatedAt: now}
	_, err := s.write.ExecContext(ctx,
		`INSERT INTO api_keys (id, user_id, name, key_hash, key_prefix, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		k.ID, userID, name, keyHash, prefix, s.d.t(now))
	if isUniqueViolation(err) {
		return APIKey{}, fmt.Errorf("store: create api key: %w", ErrConflict)
	}
	if err != nil {
		return APIKey{}, fmt.Errorf("store: create api key: %w", err)
	}
	return k, nil
}

// ListAPIKeys returns the user's keys, newest first.
func (s *Store) ListAPIKeys(ctx context.Context, userID string) ([]APIKey, error) {
	rows, err := s.read.QueryContext(ctx,
		`SELECT id, user_id, name, key_prefix, created_at, last_used_at FROM api_keys WHERE user_id = $1 ORDER BY id DESC`, userID)
	if err != nil {
		return nil, fmt.Errorf("store: list api keys: %w", err)
	}
	out, err := collect(rows, func(r rowScanner) (APIKey, error) {
		var k APIKey
		err := r.Scan(&k.ID, &k.UserID, &k.Name, &k.Prefix, scanTime{&k.CreatedAt}, scanNullTime{&k.LastUsedAt})
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

// DeleteAPIKey revokes one of the user's keys.
func (s *Store) DeleteAPIKey(ctx context.Context, userID, id string) error {
	res, err := s.write.ExecContext(ctx, `DELETE FROM api_keys WHERE id = $1 AND user_id = $2`, id, userID)
	if err != nil {
		return fmt.Errorf("store: delete api key: %w", err)
	}
	return mustAffect(res, "store: delete api key "+id)
}

// UserByAPIKeyHash finds the owner of the key with this hash.
func (s *Store) UserByAPIKeyHash(ctx context.Context, keyHash string) (User, APIKey, error) {
	var u User
	var k APIKey
	err := s.queryRow(ctx, `
		SELECT `+prefixed("u.", userColumns)+`,
		       k.id, k.user_id, k.name, k.key_prefix, k.created_at, k.last_used_at
		FROM api_keys k JOIN users u ON u.id = k.user_id
		WHERE k.key_hash = $1`, keyHash).
		Scan(append(u.scanDest(), &k.ID, &k.UserID, &k.Name, &k.Prefix, scanTime{&k.CreatedAt}, scanNullTime{&k.LastUsedAt})...)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, APIKey{}, fmt.Errorf("store: api key: %w", ErrNotFound)
	}
	if err != nil {
		return User{}, APIKey{}, fmt.Errorf("store: api key: %w", err)
	}
	return u, k, nil
}

// TouchAPIKey records that a key was just used.
func (s *Store) TouchAPIKey(ctx context.Context, id string) error {
	if _, err := s.write.ExecContext(ctx, `UPDATE api_keys SET last_used_at = $1 WHERE id = $2`, s.d.t(s.Now()), id); err != nil {
		return fmt.Errorf("store: touch api key: %w", err)
	}
	return nil
}
