package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib" // also registers the "pgx" database/sql driver
	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// Kind names a database dialect.
type Kind string

// The dialects webhookd runs on.
const (
	SQLite   Kind = "sqlite"
	Postgres Kind = "postgres"
)

// Store is webhookd's database. It is safe for concurrent use.
type Store struct {
	write *writeDB // SQLite: one connection, BEGIN IMMEDIATE; PostgreSQL: the pool
	read  *sql.DB  // SQLite: reader pool; PostgreSQL: the same pool as write
	d     dialect
	now   func() time.Time
	lock  *fileLock
	// userGen is the SQLite database's user changes file (see
	// userGenFile); nil on PostgreSQL and where it is unavailable.
	userGen *userGenFile
	label   string
	dsn     string // PostgreSQL only: for the LISTEN connection
	admin   bool   // opened by ForAdmin: no process lock
	// mustExist: opened with MustExist, SQLite only; never create the file.
	mustExist bool

	autoDisableRule AutoDisable
	disabledPayload func(DisabledWebhook) ([]byte, error) // see WithDisabledPayload
	limits          limits
	reads           *readStmts

	// serving is set on an SQLite store opened to serve (not ForAdmin):
	// this process holds the file, its writer's statements are prepared
	// (stmts), and checkpoints run off the writer's path (checkpointer).
	// Both are nil otherwise.
	serving      bool
	stmts        *writeStmts
	checkpointer *checkpointer
	walLimit     int64 // see WithWALLimit
	// checkpointEvery overrides checkpointInterval in tests (0: the
	// interval).
	checkpointEvery time.Duration

	health writeHealth // how writes went, for readiness

	filters filterCache // parsed payload filters, by webhook
	users   userCache   // users by id for authentication, see RunUserCache
	// usersScope names the user cache's channels and listeners for this
	// store's schema (PostgreSQL), so that stores of other schemas in the
	// same database neither hear nor wait for each other.
	usersScope string
	// onListening and beforeUsersCommit are test hooks: the user cache's
	// listener has LISTENed but is not named yet; a change to users has
	// sent its NOTIFY and not committed yet.
	onListening, beforeUsersCommit func()

	// probedWebhooks counts the webhooks activeWebhooksByDue has returned,
	// each a probe of the due index: tests check that a lease does not
	// pay one per webhook of an owner that cannot take more.
	probedWebhooks atomic.Int64
	// fanOutWebhooksRead counts the webhook rows fan-out steps have read
	// to match their events against (tests: the reads narrow as a fan-out
	// advances, where the database compares ids in byte order).
	fanOutWebhooksRead atomic.Int64
	// selfWake is the wake function ListenForWork runs with on SQLite,
	// nil when none runs (see wakeSelf).
	selfWake atomic.Pointer[func()]
}

// Option changes how Open builds a Store.
type Option func(*Store)

// ForAdmin opens an SQLite database without claiming it for this process,
// so that short administrative commands (creating users, printing status)
// run beside a serving process. Such a store must not lease deliveries.
func ForAdmin() Option {
	return func(s *Store) { s.admin = true }
}

// WithClock makes the store read the time from now instead of time.Now, so
// tests can move time.
func WithClock(now func() time.Time) Option {
	return func(s *Store) { s.now = now }
}

// ParseTarget tells which dialect a --db value selects and returns what the
// driver needs: a postgres:// or postgresql:// URL selects PostgreSQL, and
// anything else is an SQLite file path, optionally prefixed with "sqlite:".
func ParseTarget(target string) (Kind, string, error) {
	target = strings.TrimSpace(target)
	switch {
	case target == "":
		return "", "", errors.New("store: empty database target")
	case strings.HasPrefix(target, "postgres://"), strings.HasPrefix(target, "postgresql://"):
		if _, err := url.Parse(target); err != nil {
			return "", "", fmt.Errorf("store: parse PostgreSQL URL: %w", redactURLError(err))
		}
		return Postgres, target, nil
	case strings.HasPrefix(target, "sqlite:"):
		path := strings.TrimPrefix(strings.TrimPrefix(target, "sqlite:"), "//")
		if path == "" {
			return "", "", errors.New("store: sqlite: target has no file path")
		}
		return SQLite, path, nil
	default:
		return SQLite, target, nil
	}
}

