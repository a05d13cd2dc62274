package store

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
)

// workChannel is the PostgreSQL NOTIFY channel that tells every webhookd
// process sharing the database that deliveries may be due.
const workChannel = "webhookd_work"

// notifyWork tells other processes, when tx commits, that deliveries may
// be due (dialect.notifyWork).
func (s *Store) notifyWork(ctx context.Context, tx execer) error {
	return s.d.notifyWork(ctx, tx)
}

// NotifyWork tells every process listening on the database (ListenForWork)
// that deliveries may be due, in a transaction of its own; nothing on
// SQLite. The outbox consumer calls it after its commit rather than
// notifying inside its transaction, since PostgreSQL serializes the
// commits of notifying transactions: this one is tiny and holds up no
// rows.
func (s *Store) NotifyWork(ctx context.Context) error {
	if s.d.embedded() {
		return nil
	}
	if err := s.d.notifyWork(ctx, s.write); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

// ListenForWork calls wake whenever another process (or this one) commits
// deliveries, until ctx is done. On SQLite there is no other process: the
// publishers wake the dispatcher themselves once a publish has returned,
// and ListenForWork calls wake as each transaction of a large fan-out
// commits (wakeSelf), as PostgreSQL's notification does. It reconnects
// after errors, so callers run it in a goroutine they own for the life of
// the dispatcher.
func (s *Store) ListenForWork(ctx context.Context, wake func(), logger *slog.Logger) {
	if s.d.embedded() {
		s.selfWake.Store(&wake)
		defer s.selfWake.Store(nil)
	}
	s.listenLoop(ctx, workChannel, wake, logger)
}

// wakeSelf calls the wake function ListenForWork was given on SQLite, if
// any. A fan-out's deliveries are inserted a chunk a transaction before
// the publish returns (a 10,000-webhook fan-out: five transactions, a
// quarter of a second), and without it the dispatcher leased none of them
// until the last had committed and the publisher woke it: the sends of the
// first chunk now overlap the inserts of the next ones.
func (s *Store) wakeSelf() {
	if wake := s.selfWake.Load(); wake != nil {
		(*wake)()
	}
}

// ListenForOutbox calls wake whenever a transaction that inserted rows
// into webhook_outbox commits (its trigger notifies), until ctx is done,
// reconnecting after errors as ListenForWork does.
func (s *Store) ListenForOutbox(ctx context.Context, wake func(), logger *slog.Logger) {
	s.listenLoop(ctx, outboxChannel, wake, logger)
}

// listenLoop listens on channel until ctx is done, reconnecting after
// errors and calling wake after each reconnection, since notifications
// sent meanwhile are lost.
func (s *Store) listenLoop(ctx context.Context, channel string, wake func(), logger *slog.Logger) {
	if s.d.embedded() {
		<-ctx.Done()
		return
	}
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := s.listen(ctx, channel, wake)
		if ctx.Err() != nil {
			return
		}
		logger.Warn("listen for notifications; polling until reconnected", "channel", channel, "err", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 10*time.Second)
		// Work may have been committed while the listener was down.
		wake()
	}
}

func (s *Store) listen(ctx context.Context, channel string, wake func()) error {
	// A dedicated connection: LISTEN belongs to a session, and a pooled
	// connection would be handed to other queries.
	conn, err := pgx.Connect(ctx, s.dsn)
	if err != nil {
		return fmt.Errorf("store: listen: connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, `LISTEN `+channel); err != nil {
		return fmt.Errorf("store: listen: %w", err)
	}
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return fmt.Errorf("store: wait for notification: %w", err)
		}
		wake()
	}
}
