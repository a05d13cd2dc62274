package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

// A deleted member's API keys are revoked with it: a disabled user's keys
// stop, and deleting the user must not bring them back. The keys of the
// tenant's other members, a service's and a CRM member's stay.
func TestDeleteUserRevokesItsKeys(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		leaver, err := s.CreateUser(ctx, "leaver@acme.example", "hash", "acme")
		if err != nil {
			t.Fatal(err)
		}
		stay, err := s.CreateUser(ctx, "stay@acme.example", "hash", "acme")
		if err != nil {
			t.Fatal(err)
		}
		other, err := s.CreateUser(ctx, "other@beta.example", "hash", "beta")
		if err != nil {
			t.Fatal(err)
		}
		key := func(tenant, createdBy, hash string) {
			t.Helper()
			if _, err := s.CreateAPIKey(ctx, store.NewAPIKey{TenantID: tenant, Service: tenant == "", CreatedBy: createdBy,
				Name: hash, KeyHash: hash, Prefix: "whk_" + hash}); err != nil {
				t.Fatal(err)
			}
		}
		key("acme", leaver.ID, "leavers")
		key("acme", stay.ID, "stays")
		key("acme", "crm-user-7", "crm")
		key("", "cli", "service")
		// Another tenant's key naming the leaver as its creator (which no
		// route makes) is not the leaver's to take along.
		key("beta", leaver.ID, "betas")
		key("beta", other.ID, "others")
		if err := s.SetUserDisabled(ctx, leaver.ID, true); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteUser(ctx, leaver.ID); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.APIKeyByHash(ctx, "leavers"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the deleted user's key: %v, want ErrNotFound", err)
		}
		for _, h := range []string{"stays", "crm", "service", "betas", "others"} {
			if _, _, err := s.APIKeyByHash(ctx, h); err != nil {
				t.Errorf("key %s after another user's delete: %v", h, err)
			}
		}
	})
}

// A key's creator is a member of the key's tenant: a trusted CRM token's
// subject that equals another tenant's user id does not make that user
// the key's creator (whose email /auth/me would show, and whose disabling
// would stop the key).
func TestAPIKeyCreatorIsOfItsTenant(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		stranger, err := s.CreateUser(ctx, "stranger@beta.example", "hash", "beta")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateAPIKey(ctx, store.NewAPIKey{TenantID: "beta", CreatedBy: stranger.ID, Name: "own", KeyHash: "own", Prefix: "whk_o"}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.PutTenant(ctx, "acme", store.TenantParams{}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateAPIKey(ctx, store.NewAPIKey{TenantID: "acme", CreatedBy: stranger.ID, Name: "crm", KeyHash: "crm", Prefix: "whk_c"}); err != nil {
			t.Fatal(err)
		}
		if _, creator, err := s.APIKeyByHash(ctx, "crm"); err != nil || creator != nil {
			t.Errorf("acme's key whose creator names beta's user: creator %+v, %v; want none", creator, err)
		}
		if _, creator, err := s.APIKeyByHash(ctx, "own"); err != nil || creator == nil || creator.ID != stranger.ID {
			t.Errorf("beta's own key: creator %+v, %v; want %s", creator, err, stranger.ID)
		}
	})
}
