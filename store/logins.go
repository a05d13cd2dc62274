package store

import (
	"context"
	"fmt"
	"time"
)

// RecordLoginFailure counts a failed login against each throttle key (such
// as "email:…" and "ip:…").
func (s *Store) RecordLoginFailure(ctx context.Context, keys ...string) error {
	now := s.d.t(s.Now())
	err := s.inTx(ctx, func(tx *txn) error {
		for _, k := range keys {
			if _, err := tx.ExecContext(ctx, `INSERT INTO login_failures (throttle_key, created_at) VALUES ($1, $2)`, k, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: record login failure: %w", err)
	}
	return nil
}

// LoginFailures returns how many failures key has had since the time given,
// and when the oldest of them happened (to say when the throttle lifts).
func (s *Store) LoginFailures(ctx context.Context, key string, since time.Time) (int, *time.Time, error) {
	var n int
	var oldest *time.Time
	err := s.read.QueryRowContext(ctx, `SELECT COUNT(*), MIN(created_at) FROM login_failures WHERE throttle_key = $1 AND created_at >= $2`,
		key, s.d.t(since)).Scan(&n, scanNullTime{&oldest})
	if err != nil {
		return 0, nil, fmt.Errorf("store: count login failures: %w", err)
	}
	return n, oldest, nil
}

// ClearLoginFailures forgets a key's failures, after a successful login.
func (s *Store) ClearLoginFailures(ctx context.Context, key string) error {
	if _, err := s.write.ExecContext(ctx, `DELETE FROM login_failures WHERE throttle_key = $1`, key); err != nil {
		return fmt.Errorf("store: clear login failures: %w", err)
	}
	return nil
}
