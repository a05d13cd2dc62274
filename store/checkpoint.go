package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// checkpointInterval is how often the WAL is copied back into the
// database file. Between checkpoints the WAL grows by what was written;
// a few hundred milliseconds of writes is a few megabytes at most.
const checkpointInterval = 200 * time.Millisecond

// checkpointer copies SQLite's write-ahead log into the database file from
// a connection of its own. SQLite's automatic checkpoint runs inside the
// commit that crosses the threshold, on the one writer connection, and
// makes every other write wait for its fsyncs; a PASSIVE checkpoint from
// another connection runs beside the writer instead. Durability is the
// WAL's either way: a commit is in the WAL before it returns.
type checkpointer struct {
	db     *sql.DB
	cancel context.CancelFunc
	done   chan struct{}
}

func startCheckpointer(ctx context.Context, dsn string) (*checkpointer, error) {
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open sqlite checkpointer: %w", err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxIdleTime(0)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open sqlite checkpointer: %w", err)
	}
	loopCtx, cancel := context.WithCancel(context.Background())
	c := &checkpointer{db: db, cancel: cancel, done: make(chan struct{})}
	go func() { defer close(c.done); c.loop(loopCtx) }()
	return c, nil
}

func (c *checkpointer) loop(ctx context.Context) {
	tick := time.NewTicker(checkpointInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		// A failed checkpoint loses nothing (the WAL keeps the data); the
		// next tick tries again.
		var busy, logFrames, copied int
		_ = c.db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &logFrames, &copied)
	}
}

// close stops the loop. What is still in the WAL then is checkpointed by
// SQLite itself when the store's last connection, the writer, closes.
func (c *checkpointer) close() error {
	c.cancel()
	<-c.done
	return c.db.Close()
}
