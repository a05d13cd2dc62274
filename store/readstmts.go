package store

import (
	"context"
	"database/sql"
	"errors"
	"sync"
)

// readStmts keeps hot read-only queries prepared on the reader pool.
// modernc.org/sqlite parses every statement it is handed, and on the
// authentication path (one user lookup per request) parsing was the
// largest single cost. A *sql.Stmt on the pool prepares itself once per
// connection; writes cannot use this, because preparing needs a free
// connection and the SQLite writer's only one is held by the transaction.
type readStmts struct {
	db *sql.DB
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

// maxReadStmts bounds the cache; only fixed query texts are cached.
const maxReadStmts = 64

func (c *readStmts) get(ctx context.Context, query string) (*sql.Stmt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.m[query]; ok {
		return st, nil
	}
	if len(c.m) >= maxReadStmts {
		return nil, errCacheFull
	}
	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.m[query] = st
	return st, nil
}

// errCacheFull sends a query down the unprepared path.
var errCacheFull = errors.New("store: statement cache full")

func (c *readStmts) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, st := range c.m {
		_ = st.Close()
		delete(c.m, q)
	}
}

// queryRow runs a fixed read-only query through a prepared statement.
func (s *Store) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := s.reads.get(ctx, query)
	if err != nil {
		// A full cache, or an error the plain path reports in its usual
		// wording.
		return s.read.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}
