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
