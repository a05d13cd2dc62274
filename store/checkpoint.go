package store

import (
	"context"
	"database/sql"
	"errors"
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
	done   chan error
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
	c := &checkpointer{db: db, cancel: cancel, done: make(chan error, 1)}
	go func() { c.done <- c.loop(loopCtx) }()
	return c, nil
}

func (c *checkpointer) loop(ctx context.Context) error {
	tick := time.NewTicker(checkpointInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		if err := c.checkpoint(ctx, "PASSIVE"); err != nil && ctx.Err() == nil {
			// A failed checkpoint loses nothing (the WAL keeps the data);
			// the next tick tries again.
			continue
		}
	}
}

// checkpoint runs one checkpoint of the given mode.
func (c *checkpointer) checkpoint(ctx context.Context, mode string) error {
	var busy, logFrames, done int
	err := c.db.QueryRowContext(ctx, "PRAGMA wal_checkpoint("+mode+")").Scan(&busy, &logFrames, &done)
	if err != nil {
		return fmt.Errorf("store: wal checkpoint: %w", err)
	}
	return nil
}

// close stops the loop and checkpoints what is left, so that the database
// file is whole when the process has gone.
func (c *checkpointer) close() error {
	c.cancel()
	err := <-c.done
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return errors.Join(err, c.checkpoint(ctx, "PASSIVE"), c.db.Close())
}
