package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

func strp(s string) *string { return &s }

func TestValidTenantID(t *testing.T) {
	for id, want := range map[string]bool{
		"acme": true, "org_123": true, "A": true, "9": true, "a.b:c-d_e": true,
		strings.Repeat("a", 128): true, strings.Repeat("a", 129): false,
		"": false, "_acme": false, ".acme": false, "-acme": false, ":acme": false,
		"acme corp": false, "acme/1": false, "acme\x00": false, "acme\n": false, "ácme": false,
		"acme%": false, "a'b": false, "0196f0a2-7b1c-7d2e-8f00-123456789abc": true,
	} {
		if got := store.ValidTenantID(id); got != want {
			t.Errorf("ValidTenantID(%q) = %v, want %v", id, got, want)
		}
	}
}

func TestPutTenant(t *testing.T) {
	c := &clock{t: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		created, isNew, err := s.PutTenant(ctx, "acme", store.TenantParams{Name: strp("Acme"), Metadata: json.RawMessage(`{"plan":"pro"}`)})
		if err != nil || !isNew {
			t.Fatalf("PutTenant(acme) = %+v, %v, %v; want created", created, isNew, err)
		}
		if created.Name != "Acme" || string(created.Metadata) != `{"plan":"pro"}` || !created.CreatedAt.Equal(c.t) || !created.UpdatedAt.Equal(c.t) {
			t.Errorf("created tenant = %+v", created)
		}
		got, err := s.Tenant(ctx, "acme")
		if err != nil || got.Name != "Acme" || string(got.Metadata) != `{"plan":"pro"}` || !got.UpdatedAt.Equal(c.t) {
			t.Errorf("Tenant(acme) = %+v, %v", got, err)
		}

		// The same PUT again changes nothing, updated_at included.
		c.t = c.t.Add(time.Hour)
		again, isNew, err := s.PutTenant(ctx, "acme", store.TenantParams{Name: strp("Acme"), Metadata: json.RawMessage(`{"plan":"pro"}`)})
		if err != nil || isNew {
			t.Fatalf("repeated PutTenant = %v, %v; want not created", isNew, err)
		}
		if !again.UpdatedAt.Equal(created.UpdatedAt) || !again.CreatedAt.Equal(created.CreatedAt) {
			t.Errorf("repeated PutTenant moved its times: %+v, was %+v", again, created)
		}
		// Nothing given: nothing changes either.
		if same, _, err := s.PutTenant(ctx, "acme", store.TenantParams{}); err != nil || same.Name != "Acme" || !same.UpdatedAt.Equal(created.UpdatedAt) {
			t.Errorf("PutTenant with nothing = %+v, %v; want it unchanged", same, err)
		}
		// A new name keeps the metadata and moves updated_at.
		renamed, isNew, err := s.PutTenant(ctx, "acme", store.TenantParams{Name: strp("Acme Inc")})
		if err != nil || isNew || renamed.Name != "Acme Inc" || string(renamed.Metadata) != `{"plan":"pro"}` || !renamed.UpdatedAt.Equal(c.t) || !renamed.CreatedAt.Equal(created.CreatedAt) {
			t.Errorf("rename = %+v, %v, %v", renamed, isNew, err)
		}
		c.t = c.t.Add(time.Hour)
		remeta, _, err := s.PutTenant(ctx, "acme", store.TenantParams{Metadata: json.RawMessage(`{}`)})
		if err != nil || remeta.Name != "Acme Inc" || string(remeta.Metadata) != `{}` || !remeta.UpdatedAt.Equal(c.t) {
			t.Errorf("new metadata = %+v, %v", remeta, err)
		}
		if got, _ := s.Tenant(ctx, "acme"); got.Name != "Acme Inc" || string(got.Metadata) != `{}` || !got.UpdatedAt.Equal(c.t) {
			t.Errorf("Tenant(acme) after updates = %+v", got)
		}
		// A new tenant with nothing set has an empty name and metadata.
		bare, isNew, err := s.PutTenant(ctx, "org_123", store.TenantParams{})
		if err != nil || !isNew || bare.Name != "" || string(bare.Metadata) != `{}` {
			t.Errorf("bare tenant = %+v, %v, %v", bare, isNew, err)
		}
		for _, bad := range []string{"", "-x", "a b", strings.Repeat("x", 129)} {
			if _, _, err := s.PutTenant(ctx, bad, store.TenantParams{}); err == nil {
				t.Errorf("PutTenant(%q) succeeded, want refused", bad)
			}
			if err := s.EnsureTenant(ctx, bad); err == nil {
				t.Errorf("EnsureTenant(%q) succeeded, want refused", bad)
			}
		}
		if _, err := s.Tenant(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Tenant(nobody) = %v, want ErrNotFound", err)
		}
		// EnsureTenant leaves an existing tenant alone.
		if err := s.EnsureTenant(ctx, "acme"); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Tenant(ctx, "acme"); got.Name != "Acme Inc" || !got.UpdatedAt.Equal(c.t) {
			t.Errorf("EnsureTenant changed acme: %+v", got)
		}
		for id, want := range map[string]bool{"acme": true, "org_123": true, "nobody": false} {
			if ok, err := s.TenantExists(ctx, id); err != nil || ok != want {
				t.Errorf("TenantExists(%s) = %v, %v; want %v", id, ok, err, want)
			}
		}
	}, store.WithClock(c.now))
}

