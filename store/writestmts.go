package store

import (
	"context"
	"database/sql"
	"iter"
	"math/bits"
	"sync"

	"github.com/jackc/pgx/v5"
)

// txn is a write transaction. It is a *sql.Tx whose statements, on a
// serving SQLite store, run through statements prepared once on the writer
// connection instead of being parsed again in every transaction: the
// writer is the one serial path every event and every attempt passes
// through, and parsing was a tenth of its work.
type txn struct {
	*sql.Tx
	stmts *writeStmts // nil: plain statements (PostgreSQL, admin stores)
	// pipe sends a batch of statements to the transaction's connection
	// in one round trip; set by inPipedTx on PostgreSQL only.
	pipe func(ctx context.Context, b *pgx.Batch) error
}

// ExecContext runs a statement in the transaction.
func (t *txn) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := t.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return t.Tx.ExecContext(ctx, query, args...)
}

// QueryContext runs a query in the transaction.
func (t *txn) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := t.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return t.Tx.QueryContext(ctx, query, args...)
}

// QueryRowContext runs a query that returns at most one row.
func (t *txn) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := t.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return t.Tx.QueryRowContext(ctx, query, args...)
}

// stmt returns query's prepared statement bound to the transaction, or nil
// when it is not prepared yet. database/sql finds the statement already
// prepared on the transaction's connection and reuses it; the wrapper it
// returns is released when the transaction ends.
func (t *txn) stmt(ctx context.Context, query string) *sql.Stmt {
	if t.stmts == nil {
		return nil
	}
	parent := t.stmts.lookup(query)
	if parent == nil {
		return nil
	}
	return t.Tx.StmtContext(ctx, parent)
}

// writeStmts prepares the writer's statements. A statement cannot be
// prepared inside a transaction for later ones: preparing on the pool
// needs a free connection, and the SQLite writer's only connection is the
// transaction's. So a statement a transaction runs unprepared is noted, and
// prepared after that transaction ends (prepareNoted), ready for the next.
type writeStmts struct {
	db *sql.DB
	mu sync.Mutex
	m  map[string]*sql.Stmt
	// noted are statements run unprepared since the last prepareNoted.
	noted map[string]struct{}
}

// maxWriteStmts bounds the statements kept prepared. The writer's texts are
// fixed, or sized in powers of two (see runs), so they number well under
// this; anything past it runs unprepared, as before.
const maxWriteStmts = 256

func newWriteStmts(db *sql.DB) *writeStmts {
	return &writeStmts{db: db, m: map[string]*sql.Stmt{}, noted: map[string]struct{}{}}
}

// lookup returns query's prepared statement, or notes query for
// prepareNoted and returns nil.
func (c *writeStmts) lookup(query string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.m[query]; ok {
		return st
	}
	if len(c.m)+len(c.noted) < maxWriteStmts {
		c.noted[query] = struct{}{}
	}
	return nil
}

// prepareNoted prepares the statements noted since it last ran. It runs
// between transactions, when the writer connection is free. A statement
// that fails to prepare (its table not migrated yet, say) is dropped and
// noted again the next time it runs.
func (c *writeStmts) prepareNoted(ctx context.Context) {
	c.mu.Lock()
	if len(c.noted) == 0 {
		c.mu.Unlock()
		return
	}
	queries := make([]string, 0, len(c.noted))
	for q := range c.noted {
		queries = append(queries, q)
	}
	clear(c.noted)
	c.mu.Unlock()

	for _, q := range queries {
		st, err := c.db.PrepareContext(ctx, q)
		if err != nil {
			continue
		}
		c.mu.Lock()
		if _, ok := c.m[q]; ok {
			_ = st.Close()
		} else {
			c.m[q] = st
		}
		c.mu.Unlock()
	}
}

// close closes every prepared statement.
func (c *writeStmts) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, st := range c.m {
		_ = st.Close()
		delete(c.m, q)
	}
}

// runs splits n rows of a multi-row statement into the [lo, hi) ranges it
// is run over. PostgreSQL takes up to completionChunk rows a statement, one
// round trip each. SQLite has no round trip to save but parses each
// distinct text, so each chunk goes as runs whose sizes are powers of two
// (200 = 128 + 64 + 8): at most eight texts a statement, each prepared once.
func (s *Store) runs(n int) iter.Seq2[int, int] {
	return func(yield func(int, int) bool) {
		for lo := 0; lo < n; {
			size := min(n-lo, completionChunk)
			if s.serving {
				size = 1 << (bits.Len(uint(min(size, maxRun))) - 1)
			}
			if !yield(lo, lo+size) {
				return
			}
			lo += size
		}
	}
}

// maxRun is the largest run on SQLite: the largest power of two within
// completionChunk.
const maxRun = 128
