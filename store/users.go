package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// CreateUser adds a user with an already hashed password, as a member of
// tenantID, which is created when it does not exist. An empty tenantID
// gives the user a tenant of its own, named by the user's id, so users
// made that way are as isolated from each other as separate accounts. A
// second user with the same email (compared case-insensitively) is
// ErrConflict.
func (s *Store) CreateUser(ctx context.Context, email, passwordHash, tenantID string) (User, error) {
	now := s.Now()
	u := User{ID: NewID(), Email: NormalizeEmail(email), PasswordHash: passwordHash, TenantID: tenantID, CreatedAt: now, UpdatedAt: now}
	if u.TenantID == "" {
		u.TenantID = u.ID
	}
	if !ValidTenantID(u.TenantID) {
		return User{}, fmt.Errorf("store: create user: tenant id %q does not match %s", u.TenantID, TenantIDPattern)
	}
	err := s.inTx(ctx, func(tx *txn) error {
		// A tenant of the user's own is named by its email, as the
		// migration to tenants named every existing user's; a tenant
		// named by --tenant is the CRM's, and its name the CRM's to set.
		name := ""
		if tenantID == "" {
			name = u.Email
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO tenants (id, name, created_at, updated_at) VALUES ($1, $2, $3, $3)
			ON CONFLICT (id) DO NOTHING`, u.TenantID, name, s.d.t(now)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx,
			`INSERT INTO users (id, email, password_hash, tenant_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)`,
			u.ID, u.Email, u.PasswordHash, u.TenantID, s.d.t(now), s.d.t(now))
		return err
	})
	if isUniqueViolation(err) {
		return User{}, fmt.Errorf("store: create user %s: %w", u.Email, ErrConflict)
	}
	if err != nil {
		return User{}, fmt.Errorf("store: create user: %w", err)
	}
	return u, nil
}

// UserByEmail finds a user by email, case-insensitively.
func (s *Store) UserByEmail(ctx context.Context, email string) (User, error) {
	return s.user(ctx, "email", NormalizeEmail(email))
}

// UserByID finds a user by id, from the user cache while RunUserCache
// keeps it armed.
func (s *Store) UserByID(ctx context.Context, id string) (User, error) {
	return s.userByIDCached(ctx, id)
}

func (s *Store) user(ctx context.Context, column, value string) (User, error) {
	var u User
	err := s.queryRow(ctx,
		`SELECT `+userColumns+` FROM users WHERE `+column+` = $1`, value).
		Scan(u.scanDest()...)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, fmt.Errorf("store: user: %w", ErrNotFound)
	}
	if err != nil {
		return User{}, fmt.Errorf("store: user: %w", err)
	}
	return u, nil
}

const userColumns = `id, email, password_hash, tenant_id, token_version, disabled_at, created_at, updated_at`

func (u *User) scanDest() []any {
	return []any{&u.ID, &u.Email, &u.PasswordHash, &u.TenantID, &u.TokenVersion, scanNullTime{&u.DisabledAt}, scanTime{&u.CreatedAt}, scanTime{&u.UpdatedAt}}
}

// SetPassword replaces a user's password hash and ends its tokens.
func (s *Store) SetPassword(ctx context.Context, userID, passwordHash string) error {
	err := s.changeUsers(ctx, userID, func(tx *txn) error {
		res, err := tx.ExecContext(ctx,
			`UPDATE users SET password_hash = $1, token_version = token_version + 1, updated_at = $2 WHERE id = $3`,
			passwordHash, s.d.t(s.Now()), userID)
		if err != nil {
			return err
		}
		return mustAffect(res, "no such user")
	})
	if err != nil {
		return fmt.Errorf("store: set password: %w", err)
	}
	return nil
}

// ChangePassword is the user's own password change: it replaces the hash
// and ends the user's tokens only if the user's token version is still
// tokenVersion, the one the request was authenticated with, and answers
// the new version. A change that crossed it (an administrator's `user
// passwd` or `user disable`, another change of the user's own) wins:
// this one answers ErrConflict and changes nothing, so a request already
// past authentication cannot undo a reset made while it ran.
func (s *Store) ChangePassword(ctx context.Context, userID string, tokenVersion int, passwordHash string) (int, error) {
	err := s.changeUsers(ctx, userID, func(tx *txn) error {
		res, err := tx.ExecContext(ctx,
			`UPDATE users SET password_hash = $1, token_version = token_version + 1, updated_at = $2 WHERE id = $3 AND token_version = $4 AND disabled_at IS NULL`,
			passwordHash, s.d.t(s.Now()), userID, tokenVersion)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			return ErrConflict
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: change password: %w", err)
	}
	return tokenVersion + 1, nil
}

// SetUserDisabled disables a user (ending its tokens and API keys' use) or
// enables it again.
func (s *Store) SetUserDisabled(ctx context.Context, userID string, disabled bool) error {
	now := s.Now()
	var at any
	if disabled {
		at = s.d.t(now)
	}
	err := s.changeUsers(ctx, userID, func(tx *txn) error {
		res, err := tx.ExecContext(ctx,
			`UPDATE users SET disabled_at = $1, token_version = token_version + 1, updated_at = $2 WHERE id = $3`,
			at, s.d.t(now), userID)
		if err != nil {
			return err
		}
		return mustAffect(res, "no such user")
	})
	if err != nil {
		return fmt.Errorf("store: disable user: %w", err)
	}
	return nil
}

// DeleteUser removes a user. What the user created belongs to its tenant
// and stays, but for the API keys it made, which are revoked with it (as
// disabling it stops them); and a tenant of the user's own (the one
// CreateUser makes without a tenant id, named by the user's id) goes with
// its last member, and with it everything in it, as an account would.
func (s *Store) DeleteUser(ctx context.Context, userID string) error {
	err := s.changeUsers(ctx, userID, func(tx *txn) error {
		var tenantID string
		err := tx.QueryRowContext(ctx, `SELECT tenant_id FROM users WHERE id = $1`, userID).Scan(&tenantID)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM users WHERE id = $1`, userID); err != nil {
			return err
		}
		// The user's API keys go with it: disabling a user stops them,
		// and deleting one must not bring them back (a key without a
		// creator is taken for a service's or a CRM member's).
		if _, err := tx.ExecContext(ctx, `DELETE FROM api_keys WHERE tenant_id = $1 AND created_by = $2`, tenantID, userID); err != nil {
			return err
		}
		if tenantID != userID {
			return nil
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM tenants WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM users WHERE tenant_id = $1)`, tenantID)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: delete user: %w", err)
	}
	return nil
}

// TenantMembers lists the users of a tenant, oldest first.
func (s *Store) TenantMembers(ctx context.Context, tenantID string) ([]User, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+userColumns+` FROM users WHERE tenant_id = $1 ORDER BY created_at, id`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("store: tenant members: %w", err)
	}
	out, err := collect(rows, func(r rowScanner) (User, error) {
		var u User
		err := r.Scan(u.scanDest()...)
		return u, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: tenant members: %w", err)
	}
	return out, nil
}

// ListUsers lists the users of tenantID, or every user when it is "",
// by tenant and then oldest first.
func (s *Store) ListUsers(ctx context.Context, tenantID string) ([]User, error) {
	if tenantID != "" {
		return s.TenantMembers(ctx, tenantID)
	}
	rows, err := s.read.QueryContext(ctx, `SELECT `+userColumns+` FROM users ORDER BY tenant_id, created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("store: list users: %w", err)
	}
	out, err := collect(rows, func(r rowScanner) (User, error) {
		var u User
		err := r.Scan(u.scanDest()...)
		return u, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: list users: %w", err)
	}
	return out, nil
}

// CountUsers returns how many users exist.
func (s *Store) CountUsers(ctx context.Context) (int, error) {
	var n int
	if err := s.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM users`).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count users: %w", err)
	}
	return n, nil
}

// MinPasswordLength is the shortest password, in characters, a user may
// be given: by 'webhookd user create' and 'user passwd', and for the first
// admin serve creates.
const MinPasswordLength = 12

// NormalizeEmail is the form an email is stored, looked up and throttled
// under: trimmed and lowercased, so that Ann@Example.com and
// ann@example.com are one user and one login-throttle counter.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// CheckEmail returns an error unless email, trimmed, has the shape of an
// email address webhookd accepts for a new user. Its message is written
// for the person who typed the address, so it carries no package prefix.
func CheckEmail(email string) error {
	email = strings.TrimSpace(email)
	if !strings.Contains(email, "@") || len(email) > 254 || strings.ContainsAny(email, " \t\r\n") {
		return fmt.Errorf("email %q is not an email address", email)
	}
	return nil
}

// CheckPassword returns an error unless password is at least
// MinPasswordLength characters (not bytes) long. Like CheckEmail's, its
// message is for the person who chose the password.
func CheckPassword(password string) error {
	if utf8.RuneCountInString(password) < MinPasswordLength {
		return fmt.Errorf("password must be at least %d characters", MinPasswordLength)
	}
	return nil
}

// mustAffect turns "no row changed" into ErrNotFound.
func mustAffect(res sql.Result, op string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", op, ErrNotFound)
	}
	return nil
}