func TestListTenants(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		hooks := map[string]int{"a1": 3, "b2": 0, "c3": 1, "d4": 2, "e5": 0}
		for id, n := range hooks {
			if _, _, err := s.PutTenant(ctx, id, store.TenantParams{Name: strp("name " + id)}); err != nil {
				t.Fatal(err)
			}
			for range n {
				newWebhook(t, s, id, "*")
			}
		}
		// A user's own tenant is listed too.
		u := newUser(t, s, "solo@example.com")
		hooks[u.ID] = 0
		var got []string
		after, pages := "", 0
		for {
			page, next, err := s.ListTenants(ctx, after, 2)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			if len(page) > 2 {
				t.Fatalf("page of %d tenants, want at most 2", len(page))
			}
			for _, tn := range page {
				got = append(got, tn.ID)
				if want := int64(hooks[tn.ID]); tn.Webhooks != want {
					t.Errorf("tenant %s lists %d webhooks, want %d", tn.ID, tn.Webhooks, want)
				}
				if tn.ID == "c3" && tn.Name != "name c3" {
					t.Errorf("tenant c3 = %+v", tn)
				}
			}
			if next == "" {
				break
			}
			after = next
		}
		want := make([]string, 0, len(hooks))
		for id := range hooks {
			want = append(want, id)
		}
		slices.Sort(want)
		if !slices.Equal(got, want) || pages != 3 {
			t.Errorf("tenants over %d pages = %v, want %v over 3", pages, got, want)
		}
		if page, next, err := s.ListTenants(ctx, "zzz", 10); err != nil || len(page) != 0 || page == nil || next != "" {
			t.Errorf("past the end = %v, %q, %v; want an empty page", page, next, err)
		}
	})
}

// tenantRows counts the rows of every table that belong to tenantID's
// webhooks, events, members and keys.
func tenantRows(t *testing.T, s *store.Store, tenantID string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for table, where := range map[string]string{
		"tenants":            `id = $1`,
		"users":              `tenant_id = $1`,
		"api_keys":           `tenant_id = $1`,
		"webhooks":           `tenant_id = $1`,
		"events":             `tenant_id = $1`,
		"deliveries":         `event_id IN (SELECT id FROM events WHERE tenant_id = $1) OR webhook_id IN (SELECT id FROM webhooks WHERE tenant_id = $1)`,
		"webhook_stats":      `webhook_id IN (SELECT id FROM webhooks WHERE tenant_id = $1)`,
		"webhook_logs":       `webhook_id IN (SELECT id FROM webhooks WHERE tenant_id = $1)`,
		"webhook_log_counts": `webhook_id IN (SELECT id FROM webhooks WHERE tenant_id = $1)`,
		"fanouts":            `event_id IN (SELECT id FROM events WHERE tenant_id = $1)`,
	} {
		var n int
		if err := s.WriteDB().QueryRow(`SELECT COUNT(*) FROM `+table+` WHERE `+where, tenantID).Scan(&n); err != nil {
			t.Fatalf("count %s: %v", table, err)
		}
		out[table] = n
	}
	return out
}

