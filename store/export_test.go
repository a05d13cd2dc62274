package store

import "context"

// SeedLogs writes attempt logs and their counters directly, for benchmarks
// that need a large log table quickly. A log without an id gets one made
// from its CreatedAt, as the store makes them.
func (s *Store) SeedLogs(ctx context.Context, logs []Log) error {
	for i := range logs {
		if logs[i].ID == "" {
			logs[i].ID = logID(logs[i].CreatedAt)
		}
	}
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
