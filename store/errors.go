package store

import (
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
)

var (
	// ErrNotFound is returned when a row does not exist or belongs to
	// another tenant.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict is returned when a write would break a uniqueness rule,
	// such as a second user with the same email.
	ErrConflict = errors.New("store: conflict")
	// ErrTenantNotFound is returned when a write names a tenant that
	// does not exist. It is also an ErrNotFound.
	ErrTenantNotFound = fmt.Errorf("%w: tenant", ErrNotFound)
	// ErrOrderingKeyBusy is returned when a FIFO webhook's orderingKey
	// would change while deliveries wait in order under the current one:
	// they keep the keys they were given, so events accepted after the
	// change could overtake them.
	ErrOrderingKeyBusy = errors.New("store: ordered deliveries wait under the current orderingKey")
)

// SQLite extended result codes and PostgreSQL SQLSTATEs for unique
// violations; errors are classified by code, never by message text.
const (
	sqliteConstraintUnique     = 2067
	sqliteConstraintPrimaryKey = 1555
	pgUniqueViolation          = "23505"
	sqliteConstraintForeignKey = 787
	pgForeignKeyViolation      = "23503"
)

// isUniqueViolation reports whether err is a uniqueness failure in either
// dialect.
func isUniqueViolation(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		code := se.Code()
		return code == sqliteConstraintUnique || code == sqliteConstraintPrimaryKey
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == pgUniqueViolation
	}
	return false
}

// ErrLocked is returned by Open when another process holds an SQLite
// database.
var ErrLocked = errors.New("store: database locked")

// isForeignKeyViolation reports whether err is a foreign key failure in
// either dialect: a row naming a tenant (or webhook) deleted meanwhile.
func isForeignKeyViolation(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqliteConstraintForeignKey
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == pgForeignKeyViolation
	}
	return false
}

// nullString is s, or NULL when s is empty.
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}