// orphanRows counts rows whose webhook or event is gone, which foreign
// keys should never allow.
func orphanRows(t *testing.T, s *store.Store) int {
	t.Helper()
	var n int
	err := s.WriteDB().QueryRow(`SELECT
		(SELECT COUNT(*) FROM deliveries WHERE webhook_id NOT IN (SELECT id FROM webhooks) OR event_id NOT IN (SELECT id FROM events)) +
		(SELECT COUNT(*) FROM webhook_logs WHERE webhook_id NOT IN (SELECT id FROM webhooks)) +
		(SELECT COUNT(*) FROM webhook_log_counts WHERE webhook_id NOT IN (SELECT id FROM webhooks)) +
		(SELECT COUNT(*) FROM webhook_stats WHERE webhook_id NOT IN (SELECT id FROM webhooks)) +
		(SELECT COUNT(*) FROM fanouts WHERE event_id NOT IN (SELECT id FROM events))`).Scan(&n)
	if err != nil {
		t.Fatalf("count orphans: %v", err)
	}
	return n
}

// fillTenant gives tenant id two members, a key, two webhooks (one
// created by each member), a logged test send, delivered and pending
// deliveries, and a fan-out left half done.
func fillTenant(t *testing.T, s *store.Store, id string) (webhooks []store.Webhook) {
	t.Helper()
	ctx := context.Background()
	var members []store.User
	for i := range 2 {
		u, err := s.CreateUser(ctx, fmt.Sprintf("m%d@%s.example.com", i, id), "hash", id)
		if err != nil {
			t.Fatalf("member of %s: %v", id, err)
		}
		if u.TenantID != id {
			t.Fatalf("member's tenant = %q, want %q", u.TenantID, id)
		}
		members = append(members, u)
		w, err := s.CreateWebhook(ctx, store.CreateWebhookParams{TenantID: id, CreatedBy: u.ID, Name: "hook", URL: "https://example.com/" + id,
			Events: []string{"*"}, Secret: "whsec_x", IsActive: true})
		if err != nil {
			t.Fatalf("webhook of %s: %v", id, err)
		}
		webhooks = append(webhooks, w)
	}
	if _, err := s.CreateAPIKey(ctx, store.NewAPIKey{TenantID: id, CreatedBy: members[0].ID, Name: "k", KeyHash: "hash-" + id, Prefix: "whk_"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RecordTestAttempt(ctx, store.TestAttempt{TenantID: id, OccurredAt: s.Now(), Payload: []byte(`{}`),
		Log: store.Log{WebhookID: webhooks[0].ID, EventType: "message.new", Status: store.AttemptSuccess, StatusCode: 200, DurationMs: 5,
			RequestHeaders: map[string]string{}, RequestBody: []byte(`{}`)}}); err != nil {
		t.Fatalf("test send of %s: %v", id, err)
	}
	if _, err := s.PublishEvents(ctx, []store.PublishParams{{TenantID: id, Type: "message.new", Payload: []byte(`{"n":1}`), OccurredAt: s.Now()}}); err != nil {
		t.Fatal(err)
	}
	// A fan-out of one delivery a transaction, stopped after the first.
	s.SetFanOutChunk(1, nil)
	defer s.SetFanOutChunk(store.FanOutChunk, nil)
	if _, err := s.PublishWithoutFanOut(ctx, []store.PublishParams{{TenantID: id, Type: "message.new", Payload: []byte(`{"n":2}`), OccurredAt: s.Now()}}); err != nil {
		t.Fatal(err)
	}
	return webhooks
}

// TestTenantCreatedAt: a tenant deleted and created again under the same
// id has a new creation time, which is what tells a portal session of the
// old one from the new one.
func TestTenantCreatedAt(t *testing.T) {
	c := &clock{t: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		first, _, err := s.PutTenant(ctx, "acme", store.TenantParams{})
		if err != nil {
			t.Fatal(err)
		}
		if got, err := s.TenantCreatedAt(ctx, "acme"); err != nil || !got.Equal(first.CreatedAt) || !got.Equal(c.t) {
			t.Errorf("TenantCreatedAt(acme) = %v, %v; want %v", got, err, c.t)
		}
		if _, err := s.TenantCreatedAt(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("TenantCreatedAt(nobody) = %v, want ErrNotFound", err)
		}
		if err := s.DeleteTenant(ctx, "acme"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.TenantCreatedAt(ctx, "acme"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("TenantCreatedAt(deleted acme) = %v, want ErrNotFound", err)
		}
		c.t = c.t.Add(time.Millisecond)
		if err := s.EnsureTenant(ctx, "acme"); err != nil {
			t.Fatal(err)
		}
		if got, err := s.TenantCreatedAt(ctx, "acme"); err != nil || !got.Equal(c.t) {
			t.Errorf("TenantCreatedAt(re-created acme) = %v, %v; want %v, a millisecond after the first", got, err, c.t)
		}
	}, store.WithClock(c.now))
}

func TestDeleteTenant(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		fillTenant(t, s, "acme")
		fillTenant(t, s, "beta")
		acme, beta := tenantRows(t, s, "acme"), tenantRows(t, s, "beta")
		for table, n := range acme {
			if n == 0 {
				t.Fatalf("acme has no rows in %s before the delete: the fixture does not cover it (%v)", table, acme)
			}
		}
		if err := s.DeleteTenant(ctx, "acme"); err != nil {
			t.Fatalf("DeleteTenant: %v", err)
		}
		for table, n := range tenantRows(t, s, "acme") {
			if n != 0 {
				t.Errorf("after DeleteTenant, acme still has %d rows in %s", n, table)
			}
		}
		if got := tenantRows(t, s, "beta"); !mapsEqual(got, beta) {
			t.Errorf("beta's rows changed with acme's delete: %v, was %v", got, beta)
		}
		if n := orphanRows(t, s); n != 0 {
			t.Errorf("%d rows reference a deleted webhook or event", n)
		}
		// Acme's pending deliveries are gone: a lease finds only beta's.
		if _, err := s.FanOutStep(ctx); err != nil {
			t.Fatal(err)
		}
		leased, err := s.LeaseDeliveries(ctx, store.LeaseParams{Limit: 100, LeaseFor: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if len(leased) == 0 {
			t.Errorf("leased nothing, want beta's deliveries")
		}
		for _, l := range leased {
			if l.TenantID != "beta" {
				t.Errorf("leased a delivery of tenant %s after its delete", l.TenantID)
			}
		}
		if err := s.DeleteTenant(ctx, "acme"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("second DeleteTenant = %v, want ErrNotFound", err)
		}
		// Its members' emails are free again.
		if _, err := s.CreateUser(ctx, "m0@acme.example.com", "hash", ""); err != nil {
			t.Errorf("reuse a deleted member's email: %v", err)
		}
	})
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestCreateAndDeleteUserTenants(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		solo := newUser(t, s, "solo@example.com")
		if solo.TenantID != solo.ID {
			t.Errorf("a user made without a tenant has tenant %q, want its own id %q", solo.TenantID, solo.ID)
		}
		if tn, err := s.Tenant(ctx, solo.ID); err != nil || tn.Name != "solo@example.com" {
			t.Errorf("the user's own tenant = %+v, %v; want it named by the email, as the migration names existing users'", tn, err)
		}
		m1, err := s.CreateUser(ctx, "m1@acme.com", "hash", "acme")
		if err != nil || m1.TenantID != "acme" {
			t.Fatalf("member of a new tenant = %+v, %v", m1, err)
		}
		if tn, err := s.Tenant(ctx, "acme"); err != nil || tn.Name != "" {
			t.Errorf("a tenant made by its first member = %+v, %v; want no name (the CRM's to set)", tn, err)
		}
		m2, err := s.CreateUser(ctx, "m2@acme.com", "hash", "acme")
		if err != nil || m2.TenantID != "acme" {
			t.Fatalf("second member = %+v, %v", m2, err)
		}
		if got, err := s.UserByID(ctx, m2.ID); err != nil || got.TenantID != "acme" {
			t.Errorf("UserByID(m2) = %+v, %v; want tenant acme", got, err)
		}
		members, err := s.TenantMembers(ctx, "acme")
		if err != nil || len(members) != 2 || members[0].ID != m1.ID || members[1].ID != m2.ID {
			t.Errorf("TenantMembers(acme) = %+v, %v; want m1, m2", members, err)
		}
		if _, err := s.CreateUser(ctx, "bad@acme.com", "hash", "no spaces"); err == nil {
			t.Errorf("CreateUser with a malformed tenant succeeded")
		}
		if _, err := s.UserByEmail(ctx, "bad@acme.com"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the refused user exists: %v", err)
		}
		// A duplicate email creates neither the user nor its tenant.
		if _, err := s.CreateUser(ctx, "M1@acme.com", "hash", "fresh"); !errors.Is(err, store.ErrConflict) {
			t.Errorf("duplicate email = %v, want ErrConflict", err)
		}
		if ok, _ := s.TenantExists(ctx, "fresh"); ok {
			t.Errorf("a refused user's tenant was created")
		}

		// The last member of its own tenant takes it along, with its data.
		soloHook := newWebhook(t, s, solo.ID, "*")
		if err := s.DeleteUser(ctx, solo.ID); err != nil {
			t.Fatal(err)
		}
		if ok, _ := s.TenantExists(ctx, solo.ID); ok {
			t.Errorf("the user's own tenant outlived it")
		}
		if _, err := s.Webhook(ctx, solo.ID, soloHook.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the user's webhook outlived its tenant: %v", err)
		}
		// A named tenant stays, with what its members made.
		acmeHook, err := s.CreateWebhook(ctx, store.CreateWebhookParams{TenantID: "acme", CreatedBy: m1.ID, Name: "h", URL: "https://example.com",
			Events: []string{"*"}, Secret: "whsec_x", IsActive: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range []store.User{m1, m2} {
			if err := s.DeleteUser(ctx, u.ID); err != nil {
				t.Fatal(err)
			}
		}
		if ok, _ := s.TenantExists(ctx, "acme"); !ok {
			t.Errorf("acme went with its last member; a named tenant stays")
		}
		if w, err := s.Webhook(ctx, "acme", acmeHook.ID); err != nil || w.CreatedBy != m1.ID {
			t.Errorf("acme's webhook after its members left = %+v, %v; want kept, created by m1", w, err)
		}
		// A user's own tenant that another joined stays while it has one.
		owner := newUser(t, s, "owner@example.com")
		guest, err := s.CreateUser(ctx, "guest@example.com", "hash", owner.ID)
		if err != nil || guest.TenantID != owner.ID {
			t.Fatalf("join a user's tenant = %+v, %v", guest, err)
		}
		if err := s.DeleteUser(ctx, owner.ID); err != nil {
			t.Fatal(err)
		}
		if ok, _ := s.TenantExists(ctx, owner.ID); !ok {
			t.Errorf("the owner's tenant went while guest is still a member")
		}
		if err := s.DeleteUser(ctx, owner.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("deleting a deleted user = %v, want ErrNotFound", err)
		}
	})
}

func TestServiceKeys(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		m, err := s.CreateUser(ctx, "m@acme.com", "hash", "acme")
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range []store.NewAPIKey{
			{TenantID: "acme", Service: true, Name: "x", KeyHash: "h1", Prefix: "p"},
			{Name: "x", KeyHash: "h2", Prefix: "p"},
		} {
			if _, err := s.CreateAPIKey(ctx, bad); err == nil {
				t.Errorf("CreateAPIKey(%+v) succeeded: a key is a tenant's or a service key, not both or neither", bad)
			}
		}
		// The database holds the rule too.
		for _, q := range []string{
			`INSERT INTO api_keys (id, tenant_id, service, created_by, name, key_hash, key_prefix, created_at) VALUES ('x1', NULL, FALSE, '', 'n', 'hx1', 'p', $1)`,
			`INSERT INTO api_keys (id, tenant_id, service, created_by, name, key_hash, key_prefix, created_at) VALUES ('x2', 'acme', TRUE, '', 'n', 'hx2', 'p', $1)`,
		} {
			now := any(s.Now().UnixMilli())
			if s.Kind() == store.Postgres {
				now = s.Now()
			}
			if _, err := s.WriteDB().Exec(q, now); err == nil {
				t.Errorf("the database took a key breaking CHECK (service = (tenant_id IS NULL)): %s", q)
			}
		}
		if _, err := s.CreateAPIKey(ctx, store.NewAPIKey{TenantID: "ghost", Name: "x", KeyHash: "h3", Prefix: "p"}); !errors.Is(err, store.ErrTenantNotFound) {
			t.Errorf("key for a missing tenant = %v, want ErrTenantNotFound", err)
		}

		svc, err := s.CreateAPIKey(ctx, store.NewAPIKey{Service: true, CreatedBy: "cli", Name: "crm", KeyHash: "svc", Prefix: "whk_s"})
		if err != nil {
			t.Fatal(err)
		}
		mine, err := s.CreateAPIKey(ctx, store.NewAPIKey{TenantID: "acme", CreatedBy: m.ID, Name: "m's", KeyHash: "mine", Prefix: "whk_m"})
		if err != nil {
			t.Fatal(err)
		}
		trusted, err := s.CreateAPIKey(ctx, store.NewAPIKey{TenantID: "acme", CreatedBy: "crm-user-7", Name: "sso", KeyHash: "trusted", Prefix: "whk_t"})
		if err != nil {
			t.Fatal(err)
		}
		k, creator, err := s.APIKeyByHash(ctx, "svc")
		if err != nil || k.ID != svc.ID || !k.Service || k.TenantID != "" || creator != nil {
			t.Errorf("service key = %+v, creator %v, %v; want a service key without a creator", k, creator, err)
		}
		k, creator, err = s.APIKeyByHash(ctx, "mine")
		if err != nil || k.ID != mine.ID || k.Service || k.TenantID != "acme" || k.CreatedBy != m.ID || creator == nil || creator.ID != m.ID || creator.TenantID != "acme" {
			t.Errorf("member's key = %+v, creator %+v, %v; want m as its creator", k, creator, err)
		}
		k, creator, err = s.APIKeyByHash(ctx, "trusted")
		if err != nil || k.ID != trusted.ID || k.CreatedBy != "crm-user-7" || creator != nil {
			t.Errorf("a trusted subject's key = %+v, creator %+v, %v; want no creator", k, creator, err)
		}
		// A subject that is another tenant's user id is no creator.
		stranger := newUser(t, s, "stranger@example.com")
		if _, err := s.CreateAPIKey(ctx, store.NewAPIKey{TenantID: "acme", CreatedBy: stranger.ID, Name: "collide", KeyHash: "collide", Prefix: "whk_c"}); err != nil {
			t.Fatal(err)
		}
		if _, creator, err := s.APIKeyByHash(ctx, "collide"); err != nil || creator != nil {
			t.Errorf("a key of acme created by %q, another tenant's user id: creator %+v, %v; want none", stranger.ID, creator, err)
		}
		if err := s.SetUserDisabled(ctx, m.ID, true); err != nil {
			t.Fatal(err)
		}
		if _, creator, err = s.APIKeyByHash(ctx, "mine"); err != nil || creator == nil || creator.DisabledAt == nil {
			t.Errorf("a disabled member's key: creator %+v, %v; want it disabled", creator, err)
		}
		// The member goes, and its keys with it: a disabled member's keys
		// must not come back by deleting the member.
		if err := s.DeleteUser(ctx, m.ID); err != nil {
			t.Fatal(err)
		}
		if _, _, err = s.APIKeyByHash(ctx, "mine"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a deleted member's key: %v; want ErrNotFound", err)
		}
		svcs, err := s.ListAPIKeys(ctx, "")
		if err != nil || len(svcs) != 1 || svcs[0].ID != svc.ID {
			t.Errorf("service keys = %+v, %v", svcs, err)
		}
		acmes, err := s.ListAPIKeys(ctx, "acme")
		if err != nil || len(acmes) != 2 {
			t.Errorf("acme's keys = %+v, %v; want 2", acmes, err)
		}
		// A tenant's delete takes its keys, not the service key.
		if err := s.DeleteTenant(ctx, "acme"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.APIKeyByHash(ctx, "trusted"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("acme's key after its delete: %v, want ErrNotFound", err)
		}
		if _, _, err := s.APIKeyByHash(ctx, "svc"); err != nil {
			t.Errorf("service key after a tenant's delete: %v", err)
		}
	})
}

func TestPublishForMissingTenant(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		if _, _, err := s.PutTenant(ctx, "acme", store.TenantParams{}); err != nil {
			t.Fatal(err)
		}
		newWebhook(t, s, "acme", "*")
		ev := func(tenant string, n int) store.PublishParams {
			return store.PublishParams{TenantID: tenant, Type: "message.new", Payload: []byte(fmt.Sprintf(`{"n":%d}`, n)), OccurredAt: s.Now()}
		}
		if _, err := s.PublishEvents(ctx, []store.PublishParams{ev("ghost", 0)}); !errors.Is(err, store.ErrTenantNotFound) || !errors.Is(err, store.ErrNotFound) {
			t.Errorf("publish for a missing tenant = %v, want ErrTenantNotFound (an ErrNotFound)", err)
		}
		// A batch with one missing tenant publishes nothing.
		if _, err := s.PublishEvents(ctx, []store.PublishParams{ev("acme", 1), ev("ghost", 2)}); !errors.Is(err, store.ErrTenantNotFound) {
			t.Errorf("batch with a missing tenant = %v, want ErrTenantNotFound", err)
		}
		if n := tenantRows(t, s, "acme")["events"]; n != 0 {
			t.Errorf("the refused batch left %d events", n)
		}

		// Through the group committer, a request for a missing tenant
		// fails alone: its neighbours in the same transaction commit.
		g := s.NewGroupCommitter(64)
		defer g.Close()
		const n = 24
		var wg sync.WaitGroup
		errs := make([]error, n)
		results := make([][]store.PublishResult, n)
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				tenant := "acme"
				if i%3 == 0 {
					tenant = "ghost"
				}
				<-start
				results[i], errs[i] = g.PublishEvents(ctx, []store.PublishParams{ev(tenant, 100+i)})
			}()
		}
		close(start)
		wg.Wait()
		good := 0
		for i := range n {
			if i%3 == 0 {
				if !errors.Is(errs[i], store.ErrTenantNotFound) {
					t.Errorf("request %d for ghost = %v, want ErrTenantNotFound", i, errs[i])
				}
				continue
			}
			if errs[i] != nil || len(results[i]) != 1 || results[i][0].Deliveries != 1 {
				t.Errorf("request %d for acme = %+v, %v; want published to its webhook", i, results[i], errs[i])
				continue
			}
			if e, err := s.Event(ctx, "acme", results[i][0].Event.ID); err != nil || string(e.Payload) != fmt.Sprintf(`{"n":%d}`, 100+i) {
				t.Errorf("request %d's event = %+v, %v", i, e, err)
			}
			good++
		}
		if got := tenantRows(t, s, "acme")["events"]; got != good {
			t.Errorf("acme has %d events, want %d", got, good)
		}
	})
}

