package store

import (
	"context"
	"database/sql"
)

// SeedLogs writes attempt logs and their counters directly, for benchmarks
// that need a large log table quickly.
func (s *Store) SeedLogs(ctx context.Context, logs []Log) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		m := map[string]*statsDelta{}
		for _, l := range logs {
			addStats(m, l)
		}
		for i := 0; i < len(logs); i += completionChunk {
			if err := s.insertLogs(ctx, tx, logs[i:min(i+completionChunk, len(logs))]); err != nil {
				return err
			}
		}
		return s.applyStats(ctx, tx, m)
	})
}
