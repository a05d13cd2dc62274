// Package auth holds webhookd's credentials: password hashes, the HS256
// access tokens users log in for, and the API keys machines publish with.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"
)

// Issuer is the iss claim of every token webhookd signs.
const Issuer = "webhookd"

// APIKeyPrefix starts every API key, so the middleware can tell keys from
// tokens and leaked keys are easy to search for.
const APIKeyPrefix = "whk_"

// ErrInvalidToken is returned for any token that must not be accepted.
var ErrInvalidToken = errors.New("auth: invalid token")

// bcryptCost balances login latency against brute force.
const bcryptCost = 11

// HashPassword hashes a password with bcrypt.
func HashPassword(password string) (string, error) {
	if len(password) > 72 {
		// bcrypt ignores bytes past 72; refuse rather than silently truncate.
		return "", errors.New("auth: password longer than 72 bytes")
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcryptCost)
	if err != nil {
		return "", fmt.Errorf("auth: hash password: %w", err)
	}
	return string(h), nil
}

// dummyHash is compared against when an email is unknown, so that an
// unknown email takes as long to refuse as a wrong password. It is made on
// first use, not at package init: a cost-11 hash at init slowed the start
// of every binary and command that imports auth, most of which never log
// anyone in.
var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("webhookd-timing-equaliser"), bcryptCost)
	return h
})

// CheckPassword reports whether password matches hash. With an empty hash
// (unknown user) it still does the full bcrypt work and returns false.
func CheckPassword(hash, password string) bool {
	if hash == "" {
		_ = bcrypt.CompareHashAndPassword(dummyHash(), []byte(password))
		return false
	}
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
}

// Tokens signs and verifies access tokens.
type Tokens struct {
	secret []byte
	ttl    time.Duration
	now    func() time.Time

	// verified remembers tokens whose signature and claims checked out,
	// with the window they are valid in, so that a client sending the
	// same token on every request is not parsed and HMAC'd every time.
	// The key is the whole token, so a hit is the very bytes once
	// verified; their validity window is still checked on every use.
	mu       sync.Mutex
	verified map[string]verifiedToken
}

// verifiedToken is what Verify learned from a token.
type verifiedToken struct {
	userID    string
	version   int
	notBefore time.Time // zero: no nbf claim
	expiresAt time.Time
}

// maxVerifiedTokens bounds the verified-token cache: past it the cache
// starts over, which costs one parse per token in use.
const maxVerifiedTokens = 4096

// NewTokens returns a token signer with the given HMAC secret and lifetime.
func NewTokens(secret []byte, ttl time.Duration) (*Tokens, error) {
	if len(secret) < 16 {
		return nil, errors.New("auth: JWT secret must be at least 16 bytes")
	}
	if ttl <= 0 {
		return nil, errors.New("auth: token lifetime must be positive")
	}
	return &Tokens{secret: secret, ttl: ttl, now: time.Now, verified: map[string]verifiedToken{}}, nil
}

// TTL is how long issued tokens live.
func (t *Tokens) TTL() time.Duration { return t.ttl }

// claims are a token's contents: the registered claims and the user's
// token version, which changes when the password changes or the user is
// disabled, so that tokens issued before stop working.
type claims struct {
	jwt.RegisteredClaims
	Version *int `json:"ver"`
}

// Issue signs a token for the user at the given token version.
func (t *Tokens) Issue(userID string, version int) (string, error) {
	now := t.now()
	c := claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    Issuer,
			Subject:   userID,
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(t.ttl)),
		},
		Version: &version,
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(t.secret)
	if err != nil {
		return "", fmt.Errorf("auth: sign token: %w", err)
	}
	return s, nil
}

// Verify checks a token's signature (HS256 only), expiry (required),
// not-before, issuer, version claim and that it names no audience, and returns its subject (the user
// id) and token version.
func (t *Tokens) Verify(token string) (userID string, version int, err error) {
	now := t.now()
	t.mu.Lock()
	v, ok := t.verified[token]
	t.mu.Unlock()
	if ok {
		// The same checks jwt makes, with no leeway: valid from nbf, until
		// (not at) exp.
		if now.Before(v.notBefore) || !now.Before(v.expiresAt) {
			return "", 0, ErrInvalidToken
		}
		return v.userID, v.version, nil
	}
	var c claims
	_, err = jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return t.secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuer(Issuer),
		jwt.WithTimeFunc(func() time.Time { return now }),
	)
	// Access tokens have no audience: one that names any (a portal
	// session's) is another kind of token, whatever else it carries.
	if err != nil || c.Subject == "" || c.Version == nil || len(c.Audience) > 0 {
		return "", 0, ErrInvalidToken
	}
	v = verifiedToken{userID: c.Subject, version: *c.Version, expiresAt: c.ExpiresAt.Time}
	if c.NotBefore != nil {
		v.notBefore = c.NotBefore.Time
	}
	t.mu.Lock()
	if len(t.verified) >= maxVerifiedTokens {
		clear(t.verified)
	}
	t.verified[token] = v
	t.mu.Unlock()
	return v.userID, v.version, nil
}

// Verified reports whether Verify has accepted token before (and still
// remembers it), whatever its validity window says now. Such a token is
// an access token, which names no audience, so the caller knows without
// parsing it again that it is not a portal session's (IsPortalToken).
func (t *Tokens) Verified(token string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, ok := t.verified[token]
	return ok
}