func TestTenantLimits(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		var members []store.User
		for i := range 2 {
			u, err := s.CreateUser(ctx, fmt.Sprintf("m%d@acme.com", i), "hash", "acme")
			if err != nil {
				t.Fatal(err)
			}
			members = append(members, u)
		}
		create := func(tenant, by string) error {
			_, err := s.CreateWebhook(ctx, store.CreateWebhookParams{TenantID: tenant, CreatedBy: by, Name: "h", URL: "https://example.com",
				Events: []string{"*"}, Secret: "whsec_x", IsActive: true})
			return err
		}
		// The limit counts the tenant's webhooks, whichever member made them.
		for _, by := range []string{members[0].ID, members[1].ID, "api-key:x"} {
			if err := create("acme", by); err != nil {
				t.Fatalf("webhook by %s: %v", by, err)
			}
		}
		var limit *store.WebhookLimitError
		for _, m := range members {
			if err := create("acme", m.ID); !errors.As(err, &limit) || limit.Limit != 3 {
				t.Errorf("a fourth webhook of acme, by %s = %v; want the limit of 3", m.Email, err)
			}
		}
		other := newUser(t, s, "other@example.com")
		if err := create(other.TenantID, other.ID); err != nil {
			t.Errorf("another tenant's first webhook: %v", err)
		}
		if err := create("ghost", "x"); !errors.Is(err, store.ErrTenantNotFound) {
			t.Errorf("webhook for a missing tenant = %v, want ErrTenantNotFound", err)
		}

		// Fairness counts per tenant: acme's deliveries, from both
		// members' webhooks, are one owner's.
		batch := make([]store.PublishParams, 5)
		for i := range batch {
			batch[i] = store.PublishParams{TenantID: "acme", Type: "message.new", Payload: []byte(`{}`), OccurredAt: s.Now()}
		}
		if _, err := s.PublishEvents(ctx, batch); err != nil {
			t.Fatal(err)
		}
		held, err := s.LeaseDue(ctx, store.LeaseParams{Limit: 4, LeaseFor: time.Hour, PerOwner: 4, FreeWorkers: 4, OwnerInFlight: map[string]int{"acme": 12}})
		if err != nil {
			t.Fatal(err)
		}
		if len(held.Deliveries) != 0 || !slices.Equal(held.OwnersAtCap, []string{"acme"}) {
			t.Errorf("acme over its share leased %d, owners at cap %v; want none and acme at its cap", len(held.Deliveries), held.OwnersAtCap)
		}
		leased, err := s.LeaseDeliveries(ctx, store.LeaseParams{Limit: 100, LeaseFor: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if len(leased) != 15 {
			t.Errorf("leased %d deliveries, want 15 (5 events to 3 webhooks)", len(leased))
		}
		for _, l := range leased {
			if l.TenantID != "acme" {
				t.Errorf("leased delivery's owner = %q, want the tenant acme", l.TenantID)
			}
		}
	}, store.WithMaxWebhooksPerOwner(3))
}

