package store

import (
	"context"
	"fmt"
	"time"
)

// Prune deletes at most batch of each kind of old row: attempt logs,
// finished deliveries and events with nothing left to deliver, created
// before the cutoff, and stale login failures. It returns how many rows it
// deleted, so callers repeat until it returns 0, pausing between batches so
// that pruning never holds the writer for long.
func (s *Store) Prune(ctx context.Context, before time.Time, batch int) (int64, error) {
	cut := s.d.t(before)
	statements := []struct {
		q   string
		arg any
	}{
		{`DELETE FROM webhook_logs WHERE id IN (SELECT id FROM webhook_logs WHERE created_at < $1 LIMIT $2)`, cut},
		{`DELETE FROM deliveries WHERE id IN (SELECT id FROM deliveries WHERE status <> 'pending' AND updated_at < $1 LIMIT $2)`, cut},
		{`DELETE FROM events WHERE id IN (SELECT e.id FROM events e WHERE e.created_at < $1
			AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id) LIMIT $2)`, cut},
		// Attempt counts go with the logs: whole minutes and hours that
		// ended by the cutoff ($1 here is a Unix minute, not a time).
		{`DELETE FROM webhook_log_counts WHERE (webhook_id, span, minute) IN
			(SELECT webhook_id, span, minute FROM webhook_log_counts WHERE minute < $1 AND minute + span <= $1 LIMIT $2)`, unixMinute(before)},
	}
	var total int64
	for _, st := range statements {
		res, err := s.write.ExecContext(ctx, st.q, st.arg, batch)
		if err != nil {
			return total, fmt.Errorf("store: prune: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("store: prune: %w", err)
		}
		total += n
	}
	// Login failures have their own cutoff, whatever the retention.
	n, err := s.PruneLoginFailures(ctx, batch)
	total += n
	if err != nil {
		return total, err
	}
	return total, nil
}

// PruneLoginFailures deletes at most batch failed-login records older than
// a day, whatever the retention: they only matter for minutes.
func (s *Store) PruneLoginFailures(ctx context.Context, batch int) (int64, error) {
	res, err := s.write.ExecContext(ctx, `DELETE FROM login_failures WHERE id IN (SELECT id FROM login_failures WHERE created_at < $1 LIMIT $2)`,
		s.d.t(s.Now().Add(-24*time.Hour)), batch)
	if err != nil {
		return 0, fmt.Errorf("store: prune login failures: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("store: prune login failures: %w", err)
	}
	return n, nil
}
