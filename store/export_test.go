package store

import (
	"context"
	"fmt"
	"strings"
)

// SeedLogs writes attempt logs and their counters directly, for benchmarks
// that need a large log table quickly.
func (s *Store) SeedLogs(ctx context.Context, logs []Log) error {
	return s.inTx(ctx, func(tx *txn) error {
		m := map[string]*statsDelta{}
		for _, l := range logs {
			addStats(m, l)
		}
		for lo, hi := range s.runs(len(logs)) {
			if err := s.insertLogs(ctx, tx, logs[lo:hi]); err != nil {
				return err
			}
		}
		return s.applyStats(ctx, tx, m)
	})
}

// PreparedWriterStatements reports how many statements the writer keeps
// prepared: always 0 where it keeps none (PostgreSQL).
func (s *Store) PreparedWriterStatements() int {
	if s.stmts == nil {
		return 0
	}
	s.stmts.mu.Lock()
	defer s.stmts.mu.Unlock()
	return len(s.stmts.m)
}

// SetFanOutChunk makes fan-outs insert at most n deliveries a transaction,
// and calls after (when not nil) after each such transaction commits.
func (s *Store) SetFanOutChunk(n int, after func()) {
	s.limits.fanOutChunk, s.limits.afterFanOutStep = n, after
}

// PublishWithoutFanOut commits a batch as PublishEvents does but leaves any
// fan-out beyond the first transaction undone, as a process stopped just
// after that transaction would.
func (s *Store) PublishWithoutFanOut(ctx context.Context, batch []PublishParams) ([]PublishResult, error) {
	return s.publishEvents(ctx, batch)
}

// FanOutStep runs one fan-out transaction over every pending fan-out.
func (s *Store) FanOutStep(ctx context.Context) (int, error) {
	_, n, _, err := s.fanOutStep(ctx, nil)
	return n, err
}

// FanOutCounts reports, for the user's events, how many events there are,
// how many deliveries, how many distinct (event, webhook) pairs those
// deliveries cover, and how many fan-outs are pending.
func (s *Store) FanOutCounts(ctx context.Context, userID string) (events, deliveries, pairs, pending int, err error) {
	err = s.read.QueryRowContext(ctx, `SELECT
			(SELECT COUNT(*) FROM events WHERE user_id = $1),
			(SELECT COUNT(*) FROM deliveries d JOIN events e ON e.id = d.event_id WHERE e.user_id = $1),
			(SELECT COUNT(*) FROM (SELECT DISTINCT d.event_id, d.webhook_id FROM deliveries d JOIN events e ON e.id = d.event_id WHERE e.user_id = $1) p),
			(SELECT COUNT(*) FROM fanouts f JOIN events e ON e.id = f.event_id WHERE e.user_id = $1)`, userID).
		Scan(&events, &deliveries, &pairs, &pending)
	return
}

// ExplainDueWindow returns the plan of the lease's due-window query as the
// lease runs it, for a lease of limit: PostgreSQL's EXPLAIN ANALYZE (run
// and rolled back), SQLite's EXPLAIN QUERY PLAN details, a line each.
func (s *Store) ExplainDueWindow(ctx context.Context, limit int) (string, error) {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return "", err
	}
	defer func() { _ = tx.Rollback() }()
	if err := s.walkIndexesInOrder(ctx, tx); err != nil {
		return "", err
	}
	q := s.dueWindowQuery(dueWindow(limit))
	if s.kind == Postgres {
		q = "EXPLAIN (ANALYZE, BUFFERS) " + q
	} else {
		q = "EXPLAIN QUERY PLAN " + q
	}
	rows, err := tx.QueryContext(ctx, q, s.d.t(s.Now()))
	if err != nil {
		return "", err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return "", err
	}
	var out strings.Builder
	for rows.Next() {
		vals := make([]any, len(cols))
		for i := range vals {
			vals[i] = new(any)
		}
		if err := rows.Scan(vals...); err != nil {
			return "", err
		}
		fmt.Fprintf(&out, "%v\n", *vals[len(vals)-1].(*any))
	}
	return out.String(), rows.Err()
}

// ProbedWebhooks reports how many webhooks the per-webhook due probe has
// read since the store opened.
func (s *Store) ProbedWebhooks() int64 { return s.probedWebhooks.Load() }

// LeasePlanSettings returns enable_sort and jit as a lease's transaction
// sees them after walkIndexesInOrder (PostgreSQL; empty on SQLite).
func (s *Store) LeasePlanSettings(ctx context.Context) (sort, jit string, err error) {
	if s.kind != Postgres {
		return "", "", s.walkIndexesInOrder(ctx, s.write)
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return "", "", err
	}
	defer func() { _ = tx.Rollback() }()
	if err := s.walkIndexesInOrder(ctx, tx); err != nil {
		return "", "", err
	}
	err = tx.QueryRowContext(ctx, `SELECT current_setting('enable_sort'), current_setting('jit')`).Scan(&sort, &jit)
	return sort, jit, err
}
