package store

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"time"
)

// checkpointInterval is how often the WAL is copied back into the
// database file. Between checkpoints the WAL grows by what was written;
// a few hundred milliseconds of writes is a few megabytes at most.
const checkpointInterval = 200 * time.Millisecond

// DefaultWALLimit is the size past which the SQLite write-ahead log is
// checkpointed and started over (--wal-limit).
const DefaultWALLimit = 64 << 20

// How long a RESTART or TRUNCATE checkpoint waits for readers of old snapshots to
// leave the WAL. Past the limit it waits long enough for any ordinary
// query, holding writes off meanwhile; when idle it only tries.
const (
	waitOverLimit = 5 * time.Second
	waitIdle      = 50 * time.Millisecond
	// writerBusyTimeout is the writer's busy_timeout, as Open sets it;
	// the checkpointer puts it back after a checkpoint.
	writerBusyTimeout = 10 * time.Second
)

// WithWALLimit sets the size past which a serving SQLite store checkpoints
// its write-ahead log with RESTART, which waits for readers, rather than
// PASSIVE, which never does (0 or less: DefaultWALLimit). It is also the
// journal_size_limit the log file is cut back to whenever it restarts.
func WithWALLimit(bytes int64) Option {
	return func(s *Store) { s.walLimit = bytes }
}

// checkpointer copies SQLite's write-ahead log into the database file from
// a connection of its own. SQLite's automatic checkpoint runs inside the
// commit that crosses the threshold, on the one writer connection, and
// makes every other write wait for its fsyncs; a PASSIVE checkpoint from
// another connection runs beside the writer instead. Durability is the
// WAL's either way: a commit is in the WAL before it returns.
//
// PASSIVE alone does not bound the log. It copies frames but never waits,
// and SQLite starts the log over from its beginning only when a writer
// finds every frame copied and no reader still reading from the log; under
// a backlog some reader almost always is, so the file grew by ~15 KB a
// delivery and stayed that size (870 MB for 100k deliveries in one run).
// So when the file passes the limit the checkpointer runs a RESTART
// checkpoint, which waits for readers of old snapshots to finish (new
// readers read the database file), so that the next write starts the log
// over from its beginning, reusing the file; journal_size_limit cuts the
// file back to the limit as it does. When the writer has gone idle with
// the log all copied, a TRUNCATE checkpoint gives the space back.
// Past the limit the checkpoint runs on the writer's own connection, taken
// from the pool like any write: SQLite's busy handler polls for the write
// lock with sleeps of up to 100 ms, and a writer committing back to back
// starved it (the log reached twice the limit). The pool alone is not
// enough either, since it hands the connection to a random waiter; so the
// checkpointer first closes the writer's gate (writeDB) to new writes. Writes wait meanwhile; since PASSIVE has
// already copied most frames, that is mostly the wait for readers (27-135
// ms a checkpoint at the 64 MiB default, measured under a 100k backlog).
type checkpointer struct {
	conn    *sql.Conn // one connection, so its busy_timeout setting sticks
	db      *sql.DB
	writer  *writeDB // the store's one writer connection, and its gate
	walPath string
	limit   int64
	// pageSize is the size of a log frame's page: PASSIVE counts frames.
	pageSize int64
	// every is the time between two steps (checkpointInterval; tests
	// lengthen it to run steps themselves).
	every time.Duration
	// afterPassive, when set (tests), runs in each step after its
	// PASSIVE checkpoint, as a write committed meanwhile would.
	afterPassive func()
	cancel       context.CancelFunc
	done         chan struct{}
	// over is signalled by the writer after a commit that left the log
	// past the limit, so that the checkpoint does not wait for the tick.
	over chan struct{}
}

func startCheckpointer(ctx context.Context, dsn string, writer *writeDB, walPath string, limit int64, every time.Duration) (*checkpointer, error) {
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open sqlite checkpointer: %w", err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxIdleTime(0)
	conn, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open sqlite checkpointer: %w", err)
	}
	var pageSize int64
	if err := conn.QueryRowContext(ctx, "PRAGMA page_size").Scan(&pageSize); err != nil {
		conn.Close()
		db.Close()
		return nil, fmt.Errorf("store: open sqlite checkpointer: %w", err)
	}
	loopCtx, cancel := context.WithCancel(context.Background())
	c := &checkpointer{conn: conn, db: db, writer: writer, walPath: walPath, limit: limit, pageSize: pageSize, every: every, cancel: cancel,
		done: make(chan struct{}), over: make(chan struct{}, 1)}
	go func() { defer close(c.done); c.loop(loopCtx) }()
	return c, nil
}

// walSize is the size of the WAL file now (0 when there is none).
func (c *checkpointer) walSize() int64 {
	fi, err := os.Stat(c.walPath)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// committed is called by the writer after each commit: a stat, and a
// wake-up for the checkpointer when the log has passed the limit.
func (c *checkpointer) committed() {
	if c.walSize() > c.limit {
		select {
		case c.over <- struct{}{}:
		default:
		}
	}
}

func (c *checkpointer) loop(ctx context.Context) {
	tick := time.NewTicker(c.every)
	defer tick.Stop()
	lastFrames := -1
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-c.over:
		}
		lastFrames = c.step(ctx, lastFrames)
	}
}

