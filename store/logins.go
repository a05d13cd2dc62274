package store

import (
	"context"
	"fmt"
	"slices"
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

// LoginReservation is a login attempt counted before its password is
// checked (see ReserveLogin).
type LoginReservation struct {
	// IDs are the attempt's records, one per throttle key; empty when the
	// attempt was refused.
	IDs []int64
	// Until is, for a refused attempt, when the oldest counted attempt of
	// the key at its limit leaves the window; zero when the attempt may go
	// ahead.
	Until time.Time
	// Keys are, for a refused attempt, the throttle keys at their limit,
	// so the refusal can say whether the email or the address is locked.
	Keys []string
}

// Refused reports whether a key was already at its limit.
func (r LoginReservation) Refused() bool { return !r.Until.IsZero() }

// ReserveLogin counts a login attempt against each throttle key before its
// password is checked, or refuses it when any key already has limit
// attempts within window. Counting first is what bounds a burst: checking
// and recording separately let every request of a concurrent burst see the
// count from before the burst. The count and the insert are one
// transaction; on SQLite that transaction is BEGIN IMMEDIATE (one writer at
// a time, in this process or another), and on PostgreSQL it first takes a
// transaction-scoped advisory lock per key, so two processes sharing the
// database cannot both see room for the last attempt. The records stay as
// failures unless the caller releases them (ReleaseLogin) after a success.
func (s *Store) ReserveLogin(ctx context.Context, keys []string, limit int, window time.Duration) (LoginReservation, error) {
	keys = slices.Clone(keys)
	slices.Sort(keys) // every transaction locks keys in one order: no deadlock
	keys = slices.Compact(keys)
	now := s.Now()
	var res LoginReservation
	err := s.inTx(ctx, func(tx *txn) error {
		res = LoginReservation{}
		if err := s.d.lockLoginKeys(ctx, tx, keys); err != nil {
			return err
		}
		for _, k := range keys {
			var n int
			var oldest *time.Time
			// On PostgreSQL each statement reads a fresh snapshot, so this
			// count sees what the lock's previous holder committed.
			err := tx.QueryRowContext(ctx, `SELECT COUNT(*), MIN(created_at) FROM login_failures WHERE throttle_key = $1 AND created_at >= $2`,
				k, s.d.t(now.Add(-window))).Scan(&n, scanNullTime{&oldest})
			if err != nil {
				return err
			}
			if n >= limit && oldest != nil {
				res.Keys = append(res.Keys, k)
				if until := oldest.Add(window); until.After(res.Until) {
					res.Until = until
				}
			}
		}
		if res.Refused() {
			return nil
		}
		for _, k := range keys {
			var id int64
			if err := tx.QueryRowContext(ctx, `INSERT INTO login_failures (throttle_key, created_at) VALUES ($1, $2) RETURNING id`, k, s.d.t(now)).Scan(&id); err != nil {
				return err
			}
			res.IDs = append(res.IDs, id)
		}
		return nil
	})
	if err != nil {
		return LoginReservation{}, fmt.Errorf("store: reserve login: %w", err)
	}
	return res, nil
}

// ReleaseLogin forgets a reserved attempt that turned out not to be a
// failure (the password was right, or the check never ran).
func (s *Store) ReleaseLogin(ctx context.Context, r LoginReservation) error {
	if len(r.IDs) == 0 {
		return nil
	}
	a := s.d.args(len(r.IDs))
	if _, err := s.write.ExecContext(ctx, `DELETE FROM login_failures WHERE id IN (`+listOf(a, r.IDs)+`)`, a.vals...); err != nil {
		return fmt.Errorf("store: release login: %w", err)
	}
	return nil
}
