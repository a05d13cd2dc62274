package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/webhookd/webhookd/auth"
	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/trust"
)

func unauthorized(msg string) *Error {
	return &Error{Status: http.StatusUnauthorized, Message: msg,
		Header: http.Header{"Www-Authenticate": {`Bearer realm="webhookd"`}}}
}

// tenantScope says what a route needs of the tenant a request acts for.
type tenantScope int

const (
	// scopeTenant routes act for one tenant: a service key must name it.
	scopeTenant tenantScope = iota
	// scopeAnyTenant routes take the tenant elsewhere (the events
	// routes' bodies) or need none (/auth/me, the event types).
	scopeAnyTenant
	// scopeService routes manage tenants: service keys only.
	scopeService
)

// authenticated requires a credential (see authenticate), resolves the
// tenant the request acts for, and puts the principal in the request
// context. Read-only portal sessions are held to GET and HEAD here, so
// that no route can forget it.
func (s *Server) authenticated(scope tenantScope, h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		p, err := s.authenticate(r.Context(), r.Header.Get("Authorization"), r.Header.Values(TenantHeader))
		if err != nil {
			return err
		}
		if p.readOnly && r.Method != http.MethodGet && r.Method != http.MethodHead {
			return errorf(http.StatusForbidden, "this portal session is read-only")
		}
		switch {
		case scope == scopeService && p.kind != credentialService:
			return errorf(http.StatusForbidden, "this route needs a service key (webhookd apikey create --service)")
		case scope == scopeTenant && p.tenant == "":
			return requireTenant(r.Header)
		}
		return h(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	}
}

// authenticate checks an Authorization header's credential and the
// Webhookd-Tenant header beside it, and returns the principal; a
// credential that is not (or no longer) valid is a 401 *Error, a tenant
// the credential may not act for a 404. Open event streams call it again
// every few seconds, so one rule decides when a credential ends, for new
// requests and open streams alike.
func (s *Server) authenticate(ctx context.Context, authorization string, tenantHeader []string) (principal, error) {
	scheme, credential, ok := strings.Cut(authorization, " ")
	credential = strings.TrimSpace(credential)
	if !ok || !strings.EqualFold(scheme, "Bearer") || credential == "" {
		return principal{}, unauthorized("missing bearer token: send Authorization: Bearer <accessToken or API key>")
	}
	var p principal
	var err error
	switch {
	case auth.IsAPIKey(credential):
		p, err = s.authenticateKey(ctx, credential)
	case s.tokens.Verified(credential):
		// An access token seen before: IsPortalToken's parse, a good part
		// of every publish's authentication, would only say no.
		p, err = s.authenticateToken(ctx, credential)
	case auth.IsPortalToken(credential):
		p, err = s.authenticatePortal(credential)
	default:
		p, err = s.authenticateToken(ctx, credential)
	}
	if err != nil {
		return principal{}, err
	}
	named, err := namedTenant(tenantHeader)
	if err != nil {
		return principal{}, err
	}
	switch {
	case p.kind == credentialService:
		p.tenant = named
	case named != "" && named != p.tenant:
		// Another tenant's name answers as another tenant's ids do.
		return principal{}, tenantNotFound(named)
	}
	// A user's or a tenant key's tenant exists while they do (foreign
	// keys); the tenant a service key names, a portal session's and a
	// trusted token's may not.
	if p.tenant != "" && p.kind != credentialUser && p.kind != credentialKey {
		created, err := s.checkTenant(ctx, p.tenant, p.kind == credentialTrusted)
		if err != nil {
			return principal{}, err
		}
		// A portal session is for the tenant as it was when the session
		// was made: one deleted and created again under the same id is
		// another tenant, whose data the session must not open.
		if p.kind == credentialPortal && !created.Equal(p.tenantCreated) {
			return principal{}, unauthorized("this portal session's tenant was deleted since: ask the application for a new one")
		}
	}
	return p, nil
}

