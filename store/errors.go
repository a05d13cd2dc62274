package store

import (
	"errors"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
)

var (
	// ErrNotFound is returned when a row does not exist or belongs to
	// another user.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict is returned when a write would break a uniqueness rule,
	// such as a second user with the same email.
	ErrConflict = errors.New("store: conflict")
)

// SQLite extended result codes and PostgreSQL SQLSTATEs for unique
// violations; errors are classified by code, never by message text.
const (
	sqliteConstraintUnique     = 2067
	sqliteConstraintPrimaryKey = 1555
	pgUniqueViolation          = "23505"
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
