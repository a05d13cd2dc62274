package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

// TestChangePasswordLosesToAChangeMadeMeanwhile: a user's own password
// change holds only against the token version its request was
// authenticated with, so an administrator's reset or disable made while
// the change was being checked is never undone by it.
func TestChangePasswordLosesToAChangeMadeMeanwhile(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		u := newUser(t, s, "erin@example.com")

		// The administrator resets the password while the user's change
		// (authenticated at u.TokenVersion) is in flight.
		if err := s.SetPassword(ctx, u.ID, "admin-reset-hash"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ChangePassword(ctx, u.ID, u.TokenVersion, "attacker-hash"); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("change at a stale version: err = %v, want ErrConflict", err)
		}
		got, err := s.UserByID(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.PasswordHash != "admin-reset-hash" || got.TokenVersion != u.TokenVersion+1 {
			t.Fatalf("after the stale change: hash %q version %d, want the reset's (version %d)", got.PasswordHash, got.TokenVersion, u.TokenVersion+1)
		}

		// At the current version the change holds and answers the new one.
		version, err := s.ChangePassword(ctx, u.ID, got.TokenVersion, "own-hash")
		if err != nil {
			t.Fatal(err)
		}
		after, err := s.UserByID(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if after.PasswordHash != "own-hash" || after.TokenVersion != version || version != got.TokenVersion+1 {
			t.Fatalf("after the change: hash %q version %d (answered %d), want own-hash at %d", after.PasswordHash, after.TokenVersion, version, got.TokenVersion+1)
		}

		// A disabled user cannot change its password either, even at the
		// version it holds.
		if err := s.SetUserDisabled(ctx, u.ID, true); err != nil {
			t.Fatal(err)
		}
		disabled, err := s.UserByID(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.ChangePassword(ctx, u.ID, disabled.TokenVersion, "late-hash"); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("change of a disabled user: err = %v, want ErrConflict", err)
		}
	})
}