// redactURLError drops the URL (which may hold a password) from a parse
// error and keeps only what went wrong.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// Open connects to the database that target names (see ParseTarget). It
// does not migrate; call Migrate or PendingMigrations.
func Open(ctx context.Context, target string, opts ...Option) (*Store, error) {
	kind, dsn, err := ParseTarget(target)
	if err != nil {
		return nil, err
	}
	s := &Store{d: dialect{kind: kind}, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	switch kind {
	case SQLite:
		err = s.openSQLite(ctx, dsn)
	case Postgres:
		err = s.openPostgres(ctx, dsn)
	}
	if err != nil {
		return nil, err
	}
	s.reads = &readStmts{db: s.read, m: map[string]*sql.Stmt{}}
	return s, nil
}

func (s *Store) openSQLite(ctx context.Context, path string) error {
	// Before the lock, which would leave a lock file beside a database
	// that is not there.
	mode, err := s.prepareSQLiteFile(path)
	if err != nil {
		return err
	}
	lock := &fileLock{}
	if !s.admin {
		// Named after the file itself, as the user changes file is: a
		// second process naming it through a symbolic link is refused.
		if lock, err = lockFile(realPath(path) + ".lock"); err != nil {
			return err
		}
	}
	// busy_timeout (writerBusyTimeout) comes first so that the pragmas after
	// it wait rather than fail while another connection holds the file.
	pragmas := "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)" + mode
	writerPragmas := pragmas
	if !s.admin {
		// The serving process checkpoints from its own connection (see
		// checkpointer), so the writer never stops to copy the WAL into the
		// database and fsync both.
		writerPragmas += "&_pragma=wal_autocheckpoint(0)"
		// Whenever the log starts over, SQLite cuts the file back to
		// this size instead of keeping its high-water mark.
		if s.walLimit <= 0 {
			s.walLimit = DefaultWALLimit
		}
		writerPragmas += fmt.Sprintf("&_pragma=journal_size_limit(%d)", s.walLimit)
	}
	write, err := sql.Open("sqlite", "file:"+path+"?"+writerPragmas+"&_txlock=immediate")
	if err != nil {
		lock.release()
		return fmt.Errorf("store: open sqlite writer: %w", err)
	}
	// One writer connection: SQLite allows one writer at a time, and queueing
	// writers on database/sql's pool never hands SQLITE_BUSY to a caller.
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)
	if err := write.PingContext(ctx); err != nil {
		write.Close()
		lock.release()
		return fmt.Errorf("store: open sqlite %s: %w", path, err)
	}
	read, err := sql.Open("sqlite", "file:"+path+"?"+pragmas+"&_pragma=query_only(1)")
	if err != nil {
		write.Close()
		lock.release()
		return fmt.Errorf("store: open sqlite readers: %w", err)
	}
	read.SetMaxOpenConns(8)
	read.SetMaxIdleConns(8)
	read.SetConnMaxIdleTime(0)
	gen, err := openUserGen(path, s.admin)
	if err != nil {
		read.Close()
		write.Close()
		lock.release()
		return err
	}
	s.write, s.read, s.lock, s.userGen, s.label = &writeDB{DB: write}, read, lock, gen, absPath(path)
	if !s.admin {
		ck, err := startCheckpointer(ctx, "file:"+path+"?"+pragmas, s.write, path+"-wal", s.walLimit, cmp.Or(s.checkpointEvery, checkpointInterval))
		if err != nil {
			read.Close()
			write.Close()
			gen.close()
			lock.release()
			return err
		}
		s.checkpointer = ck
		s.stmts = newWriteStmts(write)
		s.serving = true
	}
	return nil
}

func (s *Store) openPostgres(ctx context.Context, dsn string) error {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return fmt.Errorf("store: open postgres: %w", err)
	}
	// pgx prepares every statement once per connection, and after five
	// runs PostgreSQL may keep a generic plan for it, costed with the table
	// sizes of that moment. A plan made while a table was small (a fresh
	// database, no statistics) then outlives the table's growth: loading a
	// lease's deliveries hash-joined a whole 200,000-row events table, 80 ms
	// a lease, where a fresh plan probes its primary key. Custom plans are
	// made with the sizes of the moment, for a fraction of a millisecond of
	// planning. A plan_cache_mode given in --db wins.
	if _, ok := cfg.RuntimeParams["plan_cache_mode"]; !ok {
		cfg.RuntimeParams["plan_cache_mode"] = "force_custom_plan"
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(32)
	db.SetMaxIdleConns(32)
	db.SetConnMaxIdleTime(5 * time.Minute)
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pingCtx); err != nil {
		db.Close()
		return fmt.Errorf("store: connect to postgres: %w", err)
	}
	// A search_path naming no existing schema (a typo in --db, a schema
	// not created yet) leaves current_schema() NULL; every statement would
	// then fail with goose's "relation goose_db_version does not exist".
	var schema sql.NullString
	var path string
	if err := db.QueryRowContext(pingCtx, `SELECT current_schema(), current_setting('search_path')`).Scan(&schema, &path); err != nil {
		db.Close()
		return fmt.Errorf("store: connect to postgres: read search_path: %w", err)
	}
	if !schema.Valid {
		db.Close()
		return fmt.Errorf("store: %s: no schema of its search_path (%s) exists in that database; check --db, or create the schema first (CREATE SCHEMA name)", redactDSN(dsn), path)
	}
	s.write, s.read, s.label, s.dsn = &writeDB{DB: db}, db, redactDSN(dsn), dsn
	s.usersScope = usersScope(schema.String)
	return nil
}