// namedTenant reads the Webhookd-Tenant header: "" when absent, a 400
// naming it when malformed or sent twice.
func namedTenant(values []string) (string, error) {
	switch {
	case len(values) == 0:
		return "", nil
	case len(values) > 1:
		return "", invalid(FieldError{TenantHeader, "must be sent once"})
	}
	id := strings.TrimSpace(values[0])
	if !store.ValidTenantID(id) {
		return "", invalid(FieldError{TenantHeader, "must match " + store.TenantIDPattern})
	}
	return id, nil
}

// authenticateKey checks an API key: a tenant's key acts for its tenant,
// a service key for the tenant each request names. A key a user made
// stops with the user's tokens when the user is disabled.
func (s *Server) authenticateKey(ctx context.Context, credential string) (principal, error) {
	key, creator, err := s.store.APIKeyByHash(ctx, auth.HashAPIKey(credential))
	if errors.Is(err, store.ErrNotFound) {
		return principal{}, unauthorized("invalid or revoked API key")
	}
	if err != nil {
		return principal{}, err
	}
	if creator != nil && creator.DisabledAt != nil {
		return principal{}, unauthorized("the user who created this API key is disabled")
	}
	// lastUsedAt is kept to the minute, so a busy publisher does not
	// turn every request into a write.
	if key.LastUsedAt == nil || s.now().Sub(*key.LastUsedAt) > time.Minute {
		if terr := s.store.TouchAPIKey(ctx, key.ID); terr != nil {
			s.logger.Warn("record api key use", "err", terr)
		}
	}
	if key.Service {
		return principal{kind: credentialService, member: "service-key:" + key.ID}, nil
	}
	return principal{kind: credentialKey, tenant: key.TenantID, member: "api-key:" + key.ID, user: creator}, nil
}

// authenticatePortal checks a portal session's token.
func (s *Server) authenticatePortal(credential string) (principal, error) {
	session, err := s.tokens.VerifyPortal(credential)
	if errors.Is(err, auth.ErrExpiredToken) {
		return principal{}, unauthorized("this portal session has expired: ask the application for a new one")
	}
	if err != nil {
		return principal{}, unauthorized("invalid portal session")
	}
	return principal{kind: credentialPortal, tenant: session.Tenant, member: "portal",
		readOnly: session.ReadOnly, expiresAt: session.ExpiresAt, tenantCreated: session.TenantCreated}, nil
}

// authenticateToken checks webhookd's own access token and, when it is
// not one, the CRM's (--trusted-jwt-*).
func (s *Server) authenticateToken(ctx context.Context, credential string) (principal, error) {
	userID, version, verr := s.tokens.Verify(credential)
	// A subject that cannot be a user id (NUL bytes, say, which
	// PostgreSQL refuses) is refused before it reaches the store.
	if verr != nil || !validID(userID) {
		return s.authenticateTrusted(credential)
	}
	user, err := s.store.UserByID(ctx, userID)
	if errors.Is(err, store.ErrNotFound) || err == nil && user.TokenVersion != version {
		// Deleted, or the password changed or the user was disabled since.
		return principal{}, unauthorized("invalid or expired token")
	}
	if err != nil {
		return principal{}, err
	}
	if user.DisabledAt != nil {
		return principal{}, unauthorized("this user is disabled")
	}
	return principal{kind: credentialUser, tenant: user.TenantID, member: user.ID, user: &user}, nil
}

// authenticateTrusted checks a token that is not webhookd's own against
// the CRM's trusted keys, when there are any: its tenant claim is the
// tenant (authenticate creates it when new), its subject the member. A
// refusal says which check failed, except for a token webhookd issued
// itself, whose owner needs to hear that it expired, not what the CRM's
// keys make of it.
func (s *Server) authenticateTrusted(credential string) (principal, error) {
	if s.trusted == nil || issuedByWebhookd(credential) {
		return principal{}, unauthorized("invalid or expired token")
	}
	id, err := s.trusted.Verify(credential)
	var refused *trust.Error
	if errors.As(err, &refused) {
		return principal{}, unauthorized(refused.Error())
	}
	if err != nil {
		return principal{}, err
	}
	return principal{kind: credentialTrusted, tenant: id.Tenant, member: id.Subject, expiresAt: id.ExpiresAt}, nil
}

