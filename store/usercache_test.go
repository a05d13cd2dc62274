package store_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

// servingSQLite opens a fresh SQLite database as a serving store with its
// user cache armed, and returns the file's path, to open other stores
// (other processes) beside it.
func servingSQLite(t *testing.T) (string, *store.Store) {
	t.Helper()
	path := storetest.SQLitePath(t)
	s := storetest.Open(t, path)
	runUserCache(t, s)
	return path, s
}

// runUserCache runs s's user cache until the test ends and waits until it
// is armed.
func runUserCache(t *testing.T, s *store.Store) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { s.RunUserCache(ctx, slog.New(slog.NewTextHandler(io.Discard, nil))) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	deadline := time.Now().Add(30 * time.Second)
	for !s.UserCacheArmed() {
		if time.Now().After(deadline) {
			t.Fatal("the user cache did not arm within 30 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestUserCacheTwoStores: two stores on one PostgreSQL schema, as two
// processes would be. The second serves a user from its cache; once the
// first has disabled the user (and, in turn, changed its password and
// deleted it), the second's very next lookup sees it, with no wait.
func TestUserCacheTwoStores(t *testing.T) {
	ctx := context.Background()
	db := storetest.PostgresURL(t)
	a := storetest.Open(t, db)
	b := storetest.Open(t, db)
	runUserCache(t, a)
	runUserCache(t, b)

	u, err := a.CreateUser(ctx, "cache@x.io", "hash", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []*store.Store{a, b} {
		if _, err := s.UserByID(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
		if !s.UserCached(u.ID) {
			t.Fatal("an armed cache did not keep the user it read")
		}
	}

	if err := a.SetUserDisabled(ctx, u.ID, true); err != nil {
		t.Fatal(err)
	}
	got, err := b.UserByID(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.DisabledAt == nil || got.TokenVersion != u.TokenVersion+1 {
		t.Fatalf("the other store, right after the disable returned: disabled %v, token version %d; want disabled, version %d", got.DisabledAt, got.TokenVersion, u.TokenVersion+1)
	}
	if got, err := a.UserByID(ctx, u.ID); err != nil || got.DisabledAt == nil {
		t.Fatalf("the changing store itself: %+v, %v; want disabled", got, err)
	}

	if err := b.SetPassword(ctx, u.ID, "hash2"); err != nil {
		t.Fatal(err)
	}
	if got, err := a.UserByID(ctx, u.ID); err != nil || got.PasswordHash != "hash2" || got.TokenVersion != u.TokenVersion+2 {
		t.Fatalf("after a password change in the other store: %+v, %v", got, err)
	}

	if err := a.DeleteUser(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.UserByID(ctx, u.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the other store after the delete: %v, want ErrNotFound", err)
	}

	// A tenant deleted with its members: every cached user goes.
	v, err := a.CreateUser(ctx, "member@x.io", "hash", "acme")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.UserByID(ctx, v.ID); err != nil || !b.UserCached(v.ID) {
		t.Fatalf("cache the member: %v", err)
	}
	if err := a.DeleteTenant(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.UserByID(ctx, v.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the other store after its tenant's delete: %v, want ErrNotFound", err)
	}
}

// TestUserCacheSilentListenerCutOff: a listener that is connected and
// named as one but never answers (a process hung) does not keep a change
// from returning: after the wait its connection is ended, which is what
// disarms a real process's cache.
func TestUserCacheSilentListenerCutOff(t *testing.T) {
	ctx := context.Background()
	db := storetest.PostgresURL(t)
	a := storetest.Open(t, db)
	u, err := a.CreateUser(ctx, "hung@x.io", "hash", "")
	if err != nil {
		t.Fatal(err)
	}
	hung, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer hung.Close(ctx)
	if _, err := hung.Exec(ctx, `LISTEN `+a.UsersChannel()); err != nil {
		t.Fatal(err)
	}
	if _, err := hung.Exec(ctx, `SELECT set_config('application_name', $1, false)`, a.UsersListenerApp()); err != nil {
		t.Fatal(err)
	}
	if err := a.SetUserDisabled(ctx, u.ID, true); err != nil {
		t.Fatal(err)
	}
	if err := hung.Ping(ctx); err == nil {
		t.Fatal("the listener that never acknowledged is still connected")
	}
	if got, err := a.UserByID(ctx, u.ID); err != nil || got.DisabledAt == nil {
		t.Fatalf("after the change: %+v, %v", got, err)
	}
}

// TestUserCacheLostListenerDisarms: a cache whose listener connection is
// ended stops serving from memory at once and arms itself again (empty)
// once it has reconnected.
func TestUserCacheLostListenerDisarms(t *testing.T) {
	ctx := context.Background()
	db := storetest.PostgresURL(t)
	a := storetest.Open(t, db)
	runUserCache(t, a)
	u, err := a.CreateUser(ctx, "lost@x.io", "hash", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.UserByID(ctx, u.ID); err != nil || !a.UserCached(u.ID) {
		t.Fatalf("cache the user: %v", err)
	}
	admin, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, `SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE application_name = $1`, a.UsersListenerApp()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for a.UserCached(u.ID) {
		if time.Now().After(deadline) {
			t.Fatal("the cache still serves the user 30 s after its listener was cut off")
		}
		time.Sleep(5 * time.Millisecond)
	}
	for !a.UserCacheArmed() {
		if time.Now().After(deadline) {
			t.Fatal("the cache did not arm again")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestUserCacheSQLiteAdminChanges: on SQLite the serving store caches
// users, API keys and tenants, and an admin command's store (ForAdmin, as
// another process would open the file) changing any of them is seen by
// the serving store's very next lookup: a user disabled, its password
// changed, a key revoked, the user deleted.
func TestUserCacheSQLiteAdminChanges(t *testing.T) {
	ctx := context.Background()
	path, a := servingSQLite(t)
	b := storetest.Open(t, path, store.ForAdmin())
	u, err := b.CreateUser(ctx, "lite@x.io", "hash", "")
	if err != nil {
		t.Fatal(err)
	}
	cache := func() store.User {
		t.Helper()
		got, err := a.UserByID(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !a.UserCacheArmed() || !a.UserCached(u.ID) {
			t.Fatal("the serving SQLite store did not cache the user it read")
		}
		return got
	}
	before := cache()
	if err := b.SetUserDisabled(ctx, u.ID, true); err != nil {
		t.Fatal(err)
	}
	if a.UserCached(u.ID) {
		t.Fatal("the serving store still caches the user the admin store disabled")
	}
	if got, err := a.UserByID(ctx, u.ID); err != nil || got.DisabledAt == nil {
		t.Fatalf("after another store disabled the user: %+v, %v", got, err)
	}
	if err := b.SetUserDisabled(ctx, u.ID, false); err != nil {
		t.Fatal(err)
	}
	before = cache()
	if err := b.SetPassword(ctx, u.ID, "other-hash"); err != nil {
		t.Fatal(err)
	}
	if got, err := a.UserByID(ctx, u.ID); err != nil || got.TokenVersion == before.TokenVersion || got.PasswordHash != "other-hash" {
		t.Fatalf("after another store changed the password: %+v (token version before %d), %v", got, before.TokenVersion, err)
	}

	key, err := b.CreateAPIKey(ctx, store.NewAPIKey{KeyHash: "lite-key", Prefix: "lite", Name: "k", TenantID: u.TenantID, CreatedBy: u.ID})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.APIKeyByHash(ctx, "lite-key"); err != nil || !a.APIKeyCached("lite-key") {
		t.Fatalf("the serving store did not cache the key: %v", err)
	}
	if _, err := b.RevokeAPIKey(ctx, key.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.APIKeyByHash(ctx, "lite-key"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the serving store right after the admin store revoked the key: %v, want ErrNotFound", err)
	}

	cache()
	if err := b.DeleteUser(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := a.UserByID(ctx, u.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("after another store deleted the user: %v, want ErrNotFound", err)
	}
}

// TestUserCacheSQLiteChangeInFlight: while another process's change to
// users is between its two counts, the serving store neither serves nor
// keeps what it reads; once the change is counted done, it caches again.
func TestUserCacheSQLiteChangeInFlight(t *testing.T) {
	ctx := context.Background()
	path, a := servingSQLite(t)
	u, err := a.CreateUser(ctx, "flight@x.io", "hash", "")
	if err != nil {
		t.Fatal(err)
	}
	done, err := store.BeginUserChangeElsewhere(path)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := a.UserByID(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
		if a.UserCached(u.ID) {
			done()
			t.Fatal("the serving store cached a user while another process's change was in flight")
		}
	}
	done()
	if _, err := a.UserByID(ctx, u.ID); err != nil || !a.UserCached(u.ID) {
		t.Fatalf("the serving store did not cache again once the change was done (%v)", err)
	}
}

// TestUserCacheSQLiteHealsAfterACrashedChange: a process that committed a
// change to users and died before counting it done leaves the counters
// apart. Once its lock is gone the serving store mends them, forgets what
// it cached, reads the change, and caches again.
func TestUserCacheSQLiteHealsAfterACrashedChange(t *testing.T) {
	ctx := context.Background()
	path, a := servingSQLite(t)
	u, err := a.CreateUser(ctx, "crash@x.io", "hash", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.UserByID(ctx, u.ID); err != nil || !a.UserCached(u.ID) {
		t.Fatalf("not cached: %v", err)
	}
	b, err := store.Open(ctx, path, store.ForAdmin())
	if err != nil {
		t.Fatal(err)
	}
	if err := b.DisableUserAndDieBeforeDone(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	// Still alive, holding its lock: the change may be in flight.
	if got, err := a.UserByID(ctx, u.ID); err != nil || got.DisabledAt == nil || a.UserCached(u.ID) {
		t.Fatalf("with the change's lock held: %+v, cached %v, %v; want disabled, not cached", got, a.UserCached(u.ID), err)
	}
	if err := b.Close(); err != nil { // the process dies: its lock goes
		t.Fatal(err)
	}
	got, err := a.UserByID(ctx, u.ID)
	if err != nil || got.DisabledAt == nil {
		t.Fatalf("after the crashed change: %+v, %v; want disabled", got, err)
	}
	if !a.UserCached(u.ID) {
		t.Fatal("the serving store did not mend the counters and cache again")
	}
}

// TestAPIKeyCacheTwoStores: two stores on one PostgreSQL schema, as two
// processes would be, both serving a service key and a member's key from
// their caches. A key revoked or deleted through one, the member disabled,
// or the tenant deleted, and the other's very next lookup sees it, with no
// wait; the last use recorded by one store is what the other's cache
// serves after its own touch.
func TestAPIKeyCacheTwoStores(t *testing.T) {
	ctx := context.Background()
	db := storetest.PostgresURL(t)
	a := storetest.Open(t, db)
	b := storetest.Open(t, db)
	runUserCache(t, a)
	runUserCache(t, b)
	if err := a.EnsureTenant(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	member, err := a.CreateUser(ctx, "member@x.io", "hash", "acme")
	if err != nil {
		t.Fatal(err)
	}
	newKey := func(hash string, p store.NewAPIKey) store.APIKey {
		t.Helper()
		p.KeyHash, p.Prefix, p.Name = hash, hash[:4], hash
		k, err := a.CreateAPIKey(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	lookup := func(s *store.Store, hash string) (store.APIKey, *store.User, error) {
		t.Helper()
		return s.APIKeyByHash(ctx, hash)
	}
	cacheBoth := func(hash string) {
		t.Helper()
		for _, s := range []*store.Store{a, b} {
			if _, _, err := lookup(s, hash); err != nil {
				t.Fatal(err)
			}
			if !s.APIKeyCached(hash) {
				t.Fatalf("an armed cache did not keep key %s", hash)
			}
		}
	}

	service := newKey("svc-1", store.NewAPIKey{Service: true, CreatedBy: "ops"})
	cacheBoth("svc-1")
	if _, err := a.RevokeAPIKey(ctx, service.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := lookup(b, "svc-1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the other store right after the revoke: %v, want ErrNotFound", err)
	}

	tenantKey := newKey("key-1", store.NewAPIKey{TenantID: "acme", CreatedBy: member.ID})
	cacheBoth("key-1")
	if err := b.TouchAPIKey(ctx, tenantKey.ID); err != nil {
		t.Fatal(err)
	}
	if k, _, err := lookup(b, "key-1"); err != nil || k.LastUsedAt == nil {
		t.Fatalf("the touching store's cached key: last used %v (%v), want set", k.LastUsedAt, err)
	}
	if err := b.SetUserDisabled(ctx, member.ID, true); err != nil {
		t.Fatal(err)
	}
	if _, u, err := lookup(a, "key-1"); err != nil || u == nil || u.DisabledAt == nil {
		t.Fatalf("the other store right after its creator was disabled: creator %+v (%v), want disabled", u, err)
	}
	cacheBoth("key-1")
	if err := b.DeleteAPIKey(ctx, "acme", tenantKey.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := lookup(a, "key-1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the other store right after the delete: %v, want ErrNotFound", err)
	}
	if err := b.DeleteAPIKey(ctx, "acme", tenantKey.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleting it again: %v, want ErrNotFound", err)
	}

	newKey("key-2", store.NewAPIKey{TenantID: "acme", CreatedBy: member.ID})
	cacheBoth("key-2")
	if err := b.DeleteTenant(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := lookup(a, "key-2"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the other store right after the tenant's delete: %v, want ErrNotFound", err)
	}
}

// TestTenantCacheTwoStores checks that a tenant's existence, cached by the
// store that reads it, ends in every store as soon as another deletes the
// tenant, directly or with its last member, and that a tenant created
// again under the same id is seen with its new creation time. On SQLite
// the other process is an admin command's store (ForAdmin).
func TestTenantCacheTwoStores(t *testing.T) {
	storetest.EachTarget(t, func(t *testing.T, db string) {
		ctx := context.Background()
		// b serves; a is another process: on PostgreSQL serving too, on
		// SQLite an admin command's store, which keeps no cache.
		b := storetest.Open(t, db)
		runUserCache(t, b)
		var a *store.Store
		if b.Kind() == store.Postgres {
			a = storetest.Open(t, db)
			runUserCache(t, a)
		} else {
			a = storetest.Open(t, db, store.ForAdmin())
		}
		read := func(s *store.Store, id string) (time.Time, error) {
			t.Helper()
			created, err := s.TenantCreatedAt(ctx, id)
			cached := s == b || s.Kind() == store.Postgres
			if err == nil && s.TenantCached(id) != cached {
				t.Fatalf("tenant %s cached = %v, want %v on %s", id, !cached, cached, s.Kind())
			}
			return created, err
		}
		if err := a.EnsureTenant(ctx, "acme"); err != nil {
			t.Fatal(err)
		}
		first, err := read(b, "acme")
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := b.TenantExists(ctx, "acme"); err != nil || !ok {
			t.Fatalf("exists = %v (%v), want true", ok, err)
		}

		if err := a.DeleteTenant(ctx, "acme"); err != nil {
			t.Fatal(err)
		}
		if b.TenantCached("acme") {
			t.Fatal("the other store still caches the tenant right after its delete")
		}
		if _, err := read(b, "acme"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("the other store right after the delete: %v, want ErrNotFound", err)
		}
		if ok, err := b.TenantExists(ctx, "acme"); err != nil || ok {
			t.Fatalf("exists after the delete = %v (%v), want false", ok, err)
		}
		// EnsureTenant in the store that had cached it creates it again,
		// rather than trusting what it read before the delete.
		time.Sleep(2 * time.Millisecond) // a creation time of its own
		if err := b.EnsureTenant(ctx, "acme"); err != nil {
			t.Fatal(err)
		}
		second, err := read(a, "acme")
		if err != nil {
			t.Fatalf("the tenant ensured again: %v", err)
		}
		if !second.After(first) {
			t.Fatalf("the tenant created again has creation time %v, not after the first's %v", second, first)
		}

		// A tenant of a user's own goes with its last member.
		owner, err := a.CreateUser(ctx, "owner@x.io", "hash", "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := read(b, owner.TenantID); err != nil {
			t.Fatal(err)
		}
		if err := a.DeleteUser(ctx, owner.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := read(b, owner.TenantID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("the other store right after the last member's delete: %v, want ErrNotFound", err)
		}
	})
}

// TestUserChangesFileDeletedUnderAServingProcess: with the changes file
// deleted while a store serves (it keeps counting in the file it mapped),
// an admin command's store would count in a new file the serving store
// never reads: it refuses to change users, naming the fix, rather than
// let the serving store serve what it changed. Once the serving store is
// gone, the new file is the one every process uses, and changes go ahead.
func TestUserChangesFileDeletedUnderAServingProcess(t *testing.T) {
	ctx := context.Background()
	path := storetest.SQLitePath(t)
	a, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	u, err := a.CreateUser(ctx, "gone@x.io", "hash", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path + ".users"); err != nil {
		t.Fatal(err)
	}
	b := storetest.Open(t, path, store.ForAdmin())
	err = b.SetUserDisabled(ctx, u.ID, true)
	if err == nil || !strings.Contains(err.Error(), "restart it") {
		t.Fatalf("disabling a user beside a serving store whose changes file was deleted: %v, want a refusal naming the fix", err)
	}
	if got, err := a.UserByID(ctx, u.ID); err != nil || got.DisabledAt != nil {
		t.Fatalf("the refused change happened: %+v, %v", got, err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	c := storetest.Open(t, path, store.ForAdmin())
	if err := c.SetUserDisabled(ctx, u.ID, true); err != nil {
		t.Fatalf("with no serving store: %v", err)
	}
}

// TestUserCacheListenerStartingDuringAChange: a process whose listener
// LISTENs while a change to users is under way, and is named only after
// the change looked for listeners, hears the change but was not waited
// for. Here it reads the user before the change commits, so once the
// change has returned, its cache must not still serve that read: the
// change waits for it (the listener's LISTEN and naming are one step to
// the change's search, an advisory lock).
func TestUserCacheListenerStartingDuringAChange(t *testing.T) {
	ctx := context.Background()
	db := storetest.PostgresURL(t)
	a := storetest.Open(t, db)
	b := storetest.Open(t, db)
	u, err := a.CreateUser(ctx, "starting@x.io", "hash", "")
	if err != nil {
		t.Fatal(err)
	}
	listening, resume := make(chan struct{}), make(chan struct{})
	var once sync.Once
	b.PauseListenerAfterListen(func() {
		once.Do(func() {
			close(listening)
			<-resume
		})
	})
	committing, proceed := make(chan struct{}), make(chan struct{})
	a.PauseUserChangeBeforeCommit(func() {
		close(committing)
		<-proceed
	})
	lctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { b.RunUserCache(lctx, slog.New(slog.NewTextHandler(io.Discard, nil))) })
	t.Cleanup(func() { cancel(); wg.Wait() })

	<-listening
	changed := make(chan error, 1)
	go func() { changed <- a.SetUserDisabled(ctx, u.ID, true) }()
	// Give the change time to look for listeners, which it must not do
	// before this one is named.
	time.Sleep(200 * time.Millisecond)
	close(resume)
	deadline := time.Now().Add(30 * time.Second)
	for !b.UserCacheArmed() {
		if time.Now().After(deadline) {
			t.Fatal("the listener did not arm within 30 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case <-committing:
	case err := <-changed:
		t.Fatalf("the change ended before committing: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("the change did not reach its commit within 30 s")
	}
	// Read while the change is not committed yet: the user as it was.
	if got, err := b.UserByID(ctx, u.ID); err != nil || got.DisabledAt != nil {
		t.Fatalf("before the commit: %+v, %v", got, err)
	}
	close(proceed)
	if err := <-changed; err != nil {
		t.Fatal(err)
	}
	if got, err := b.UserByID(ctx, u.ID); err != nil || got.DisabledAt == nil {
		t.Fatalf("right after the change returned, the starting listener's process serves %+v (%v), want the user disabled", got, err)
	}
}
