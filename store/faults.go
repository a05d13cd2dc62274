package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
)

var (
	// ErrUnavailable is what Fault reports for a database that cannot be
	// reached or refuses work for now: PostgreSQL down, restarting, out of
	// connections; an SQLite file that cannot be opened, read or locked.
	// Retrying later is the remedy, not changing the request.
	ErrUnavailable = errors.New("store: database unavailable")
	// ErrFull is what Fault reports for a database with no room left for
	// writes: a full disk under SQLite or PostgreSQL.
	ErrFull = errors.New("store: database full")
)

// SQLite primary result codes of faults outside the request (an extended
// code carries its primary code in its low byte).
const (
	sqliteBusy     = 5
	sqliteReadOnly = 8
	sqliteIOErr    = 10
	sqliteFull     = 13
	sqliteCantOpen = 14
	sqliteProtocol = 15
)

// Fault classifies err, as returned by any Store method: ErrFull or
// ErrUnavailable for a fault of the database rather than of the request or
// of webhookd, and nil for anything else (a bug, bad input, not found).
// Errors are classified by driver type and code, never by message text.
func Fault(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrFull):
		return ErrFull
	case errors.Is(err, ErrUnavailable):
		return ErrUnavailable
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqliteFull:
			return ErrFull
		case sqliteBusy, sqliteReadOnly, sqliteIOErr, sqliteCantOpen, sqliteProtocol:
			return ErrUnavailable
		}
		return nil
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "53100": // disk_full
			return ErrFull
		case len(pe.Code) == 5 && pe.Code[:2] == "08", // connection exceptions
			pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03", // admin or crash shutdown, cannot connect now
			pe.Code == "53300", pe.Code == "53200", // too many connections, out of memory
			pe.Code == "25006": // read-only transaction: a standby
			return ErrUnavailable
		}
		return nil
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	switch {
	case errors.As(err, &ce), errors.As(err, &ne),
		errors.Is(err, driver.ErrBadConn), errors.Is(err, sql.ErrConnDone),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		// A connection refused, reset or closed mid-query. (io.EOF here
		// is a connection's, not a read loop's: the store ends its loops
		// itself.)
		return ErrUnavailable
	case pgconn.SafeToRetry(err):
		return ErrUnavailable
	}
	return nil
}

// writeHealth remembers how writes went, for readiness: the last write
// committed, the last write that failed by Fault, and the last probe.
type writeHealth struct {
	mu       sync.Mutex
	okAt     time.Time
	faultAt  time.Time
	probeAt  time.Time
	probeErr error
	probing  sync.Mutex // one probe at a time
}

// recordWrite notes how a write transaction ended: committed (nil), or
// failed with a fault; other failures say nothing about the database.
func (h *writeHealth) recordWrite(err error) {
	now := time.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case err == nil:
		h.okAt = now
	case Fault(err) != nil:
		h.faultAt = now
	}
}

// How readiness learns whether writes work. A commit in the last second
// with no fault since says so for free; otherwise a probe writes one row,
// at most once a second however often /readyz is asked.
const (
	writeFresh = time.Second
	probeEvery = time.Second
)

// WriteHealth reports whether the database takes writes now: nil, or an
// error that Fault classifies as ErrFull or ErrUnavailable. A database that
// answers reads can still refuse every write (a full disk), so readiness
// asks this as well as Ping. Under load it costs nothing (recent commits
// answer); when idle it rewrites one row of settings at most once a
// second, which on SQLite also finds a full disk once the idle log has
// been truncated and any write must grow it.
func (s *Store) WriteHealth(ctx context.Context) error {
	h := &s.health
	if err, ok := h.fresh(); ok {
		return err
	}
	h.probing.Lock()
	defer h.probing.Unlock()
	if err, ok := h.fresh(); ok {
		return err
	}
	_, err := s.write.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES ('health.write_probe', $1)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, s.Now().Format(time.RFC3339Nano))
	if err != nil {
		err = fmt.Errorf("store: write probe: %w", err)
	}
	now := time.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.probeAt, h.probeErr = now, err
	switch {
	case err == nil:
		h.okAt = now
	case Fault(err) != nil:
		h.faultAt = now
	}
	return err
}

// fresh returns what is known without a probe: ok is false when a probe
// is needed.
func (h *writeHealth) fresh() (error, bool) {
	now := time.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.okAt.IsZero() && !h.okAt.Before(h.faultAt) && now.Sub(h.okAt) < writeFresh {
		return nil, true
	}
	if !h.probeAt.IsZero() && now.Sub(h.probeAt) < probeEvery && !h.faultAt.After(h.probeAt) {
		return h.probeErr, true
	}
	return nil, false
}
