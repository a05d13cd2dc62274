package store

import (
	"context"
	"fmt"
	"time"
)

// QueueStats is the state of the delivery queue.
type QueueStats struct {
	Due       int64 // pending and due now, not leased
	Scheduled int64 // pending, waiting for a retry time
	InFlight  int64 // leased and being sent
	// OldestDue is when the longest-waiting due delivery fell due.
	OldestDue *time.Time
}

// Queue reports the delivery queue's depth.
func (s *Store) Queue(ctx context.Context) (QueueStats, error) {
	now := s.d.t(s.Now())
	var q QueueStats
	err := s.read.QueryRowContext(ctx, `SELECT
		COALESCE(SUM(CASE WHEN lease_token IS NOT NULL AND next_attempt_at > $1 THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN next_attempt_at <= $1 THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN lease_token IS NULL AND next_attempt_at > $1 THEN 1 ELSE 0 END), 0),
		MIN(CASE WHEN next_attempt_at <= $1 THEN next_attempt_at END)
		FROM deliveries WHERE status = 'pending'`, now).Scan(&q.InFlight, &q.Due, &q.Scheduled, scanNullTime{&q.OldestDue})
	if err != nil {
		return QueueStats{}, fmt.Errorf("store: queue stats: %w", err)
	}
	return q, nil
}
