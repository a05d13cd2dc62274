package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
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

// tenantNotFound is the answer for a tenant that does not exist or that
// the credential may not act for: the same 404 either way, as for any id
// of another tenant.
func tenantNotFound(id string) *Error {
	return errorf(http.StatusNotFound, "tenant %q not found", id)
}

// checkTenant answers the tenant's creation time when it exists, and a
// 404 when not. ensure creates it instead (a trusted CRM token vouches
// for its tenant, as --auto-create-tenants does for publishing).
//
// Both are served from the store's user cache where it runs, kept exact
// across processes (store.RunUserCache): a tenant deleted is refused by
// the very next request, in every process.
func (s *Server) checkTenant(ctx context.Context, id string, ensure bool) (time.Time, error) {
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
