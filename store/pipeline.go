package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// inPipedTx is inTx on PostgreSQL with a way to send a batch of the
// transaction's statements in one round trip (txn.send). The lease and the
// completion run several statements that do not wait on one another's
// results; each was a round trip of its own, and on a loaded machine every
// round trip is also a wait for the database process to be scheduled. The
// transaction is an ordinary database/sql one on a connection of its own,
// so the store's helpers that take a *txn run in it unchanged; the batches
// go to that same connection through pgx's own interface (sql.Conn.Raw).
func (s *Store) inPipedTx(ctx context.Context, fn func(tx *txn) error) error {
	if s.d.kind != Postgres {
		return s.inTx(ctx, fn)
	}
	s.write.gate.RLock()
	defer s.write.gate.RUnlock()
	conn, err := s.write.Conn(ctx)
	if err != nil {
		s.health.recordWrite(err)
		return err
	}
	// Closing returns the connection to the pool once the transaction has
	// ended, either way.
	defer conn.Close()
	sqlTx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		s.health.recordWrite(err)
		return err
	}
	tx := &txn{Tx: sqlTx, stmts: s.stmts, pipe: func(ctx context.Context, b *pgx.Batch) error {
		return conn.Raw(func(driverConn any) error {
			c, ok := driverConn.(*stdlib.Conn)
			if !ok {
				return fmt.Errorf("send batch: %T is not a pgx connection", driverConn)
			}
			return c.Conn().SendBatch(ctx, b).Close()
		})
	}}
	return s.runTx(tx, fn)
}

// send runs b's statements on the transaction's connection in one round
// trip, each result handed to its QueuedQuery's function in order; the
// first error stops the batch and fails the transaction. Only a
// transaction begun by inPipedTx on PostgreSQL can send batches.
func (t *txn) send(ctx context.Context, b *pgx.Batch) error {
	if t.pipe == nil {
		return fmt.Errorf("send batch: not a pipelined PostgreSQL transaction")
	}
	return t.pipe(ctx, b)
}