// redactDSN hides the password of a PostgreSQL URL for logs.
func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "postgres"
	}
	return u.Redacted()
}

// Close closes the database and, on SQLite, lets another process open it.
func (s *Store) Close() error {
	var errs []error
	if s.serving {
		errs = append(errs, s.checkpointer.close())
		s.stmts.close()
	}
	s.reads.close()
	if s.read != s.write.DB {
		errs = append(errs, s.read.Close())
	}
	errs = append(errs, s.write.Close())
	// The cache stops reading the changes file before it is let go; a
	// change still in flight keeps it until the change ends.
	s.users.detach()
	s.userGen.close()
	if s.lock != nil {
		s.lock.release()
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}

// Kind reports the store's dialect.
func (s *Store) Kind() Kind { return s.d.kind }

// Label names the database for logs: the SQLite file's absolute path or
// the PostgreSQL URL without its password.
func (s *Store) Label() string { return s.label }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.read.PingContext(ctx); err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	return nil
}

// Now returns the store's clock reading, truncated to the millisecond
// precision both dialects keep.
func (s *Store) Now() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

// NewID returns a new time-ordered identifier (UUIDv7), so that ordering by
// id is ordering by creation and cursors need only the id.
func NewID() string { return uuid.Must(uuid.NewV7()).String() }

// execer is what both *sql.DB and *sql.Tx offer for statements.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// queryer is what both the reader pool and a write transaction offer for
// queries.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// writeDB is the pool writes go through. Every write holds its gate's read
// side from before it asks for a connection until it is done, so that the
// SQLite checkpointer, taking the write side, holds new writes off while it
// starts an overgrown log over: waiting for the writer connection in
// database/sql's queue, which hands it to a random waiter, it was passed
// by many commits in a row under a backlog and the log reached three times
// its limit. Nothing takes the write side on PostgreSQL.
type writeDB struct {
	*sql.DB
	gate sync.RWMutex
}

// ExecContext runs a write statement outside a transaction.
func (w *writeDB) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	w.gate.RLock()
	defer w.gate.RUnlock()
	return w.DB.ExecContext(ctx, query, args...)
}

// QueryRowContext runs a write statement that returns a row (UPDATE …
// RETURNING) outside a transaction.
func (w *writeDB) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	w.gate.RLock()
	defer w.gate.RUnlock()
	return w.DB.QueryRowContext(ctx, query, args...)
}

// inTx runs fn in a write transaction and commits it, rolling back on error.
func (s *Store) inTx(ctx context.Context, fn func(tx *txn) error) error {
	s.write.gate.RLock()
	defer s.write.gate.RUnlock()
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		s.health.recordWrite(err)
		return err
	}
	if s.serving {
		// Once the writer is free again, prepare what this transaction
		// ran unprepared.
		defer s.stmts.prepareNoted(ctx)
	}
	if err := s.runTx(&txn{Tx: tx, stmts: s.stmts}, fn); err != nil {
		return err
	}
	if s.serving {
		s.checkpointer.committed()
	}
	return nil
}

// runTx runs fn in tx and commits it, or rolls it back if fn fails, and
// tells the store's health what the database answered.
func (s *Store) runTx(tx *txn, fn func(tx *txn) error) error {
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		s.health.recordWrite(err)
		return err
	}
	if err := tx.Commit(); err != nil {
		s.health.recordWrite(err)
		return err
	}
	s.health.recordWrite(nil)
	return nil
}

// goose builds a migration provider for the store's dialect.
func (s *Store) goose() (*goose.Provider, error) {
	dialect, fsys := s.d.migrations()
	p, err := goose.NewProvider(dialect, s.write.DB, fsys)
	if err != nil {
		return nil, fmt.Errorf("store: migrations: %w", err)
	}
	return p, nil
}

