package store

import (
	"fmt"
	"strings"
	"time"
)

// dialect holds what differs between SQLite and PostgreSQL, side by side.
type dialect struct{ kind Kind }

// t binds a time: Unix milliseconds on SQLite, TIMESTAMPTZ on PostgreSQL.
func (d dialect) t(t time.Time) any {
	if d.kind == SQLite {
		return t.UnixMilli()
	}
	return t.UTC()
}

// indexedBy names the index a SQLite statement must read a table through,
// for statements whose several candidate indexes look alike to a planner
// without statistics; PostgreSQL has no such clause and chooses by cost.
func (d dialect) indexedBy(index string) string {
	if d.kind == SQLite {
		return " INDEXED BY " + index
	}
	return ""
}

// nt binds a time that may be absent.
func (d dialect) nt(t *time.Time) any {
	if t == nil {
		return nil
	}
	return d.t(*t)
}

// completionRow is one row of the VALUES list that updateDeliveries joins
// against, starting at parameter n: id, lease token, status, attempts,
// next attempt. PostgreSQL needs the types spelled out, because a VALUES
// list in FROM has no target columns to take them from.
func (d dialect) completionRow(n int) string {
	if d.kind == Postgres {
		return fmt.Sprintf("($%d::text, $%d::text, $%d::text, $%d::int, $%d::timestamptz)", n, n+1, n+2, n+3, n+4)
	}
	return "(?, ?, ?, ?, ?)"
}

// params returns n parameters starting at number first, for statements
// whose parameter count grows with a batch. SQLite looks a $N parameter up
// by name in a list, which is quadratic over thousands of them, so there
// such statements use plain positional "?" throughout.
func (d dialect) params(first, n int) string {
	if d.kind == Postgres {
		return placeholders(first, n)
	}
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// valueRows is the VALUES list of a multi-row INSERT: n rows of columns
// parameters each, numbered from 1, each row ending in extra (such as
// ", 'pending', 0") when extra is not empty.
func (d dialect) valueRows(n, columns int, extra string) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(" + d.params(i*columns+1, columns) + extra + ")")
	}
	return b.String()
}

// param is parameter number n in a statement written with params.
func (d dialect) param(n int) string {
	if d.kind == Postgres {
		return fmt.Sprintf("$%d", n)
	}
	return "?"
}

// scanTime reads a time column in either dialect's representation.
type scanTime struct{ dst *time.Time }

// Scan implements sql.Scanner.
func (s scanTime) Scan(src any) error {
	t, ok, err := fromDB(src)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("store: scan time: unexpected NULL")
	}
	*s.dst = t
	return nil
}

// scanNullTime reads a time column that may be NULL.
type scanNullTime struct{ dst **time.Time }

// Scan implements sql.Scanner.
func (s scanNullTime) Scan(src any) error {
	t, ok, err := fromDB(src)
	if err != nil {
		return err
	}
	if !ok {
		*s.dst = nil
		return nil
	}
	*s.dst = &t
	return nil
}

func fromDB(src any) (time.Time, bool, error) {
	switch v := src.(type) {
	case nil:
		return time.Time{}, false, nil
	case int64:
		return time.UnixMilli(v).UTC(), true, nil
	case time.Time:
		return v.UTC(), true, nil
	default:
		return time.Time{}, false, fmt.Errorf("store: scan time: unsupported type %T", src)
	}
}

// activeWebhooksOfOwners is a FROM clause of the owners, u, and then of
// each owner's active webhooks, w (id, user_id, rate_limit), read through
// webhooks_user_id_idx in that order, so that leaving an owner out of u
// costs nothing however many webhooks it has. SQLite keeps the tables in
// CROSS JOIN's order. PostgreSQL reorders any join by its estimates, which
// without statistics put the webhooks first; a LATERAL subquery it cannot
// flatten (OFFSET 0) is read once per owner.
func (d dialect) activeWebhooksOfOwners() string {
	if d.kind == Postgres {
		return `users u CROSS JOIN LATERAL (SELECT id, user_id, rate_limit FROM webhooks
			WHERE user_id = u.id AND is_active = TRUE OFFSET 0) AS w`
	}
	return `users u CROSS JOIN webhooks w ON w.user_id = u.id AND w.is_active = TRUE`
}

// skipLocked ends a lease's SELECT of due deliveries, d: on PostgreSQL it
// locks the rows it returns and skips those another process holds, so
// that several processes lease side by side without waiting on each
// other's rows (rows read but not taken are unlocked at commit,
// unchanged). SQLite has one writer, which needs no row locks.
func (d dialect) skipLocked() string {
	if d.kind == Postgres {
		return ` FOR UPDATE OF d SKIP LOCKED`
	}
	return ""
}
