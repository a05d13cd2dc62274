package store

import "context"

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

// CapPages stops the SQLite database from growing past its current size,
// so that the next write needing a page fails with SQLITE_FULL, as on a
// full disk.
func (s *Store) CapPages(ctx context.Context) error {
	_, err := s.write.ExecContext(ctx, `PRAGMA max_page_count = 1`) // clamped to the current size
	return err
}
