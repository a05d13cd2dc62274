package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// The user cache serves the per-request user lookup (UserByID, one round
// trip to PostgreSQL on every authenticated request) from memory, and is
// kept exact across processes:
//
//   - It is armed only while this process's listener connection is
//     LISTENing on usersChannel; a lost connection empties and disarms it
//     (lookups go to the database) until the listener is back.
//   - Every change to a user (password, disabled, deleted, its tenant
//     deleted) commits a NOTIFY in its own transaction, and the changing
//     call returns only once every armed listener of the database has
//     dropped the user and acknowledged on usersAckChannel; a listener that
//     has not within usersAckTimeout is disconnected
//     (pg_terminate_backend), which disarms its cache. So when
//     SetUserDisabled returns, no process serves the user's tokens.
//   - A lookup that read the database while an invalidation arrived does
//     not store what it read (the generation check in put).
//
// On SQLite there are no notifications, and the admin commands (ForAdmin)
// change users from another process beside a serving one: there the user
// changes file (userGenFile) keeps the serving process's cache exact. The
// lookup it saves is an in-process read, not a round trip, but still
// about 30 µs of CPU on every request, 6.5% of all of it when publishing
// one event a request.
const (
	usersChannel    = "webhookd_users"
	usersAckChannel = "webhookd_users_ack"
	// usersListenerApp is the application_name a listener sets once it
	// LISTENs, so that a changing call finds the listeners to wait for in
	// pg_stat_activity.
	usersListenerApp = "webhookd-user-cache"
	// usersAckTimeout bounds how long a user change waits for a listener
	// before cutting its connection.
	usersAckTimeout = 3 * time.Second
	// userCacheMax bounds the cache; past it the cache starts over.
	userCacheMax = 10000
	// usersAll is the payload that drops every cached user.
	usersAll = "*"
)

// usersScope returns the suffix of the user cache's channel and listener
// names for a schema: PostgreSQL's notifications and pg_stat_activity are
// per database, and several webhookd schemas may share one.
func usersScope(schema string) string {
	sum := sha256.Sum256([]byte(schema))
	return hex.EncodeToString(sum[:6])
}

// usersLockKey is the advisory lock that makes a listener's LISTEN and
// naming one step to a change finding the listeners (see changeUsers):
// per schema, as the channels are.
func (s *Store) usersLockKey() int64 {
	sum := sha256.Sum256([]byte("webhookd user cache " + s.usersScope))
	return int64(binary.BigEndian.Uint64(sum[:8]))
}

func (s *Store) usersChannel() string    { return usersChannel + "_" + s.usersScope }
func (s *Store) usersAckChannel() string { return usersAckChannel + "_" + s.usersScope }
func (s *Store) usersListenerApp() string {
	return usersListenerApp + " " + s.usersScope
}

// userCache is the in-memory side: users by id, API keys by hash, the
// creation times of tenants by id, a generation bumped by every
// invalidation, and whether the cache may be used at all. A key is served from it on the same terms as a user: every
// change to a key (revoked, deleted) or to any user goes through
// changeUsers, and any invalidation forgets every key, since a key carries
// its creator's state (a disabled creator stops it). Keys change rarely;
// the lookup they save is on every request a service key makes, which is
// every publish a CRM's backend sends.
type userCache struct {
	mu    sync.Mutex
	armed bool
	gen   uint64
	m     map[string]User
	keys  map[string]cachedKey
	// file, on SQLite, is the user changes file every process on the
	// database counts its changes in (see userGenFile); fileGen is the
	// count of done changes the cache's contents were read at.
	file    *userGenFile
	fileGen uint64
	// tenants holds the creation time of tenants read to exist. A tenant
	// leaves only by DeleteTenant or with its last member (DeleteUser),
	// both through changeUsers, so, as keys, every invalidation forgets
	// them all; a tenant's creation time never changes while it exists.
	tenants map[string]time.Time
	// detached is set once the store closes: the cache stays off.
	detached bool
}

// getTenant returns the cached creation time of a tenant, if the cache is
// armed and holds it.
func (c *userCache) getTenant(id string) (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.syncLocked() {
		return time.Time{}, false
	}
	t, ok := c.tenants[id]
	return t, ok
}

// putTenant stores a tenant's creation time read at generation gen, unless
// an invalidation came since.
func (c *userCache) putTenant(gen uint64, id string, created time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.syncLocked() || gen != c.gen {
		return
	}
	if c.tenants == nil || len(c.tenants) >= userCacheMax {
		c.tenants = make(map[string]time.Time)
	}
	c.tenants[id] = created
}

// cachedKey is APIKeyByHash's answer for one key hash.
type cachedKey struct {
	key     APIKey
	creator *User
}

// getKey returns the cached key of a hash, if the cache is armed and holds
// it; the creator is a copy.
func (c *userCache) getKey(hash string) (APIKey, *User, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.syncLocked() {
		return APIKey{}, nil, false
	}
	k, ok := c.keys[hash]
	if !ok {
		return APIKey{}, nil, false
	}
	if k.creator != nil {
		u := *k.creator
		return k.key, &u, true
	}
	return k.key, nil, true
}