// step checkpoints once. lastFrames is the log's length in frames that
// the previous step saw (-1: unknown); step returns the length it saw.
func (c *checkpointer) step(ctx context.Context, lastFrames int) int {
	// PASSIVE first, whatever follows: it copies beside the writer, so
	// that what the writer's gate holds off below is only the copying of
	// the frames committed since.
	var busy, logFrames, copied int
	if err := c.conn.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &logFrames, &copied); err != nil {
		// A failed checkpoint loses nothing (the WAL keeps the data); the
		// next tick tries again.
		return -1
	}
	if c.afterPassive != nil {
		c.afterPassive()
	}
	switch {
	case logFrames > 0 && logFrames == copied && logFrames == lastFrames:
		// Idle: nothing written since the last step and everything
		// copied. The log is of no more use, so give its space back. This
		// holds past the limit too: after a RESTART the file keeps its
		// size until the next commit, and when none comes only TRUNCATE
		// cuts it.
		_, _, _ = c.checkpoint(ctx, c.conn, "TRUNCATE", waitIdle)
		return -1
	case c.walSize() > c.limit:
		logFrames, _, _ = c.restartOnWriter(ctx)
	case int64(logFrames)*c.pageSize >= c.limit/2:
		c.catchUpOnWriter(ctx)
	}
	return logFrames
}

// catchUpOnWriter copies the last frames of the log with the writer's gate
// closed, so that the next write finds the log all copied and starts it
// over from its beginning (unless a reader began before and still reads
// from it; the next tick tries again, and past the limit restartOnWriter
// waits for such readers). SQLite starts the log over only when a write
// begins with every frame copied, and a PASSIVE checkpoint beside a busy
// writer never catches up with it: under a steady load of small
// transactions the log grew to the limit every half second or so, and the
// RESTART that then held writes off while it copied up to a tick's frames
// (10–36 ms, 128 MB of log a second at 2,000 events/s to 1,000 tenants)
// was the run's p99. Halfway to the limit, and just after a PASSIVE, what
// is left to copy is what was committed during that PASSIVE: writes wait
// for that and the fsyncs, 2–5 ms, and for no reader.
func (c *checkpointer) catchUpOnWriter(ctx context.Context) {
	c.writer.gate.Lock()
	defer c.writer.gate.Unlock()
	conn, err := c.writer.Conn(ctx)
	if err != nil {
		return
	}
	defer conn.Close() // back to the pool, for the next write
	var busy, logFrames, copied int
	_ = conn.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &logFrames, &copied)
}

// restartOnWriter runs a RESTART checkpoint on the writer's connection,
// so that no write runs until it is done. It first closes the write gate,
// so the writes it waits for are only those already under way: the log
// ends at most their size past the limit.
func (c *checkpointer) restartOnWriter(ctx context.Context) (logFrames, copied int, err error) {
	c.writer.gate.Lock()
	defer c.writer.gate.Unlock()
	conn, err := c.writer.Conn(ctx)
	if err != nil {
		return 0, 0, err
	}
	defer conn.Close() // back to the pool, for the next write
	logFrames, copied, err = c.checkpoint(ctx, conn, "RESTART", waitOverLimit)
	// Writes wait for readers as long as Open said; a failure here leaves
	// the checkpoint's shorter wait, which only makes a write give up
	// sooner on a database another process holds.
	_, _ = conn.ExecContext(ctx, fmt.Sprintf("PRAGMA busy_timeout = %d", writerBusyTimeout.Milliseconds()))
	return logFrames, copied, err
}

// checkpoint runs a checkpoint of mode (RESTART or TRUNCATE) on conn that
// waits at most wait for the write lock and for readers of old snapshots,
// and reports the frames in the log and how many of them are copied.
// Busy (readers stayed past the wait) is not an error: the next tick
// tries again, and what was copied stays copied.
func (c *checkpointer) checkpoint(ctx context.Context, conn *sql.Conn, mode string, wait time.Duration) (logFrames, copied int, err error) {
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("PRAGMA busy_timeout = %d", wait.Milliseconds())); err != nil {
		return 0, 0, err
	}
	var busy int
	err = conn.QueryRowContext(ctx, "PRAGMA wal_checkpoint("+mode+")").Scan(&busy, &logFrames, &copied)
	return logFrames, copied, err
}

// close stops the loop. What is still in the WAL then is checkpointed by
// SQLite itself when the store's last connection, the writer, closes.
func (c *checkpointer) close() error {
	c.cancel()
	<-c.done
	c.conn.Close()
	return c.db.Close()
}

// WALBytes reports the size of the SQLite write-ahead log file, and false
// on PostgreSQL, which has no such file of webhookd's.
func (s *Store) WALBytes() (int64, bool) {
	if !s.d.embedded() {
		return 0, false
	}
	fi, err := os.Stat(s.label + "-wal")
	if err != nil {
		return 0, true // no log: everything is in the database file
	}
	return fi.Size(), true
}
