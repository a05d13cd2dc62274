package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/webhookd/webhookd/store"
)

// TenantHeader names the tenant a service credential acts for on a
// request (the events routes also take it in the body). Any other
// credential may send it too, naming its own tenant; another answers 404.
const TenantHeader = "Webhookd-Tenant"

// credentialKind is what kind of credential authenticated a request.
type credentialKind int

const (
	// credentialUser is webhookd's own access token, from a login.
	credentialUser credentialKind = iota + 1
	// credentialKey is a tenant's API key.
	credentialKey
	// credentialService is a service API key: it acts for any tenant,
	// naming it on each request.
	credentialService
	// credentialTrusted is the CRM's own access token, trusted by
	// --trusted-jwt-secret or a JWKS.
	credentialTrusted
	// credentialPortal is a portal session's token.
	credentialPortal
)

// principal is who made a request and the tenant it acts for.
type principal struct {
	kind credentialKind
	// tenant is the tenant the request acts for: the credential's own,
	// or the one a service key named ("" when it named none).
	tenant string
	// member is who acts, recorded as the creator of what the request
	// creates: a user's id, a trusted token's subject, or for keys and
	// portal sessions a description of the credential.
	member string
	// user is the webhookd user behind a login token or a key a user
	// made, for /auth/me; nil otherwise.
	user *store.User
	// readOnly is set for read-only portal sessions: they may look but
	// not change.
	readOnly bool
	// expiresAt is when a portal session or token ends (zero: unknown).
	expiresAt time.Time
	// tenantCreated is, for a portal session, the creation time of the
	// tenant it was issued for: the tenant must still be that one.
	tenantCreated time.Time
}

type principalKey struct{}

// currentPrincipal returns the authenticated principal of a request.
func currentPrincipal(r *http.Request) principal {
	p, _ := r.Context().Value(principalKey{}).(principal)
	return p
}

// tenantOf returns the tenant a request acts for. The routes that need
// one (every route but publishing, the tenant routes and /auth/me) are
// only reached with a tenant, so it is never "" there.
func tenantOf(r *http.Request) string { return currentPrincipal(r).tenant }

// tenantCache remembers for a moment the tenants known to exist, so that
// a service key publishing for a tenant, or a portal session reading, does
// not cost a lookup each request. A tenant deleted meanwhile is still
// refused by the database's foreign keys on every write; reads within the
// moment find nothing of it.
type tenantCache struct {
	mu   sync.Mutex
	seen map[string]seenTenant
}

// seenTenant is when a tenant was last seen to exist, and its creation
// time then.
type seenTenant struct{ at, created time.Time }

// tenantCacheTTL is how long a tenant seen to exist is taken to exist.
const tenantCacheTTL = 2 * time.Second

// maxCachedTenants bounds the cache: past it, it starts over.
const maxCachedTenants = 10000

// known returns the creation time of a tenant seen to exist within
// tenantCacheTTL.
func (c *tenantCache) known(id string, now time.Time) (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.seen[id]
	if !ok || now.Sub(t.at) >= tenantCacheTTL {
		return time.Time{}, false
	}
	return t.created, true
}

func (c *tenantCache) remember(id string, created, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen == nil || len(c.seen) >= maxCachedTenants {
		c.seen = map[string]seenTenant{}
	}
	c.seen[id] = seenTenant{at: now, created: created}
}

func (c *tenantCache) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.seen, id)
}

// tenantNotFound is the answer for a tenant that does not exist or that
// the credential may not act for: the same 404 either way, as for any id
// of another tenant.
func tenantNotFound(id string) *Error {
	return errorf(http.StatusNotFound, "tenant %q not found", id)
}

// checkTenant answers the tenant's creation time when it exists, and a
// 404 when not. ensure creates it instead (a trusted CRM token vouches
// for its tenant, as --auto-create-tenants does for publishing).
func (s *Server) checkTenant(ctx context.Context, id string, ensure bool) (time.Time, error) {
	now := time.Now()
	if created, ok := s.tenants.known(id, now); ok {
		return created, nil
	}
	if ensure {
		if err := s.store.EnsureTenant(ctx, id); err != nil {
			return time.Time{}, err
		}
	}
	created, err := s.store.TenantCreatedAt(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return time.Time{}, tenantNotFound(id)
	}
	if err != nil {
		return time.Time{}, err
	}
	s.tenants.remember(id, created, now)
	return created, nil
}

// requireTenant is the 400 a service request gets on a route that acts
// for one tenant without naming it; when the request sent a header that
// looks like a misspelt Webhookd-Tenant, the message names it too.
func requireTenant(h http.Header) *Error {
	msg := "is required with a service key: name the tenant in the " + TenantHeader + " header"
	if seen := misspeltTenantHeader(h); seen != "" {
		msg += fmt.Sprintf(" (this request sent %s, which is not it)", seen)
	}
	return invalid(FieldError{"tenant", msg})
}

// misspeltTenantHeader returns the first (by name) header of h that looks
// like a misspelling of Webhookd-Tenant, or "": a name with a part within
// one edit of "tenant" (Tenant, X-Webhookd-Tenant, Webhookd-Tenent,
// X-Tenant-Id), or within three edits of the whole name (WebhookdTenant).
func misspeltTenantHeader(h http.Header) string {
	var names []string
	for name := range h {
		names = append(names, name)
	}
	slices.Sort(names)
	want := strings.ToLower(TenantHeader)
	for _, name := range names {
		lower := strings.ToLower(name)
		if lower == want {
			continue
		}
		if editDistance(lower, want) <= 3 {
			return name
		}
		for _, part := range strings.FieldsFunc(lower, func(r rune) bool { return r == '-' || r == '_' || r == '.' }) {
			if editDistance(part, "tenant") <= 1 {
				return name
			}
		}
	}
	return ""
}

// editDistance is the Levenshtein distance between a and b, in bytes
// (header names are ASCII). Names longer than 64 bytes are not compared:
// they are no misspelling of a 15-byte name, and this bounds the work a
// request's headers can cause.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