// issuedByWebhookd reports whether a JWT's claims, unverified, name
// webhookd as their issuer. It only picks the message of a refusal.
func issuedByWebhookd(token string) bool {
	parts := strings.Split(token, ".")
	if len(parts) != 3 || len(parts[1]) > trust.MaxTokenBytes {
		return false
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return false
	}
	var c struct {
		Issuer any `json:"iss"`
	}
	return json.Unmarshal(payload, &c) == nil && c.Issuer == auth.Issuer
}

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

type userJSON struct {
	ID     string `json:"id"`
	Email  string `json:"email"`
	Tenant string `json:"tenant"`
}

type loginResponse struct {
	AccessToken string   `json:"accessToken"`
	TokenType   string   `json:"tokenType"`
	ExpiresIn   int64    `json:"expiresIn"`
	User        userJSON `json:"user"`
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) error {
	var req loginRequest
	if err := decode(w, r, MaxBodyBytes, &req); err != nil {
		return err
	}
	var details []FieldError
	switch {
	case strings.TrimSpace(req.Email) == "":
		details = append(details, FieldError{"email", "is required"})
	case hasControl(req.Email):
		// No stored email has one, and PostgreSQL refuses NUL in text.
		details = append(details, FieldError{"email", "must not contain control characters"})
	}
	if req.Password == "" {
		details = append(details, FieldError{"password", "is required"})
	}
	if details != nil {
		return invalid(details...)
	}
	keys := throttleKeys(req.Email, r)
	done, err := s.startCheck()
	if err != nil {
		return err
	}
	defer done()
	// The attempt counts as a failure from here on, unless it succeeds.
	reservation, err := s.reserveLogin(r.Context(), keys)
	if err != nil {
		return err
	}
	user, err := s.store.UserByEmail(r.Context(), req.Email)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.releaseLogin(r.Context(), reservation)
		return err
	}
	// An unknown email still pays for a bcrypt comparison, so the answer's
	// timing does not reveal which emails exist.
	if !auth.CheckPassword(user.PasswordHash, req.Password) || err != nil {
		return unauthorized("invalid email or password")
	}
	// The right password is not a failure, whatever comes next.
	s.releaseLogin(r.Context(), reservation)
	if user.DisabledAt != nil {
		return unauthorized("this user is disabled")
	}
	if err := s.store.ClearLoginFailures(context.WithoutCancel(r.Context()), keys[0]); err != nil {
		s.logger.Warn("clear failed logins", "err", err)
	}
	token, err := s.tokens.Issue(user.ID, user.TokenVersion)
	if err != nil {
		return err
	}
	s.firstUser.signedIn(user.Email)
	return s.json(w, http.StatusOK, loginResponse{
		AccessToken: token, TokenType: "Bearer", ExpiresIn: int64(s.tokens.TTL() / time.Second),
		User: userJSON{ID: user.ID, Email: user.Email, Tenant: user.TenantID},
	})
}

// meJSON is who a credential is: the user (or the member a trusted token
// names) and the tenant it acts for.
type meJSON struct {
	ID       string `json:"id"`
	Email    string `json:"email"`
	Tenant   string `json:"tenant"`
	ReadOnly bool   `json:"readOnly,omitempty"`
	// ExpiresAt is when a portal session ends.
	ExpiresAt *string `json:"expiresAt,omitempty"`
}

func (s *Server) handleMe(w http.ResponseWriter, r *http.Request) error {
	p := currentPrincipal(r)
	me := meJSON{ID: p.member, Tenant: p.tenant, ReadOnly: p.readOnly}
	if p.user != nil {
		me.ID, me.Email = p.user.ID, p.user.Email
	}
	if !p.expiresAt.IsZero() {
		me.ExpiresAt = tsp(&p.expiresAt)
	}
	return s.json(w, http.StatusOK, me)
}