// NewAPIKey makes a random API key and returns it with its storage hash and
// a display prefix.
func NewAPIKey() (key, hash, prefix string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", "", fmt.Errorf("auth: api key: %w", err)
	}
	key = APIKeyPrefix + base64.RawURLEncoding.EncodeToString(b)
	return key, HashAPIKey(key), key[:len(APIKeyPrefix)+6], nil
}

// HashAPIKey is the stored form of an API key. Keys carry 256 random bits,
// so a fast hash is enough and lets every request look a key up directly.
func HashAPIKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// CredentialHeader reports whether a webhook's custom header, by its name,
// suggests it carries the receiver's credential (Authorization, a cookie, a
// token, a key): delivery logs redact such values and lists mask them.
func CredentialHeader(name string) bool {
	n := strings.ToLower(name)
	if n == "authorization" || n == "proxy-authorization" || n == "cookie" {
		return true
	}
	for _, part := range []string{"token", "secret", "key", "password", "auth"} {
		if strings.Contains(n, part) {
			return true
		}
	}
	return false
}

// IsAPIKey reports whether a bearer credential is an API key.
func IsAPIKey(credential string) bool { return strings.HasPrefix(credential, APIKeyPrefix) }

// RandomSecret returns n random bytes, base64 encoded, for generated
// secrets and passwords.
func RandomSecret(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("auth: crypto/rand failed: %v", err))
	}
	return base64.StdEncoding.EncodeToString(b)
}

// NewWebhookSecret returns a Standard Webhooks style secret: "whsec_" and
// base64 of 32 random bytes.
func NewWebhookSecret() string { return "whsec_" + RandomSecret(32) }

// ErrExpiredToken is returned by VerifyPortal for a portal session that
// has ended, so that the portal can say so rather than "invalid".
var ErrExpiredToken = errors.New("auth: token expired")

// portalAudience marks portal session tokens, so that they are never taken
// for a user's access token (which has no audience) nor the other way round.
const portalAudience = "webhookd-portal"

// MaxPortalTTL is the longest a portal session may last.
const MaxPortalTTL = 24 * time.Hour

// PortalSession is what a portal session's token grants: one tenant, read
// only or not, until ExpiresAt.
type PortalSession struct {
	Tenant string
	// TenantCreated is when the tenant was created, to the millisecond:
	// a tenant deleted and created again under the same id is another
	// tenant, and its sessions are not this one's.
	TenantCreated time.Time
	ReadOnly      bool
	ExpiresAt     time.Time
}

type portalClaims struct {
	jwt.RegisteredClaims
	Tenant string `json:"tenant"`
	// TenantCreated is the tenant's creation time in Unix milliseconds.
	TenantCreated int64 `json:"tenantCreated"`
	ReadOnly      bool  `json:"readOnly"`
}

// IssuePortal signs a portal session's token for tenant, created at
// tenantCreated, valid for ttl (at most MaxPortalTTL), and returns it with
// its expiry.
func (t *Tokens) IssuePortal(tenant string, tenantCreated time.Time, readOnly bool, ttl time.Duration) (string, time.Time, error) {
	if tenantCreated.IsZero() {
		return "", time.Time{}, fmt.Errorf("auth: portal session for tenant %s: no creation time", tenant)
	}
	if ttl <= 0 || ttl > MaxPortalTTL {
		return "", time.Time{}, fmt.Errorf("auth: portal session lifetime %s is not in (0, %s]", ttl, MaxPortalTTL)
	}
	now := t.now()
	exp := now.Add(ttl).Truncate(time.Second)
	c := portalClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    Issuer,
			Subject:   "portal:" + tenant,
			Audience:  jwt.ClaimStrings{portalAudience},
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(exp),
		},
		Tenant: tenant, TenantCreated: tenantCreated.UnixMilli(), ReadOnly: readOnly,
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(t.secret)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("auth: sign portal token: %w", err)
	}
	return s, exp, nil
}

// VerifyPortal checks a portal session's token: signature (HS256),
// issuer, audience, expiry, and that it names a tenant and its creation
// time. An ended session is ErrExpiredToken; any other failure
// ErrInvalidToken.
func (t *Tokens) VerifyPortal(token string) (PortalSession, error) {
	now := t.now()
	var c portalClaims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return t.secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuer(Issuer),
		jwt.WithAudience(portalAudience),
		jwt.WithTimeFunc(func() time.Time { return now }),
	)
	if errors.Is(err, jwt.ErrTokenExpired) {
		return PortalSession{}, ErrExpiredToken
	}
	if err != nil || c.Tenant == "" || c.TenantCreated <= 0 {
		return PortalSession{}, ErrInvalidToken
	}
	return PortalSession{Tenant: c.Tenant, TenantCreated: time.UnixMilli(c.TenantCreated).UTC(),
		ReadOnly: c.ReadOnly, ExpiresAt: c.ExpiresAt.Time}, nil
}

// IsPortalToken reports whether a bearer credential claims to be a portal
// session's token (its signature unchecked), so that the API can tell a
// portal session's end from any other invalid token.
func IsPortalToken(token string) bool {
	var c portalClaims
	if _, _, err := jwt.NewParser().ParseUnverified(token, &c); err != nil {
		return false
	}
	for _, a := range c.Audience {
		if a == portalAudience {
			return true
		}
	}
	return false
}