// putKey stores a key read at generation gen, unless an invalidation came
// since.
func (c *userCache) putKey(gen uint64, hash string, k APIKey, creator *User) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.syncLocked() || gen != c.gen {
		return
	}
	if c.keys == nil || len(c.keys) >= userCacheMax {
		c.keys = make(map[string]cachedKey)
	}
	c.keys[hash] = cachedKey{key: k, creator: creator}
}

// touchKey sets the cached key's last use, as TouchAPIKey stored it, so
// that the minute between recorded uses is counted from it.
func (c *userCache) touchKey(id string, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for h, k := range c.keys {
		if k.key.ID == id {
			k.key.LastUsedAt = &at
			c.keys[h] = k
		}
	}
}

// get returns the cached user, if the cache is armed and holds it.
func (c *userCache) get(id string) (User, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.syncLocked() {
		return User{}, false
	}
	u, ok := c.m[id]
	return u, ok
}

// generation returns the generation to hand to put after reading a user
// from the database, and whether the cache is armed.
func (c *userCache) generation() (uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ok := c.syncLocked()
	return c.gen, ok
}

// syncLocked reports whether the cache may be used now: it is armed and,
// on SQLite, no change to users is in flight in any process. When the
// changes file says the database has moved on from what the cache holds,
// the cache forgets it all first, and the generation moves, so that a
// lookup that read the database before cannot store what it read.
// c.mu must be held.
func (c *userCache) syncLocked() bool {
	if !c.armed {
		return false
	}
	if c.file == nil {
		return true
	}
	done, ok := c.file.generation()
	if !ok {
		return false
	}
	if done != c.fileGen {
		c.gen++
		c.m, c.keys, c.tenants = nil, nil, nil
		c.fileGen = done
	}
	return true
}

// put stores u unless an invalidation came since generation gen was read.
func (c *userCache) put(gen uint64, u User) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.syncLocked() || gen != c.gen {
		return
	}
	if c.m == nil || len(c.m) >= userCacheMax {
		c.m = make(map[string]User)
	}
	c.m[u.ID] = u
}

// drop forgets one user, or all of them for usersAll.
func (c *userCache) drop(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.keys, c.tenants = nil, nil
	if id == usersAll {
		c.m = nil
		return
	}
	delete(c.m, id)
}

// armWith empties the cache and turns it on, kept exact by the user
// changes file f (SQLite).
func (c *userCache) armWith(f *userGenFile) {
	c.mu.Lock()
	if !c.detached {
		c.file = f
	}
	c.mu.Unlock()
	c.arm(true)
}

// arm empties the cache and turns it on or off; a detached cache stays
// off.
func (c *userCache) arm(on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.m, c.keys, c.tenants = nil, nil, nil
	c.armed = on && !c.detached
}

// detach empties the cache and turns it off for good, letting go of its
// user changes file: the store is closing, and the file's mapping with it.
func (c *userCache) detach() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.m, c.keys, c.tenants = nil, nil, nil
	c.armed, c.detached, c.file = false, true, nil
}

// userByIDCached is UserByID through the cache.
func (s *Store) userByIDCached(ctx context.Context, id string) (User, error) {
	if u, ok := s.users.get(id); ok {
		return u, nil
	}
	gen, armed := s.users.generation()
	u, err := s.user(ctx, "id", id)
	if err == nil && armed {
		s.users.put(gen, u)
	}
	return u, err
}

// RunUserCache keeps this store's user cache armed and exact until ctx is
// done (see usersChannel): it listens for user changes on a connection of
// its own, reconnecting after errors with the cache off meanwhile. On
// SQLite the user changes file keeps it exact (see userGenFile), and this
// only arms it until ctx is done; a store opened ForAdmin keeps it off.
// Callers run it in a goroutine they own.
func (s *Store) RunUserCache(ctx context.Context, logger *slog.Logger) {
	if s.d.embedded() {
		if s.userGen != nil && s.serving {
			s.users.armWith(s.userGen)
			defer s.users.arm(false)
		}
		<-ctx.Done()
		return
	}
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := s.listenUsers(ctx)
		s.users.arm(false)
		if ctx.Err() != nil {
			return
		}
		logger.Warn("user cache: listener lost; reading users from the database until reconnected", "err", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

func (s *Store) listenUsers(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, s.dsn)
	if err != nil {
		return fmt.Errorf("store: user cache: connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	// Listening and being named are one step to a change (changeUsers
	// holds the lock shared from finding the listeners to its commit):
	// a listener that heard a change it was not found for would not be
	// waited for, and could serve what it read before the commit after
	// the change returned. Closing the connection lets the lock go.
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, s.usersLockKey()); err != nil {
		return fmt.Errorf("store: user cache: lock: %w", err)
	}
	if _, err := conn.Exec(ctx, `LISTEN `+s.usersChannel()); err != nil {
		return fmt.Errorf("store: user cache: listen: %w", err)
	}
	if s.onListening != nil {
		s.onListening()
	}
	// Named only once listening: a change that finds this connection in
	// pg_stat_activity can count on it hearing the change.
	if _, err := conn.Exec(ctx, `SELECT set_config('application_name', $1, false)`, s.usersListenerApp()); err != nil {
		return fmt.Errorf("store: user cache: name the listener: %w", err)
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, s.usersLockKey()); err != nil {
		return fmt.Errorf("store: user cache: unlock: %w", err)
	}
	// Anything changed while this process was not listening is forgotten.
	s.users.arm(true)
	pid := strconv.FormatUint(uint64(conn.PgConn().PID()), 10)
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return fmt.Errorf("store: user cache: wait for notification: %w", err)
		}
		nonce, id, ok := strings.Cut(n.Payload, " ")
		if !ok {
			id = usersAll
		}
		s.users.drop(id)
		if _, err := conn.Exec(ctx, `SELECT pg_notify($1, $2)`, s.usersAckChannel(), nonce+" "+pid); err != nil {
			return fmt.Errorf("store: user cache: acknowledge: %w", err)
		}
	}
}