// TestDeleteTenantInFlight: deliveries of a tenant deleted while they are
// in flight complete without a trace of it, and without failing the other
// tenants' completions in the same batch.
func TestDeleteTenantInFlight(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		fillTenant(t, s, "acme")
		fillTenant(t, s, "beta")
		if _, err := s.FanOutStep(ctx); err != nil {
			t.Fatal(err)
		}
		leased, err := s.LeaseDeliveries(ctx, store.LeaseParams{Limit: 100, LeaseFor: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		per := map[string]int{}
		batch := make([]store.Completion, 0, len(leased))
		for _, l := range leased {
			per[l.TenantID]++
			batch = append(batch, store.Completion{DeliveryID: l.ID, LeaseToken: l.LeaseToken, Log: store.Log{
				WebhookID: l.WebhookID, EventID: l.EventID, DeliveryID: l.ID, EventType: l.EventType, Attempt: l.Attempt,
				Status: store.AttemptSuccess, StatusCode: 200, DurationMs: 3, RequestHeaders: map[string]string{}, RequestBody: l.Payload}})
		}
		if per["acme"] == 0 || per["beta"] == 0 {
			t.Fatalf("leased %v, want deliveries of both tenants", per)
		}
		before := tenantRows(t, s, "beta")["webhook_logs"]
		if err := s.DeleteTenant(ctx, "acme"); err != nil {
			t.Fatal(err)
		}
		fenced, err := s.CompleteDeliveries(ctx, batch)
		if err != nil {
			t.Fatalf("completing a batch with a deleted tenant's deliveries: %v", err)
		}
		if fenced != per["beta"] {
			t.Errorf("%d completions held their lease, want beta's %d", fenced, per["beta"])
		}
		if got := tenantRows(t, s, "beta")["webhook_logs"]; got != before+per["beta"] {
			t.Errorf("beta has %d log rows, want %d", got, before+per["beta"])
		}
		for table, n := range tenantRows(t, s, "acme") {
			if n != 0 {
				t.Errorf("acme has %d rows in %s after its completions", n, table)
			}
		}
		if n := orphanRows(t, s); n != 0 {
			t.Errorf("%d orphan rows", n)
		}
	})
}