// recoverWriter undoes what a failed SQLite migration that runs its own
// transaction (-- +goose NO TRANSACTION, such as 00007_tenants) leaves on
// the one writer connection: goose runs its statements one by one and
// stops at the failing one, so the connection would stay inside that
// migration's BEGIN, holding its half-done changes, with foreign keys off.
// Every later write would then fail with "cannot start a transaction
// within a transaction". Rolling back restores the database as it was
// before the migration. PostgreSQL migrations run in goose's own
// transactions, which goose rolls back.
func (s *Store) recoverWriter(ctx context.Context) error {
	if s.d.kind != SQLite {
		return nil
	}
	ctx = context.WithoutCancel(ctx)
	conn, err := s.write.DB.Conn(ctx)
	if err != nil {
		return fmt.Errorf("store: recover the writer after a failed migration: %w", err)
	}
	defer conn.Close()
	// ROLLBACK outside a transaction (the migration failed before its
	// BEGIN, or after its COMMIT) fails harmlessly.
	if _, err := conn.ExecContext(ctx, `ROLLBACK`); err != nil && !strings.Contains(err.Error(), "no transaction is active") {
		return fmt.Errorf("store: recover the writer after a failed migration: rollback: %w", err)
	}
	if _, err := conn.ExecContext(ctx, `PRAGMA foreign_keys = ON`); err != nil {
		return fmt.Errorf("store: recover the writer after a failed migration: foreign keys: %w", err)
	}
	return nil
}

// MigrationState is one migration and whether it has been applied.
type MigrationState struct {
	Version   int64
	Name      string
	Applied   bool
	AppliedAt time.Time
}

// Migrate applies every pending migration and returns the versions applied.
func (s *Store) Migrate(ctx context.Context) ([]int64, error) {
	p, err := s.goose()
	if err != nil {
		return nil, err
	}
	results, err := p.Up(ctx)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("store: migrate up: %w", err), s.recoverWriter(ctx))
	}
	applied := make([]int64, 0, len(results))
	for _, r := range results {
		applied = append(applied, r.Source.Version)
	}
	return applied, nil
}

// MigrateDown rolls back the most recent migration and returns its version.
func (s *Store) MigrateDown(ctx context.Context) (int64, error) {
	p, err := s.goose()
	if err != nil {
		return 0, err
	}
	// goose would create its version table first; a database never
	// migrated has nothing to roll back and is left as it is.
	if ok, err := s.hasVersionTable(ctx); err != nil {
		return 0, err
	} else if !ok {
		return 0, errors.New("store: migrate down: no migration has been applied to this database")
	}
	r, err := p.Down(ctx)
	if err != nil {
		return 0, errors.Join(fmt.Errorf("store: migrate down: %w", err), s.recoverWriter(ctx))
	}
	return r.Source.Version, nil
}

// Migrations lists every known migration with its state. It changes
// nothing: on a database that was never migrated it reports every
// migration pending without creating goose's version table.
func (s *Store) Migrations(ctx context.Context) ([]MigrationState, error) {
	p, err := s.goose()
	if err != nil {
		return nil, err
	}
	if ok, err := s.hasVersionTable(ctx); err != nil {
		return nil, err
	} else if !ok {
		var out []MigrationState
		for _, src := range p.ListSources() {
			out = append(out, MigrationState{Version: src.Version, Name: src.Path})
		}
		return out, nil
	}
	st, err := p.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: migration status: %w", err)
	}
	out := make([]MigrationState, 0, len(st))
	for _, m := range st {
		out = append(out, MigrationState{
			Version:   m.Source.Version,
			Name:      m.Source.Path,
			Applied:   m.State == goose.StateApplied,
			AppliedAt: m.AppliedAt,
		})
	}
	return out, nil
}

// hasVersionTable reports whether goose's version table exists, that is,
// whether migrations ever ran on this database (or its search_path schema).
func (s *Store) hasVersionTable(ctx context.Context) (bool, error) {
	var ok bool
	if err := s.read.QueryRowContext(ctx, s.d.versionTableQuery()).Scan(&ok); err != nil {
		return false, fmt.Errorf("store: migration status: %w", err)
	}
	return ok, nil
}

// PendingMigrations returns the versions not yet applied.
func (s *Store) PendingMigrations(ctx context.Context) ([]int64, error) {
	all, err := s.Migrations(ctx)
	if err != nil {
		return nil, err
	}
	var pending []int64
	for _, m := range all {
		if !m.Applied {
			pending = append(pending, m.Version)
		}
	}
	return pending, nil
}