// changeUsers runs fn, a change to one user (or to every user for
// usersAll), in a write transaction, and returns once no process's user
// cache still holds what it changed: in-process at once, and on
// PostgreSQL once every listening process has acknowledged (see
// usersChannel).
func (s *Store) changeUsers(ctx context.Context, id string, fn func(tx *txn) error) error {
	if s.d.embedded() {
		if s.userGen != nil {
			// Counted in the changes file before the transaction and
			// after it, so that no process's cache serves what it read
			// meanwhile (see userGenFile).
			if err := s.userGen.begin(); err != nil {
				return err
			}
			defer s.userGen.end()
		}
		err := s.inTx(ctx, fn)
		s.users.drop(id)
		return err
	}
	// The acknowledgements are heard on a connection of this call's own,
	// listening before the change is sent.
	conn, err := pgx.Connect(ctx, s.dsn)
	if err != nil {
		return fmt.Errorf("user cache: connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, `LISTEN `+s.usersAckChannel()); err != nil {
		return fmt.Errorf("user cache: listen: %w", err)
	}
	// Held from finding the listeners until the change has committed, so
	// that none starts listening in between unfound (see listenUsers).
	// Listeners connected later empty their cache when they arm it.
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock_shared($1)`, s.usersLockKey()); err != nil {
		return fmt.Errorf("user cache: lock: %w", err)
	}
	rows, err := conn.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1`, s.usersListenerApp())
	if err != nil {
		return fmt.Errorf("user cache: find listeners: %w", err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return fmt.Errorf("user cache: find listeners: %w", err)
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	nonce := hex.EncodeToString(b[:])
	err = s.inTx(ctx, func(tx *txn) error {
		if err := fn(tx); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `SELECT pg_notify($1, $2)`, s.usersChannel(), nonce+" "+id)
		if err == nil && s.beforeUsersCommit != nil {
			s.beforeUsersCommit()
		}
		return err
	})
	s.users.drop(id)
	if err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_unlock_shared($1)`, s.usersLockKey()); err != nil {
		return fmt.Errorf("user cache: unlock: %w", err)
	}
	return waitForUserAcks(ctx, conn, nonce, pids, s.usersListenerApp())
}

// waitForUserAcks waits until every listener in pids has acknowledged
// nonce, and disconnects those that have not within usersAckTimeout (or
// when ctx ends), which empties and disarms their caches.
func waitForUserAcks(ctx context.Context, conn *pgx.Conn, nonce string, pids []int32, app string) error {
	waiting := make(map[string]int32, len(pids))
	for _, p := range pids {
		waiting[strconv.FormatInt(int64(p), 10)] = p
	}
	wctx, cancel := context.WithTimeout(ctx, usersAckTimeout)
	defer cancel()
	for len(waiting) > 0 {
		n, err := conn.WaitForNotification(wctx)
		if err != nil {
			break
		}
		if got, pid, ok := strings.Cut(n.Payload, " "); ok && got == nonce {
			delete(waiting, pid)
		}
	}
	if len(waiting) == 0 {
		return nil
	}
	// A listener that did not answer may still hold the user: cut it
	// off. One that has gone meanwhile is not found, which is as good.
	// The connection may have been spoilt by the cancelled wait, so this
	// runs on a fresh one.
	kctx, kcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer kcancel()
	kill, err := pgx.ConnectConfig(kctx, conn.Config())
	if err != nil {
		return fmt.Errorf("user cache: %d listener(s) did not acknowledge and could not be cut off: %w", len(waiting), err)
	}
	defer kill.Close(kctx)
	for _, p := range waiting {
		if _, err := kill.Exec(kctx, `SELECT pg_terminate_backend($1, 5000) FROM pg_stat_activity WHERE pid = $1 AND application_name = $2`, p, app); err != nil {
			return fmt.Errorf("user cache: cut off listener %d that did not acknowledge: %w", p, err)
		}
	}
	return nil
}
