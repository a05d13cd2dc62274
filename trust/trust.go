// Package trust verifies access tokens that another system signed, the
// CRM a sidecar webhookd serves, so that the CRM's users need not sign in
// to webhookd as well. A token names its tenant and its member (subject)
// in claims; Verify checks its signature, lifetime, issuer and audience
// and returns who it is for.
//
// The keys come from one source: a shared HS256 secret, a JWKS URL
// (fetched at start, cached, refreshed in the background and refetched,
// at most once a minute, when a token names a key id the cache does not
// hold) or a JWKS file (read at start and read again, at most once a
// second, when a token names an unknown key id and the file has changed).
// With a JWKS, only asymmetric algorithms are accepted (RS*, PS*, ES*,
// EdDSA): a public key must never be usable as an HMAC secret. "none" is
// never accepted.
//
// The package is a leaf: it knows nothing of HTTP routes, stores or users.
package trust

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"
)

// Defaults and limits.
const (
	// DefaultTenantClaim and DefaultSubjectClaim are the claims that name
	// the tenant and the member when Config leaves them empty.
	DefaultTenantClaim  = "tenant"
	DefaultSubjectClaim = "sub"
	// MinSecretBytes is the shortest HS256 secret New accepts: shorter
	// ones can be guessed offline from a single token.
	MinSecretBytes = 32
	// MaxSubjectLen is the longest subject accepted, in characters.
	MaxSubjectLen = 256
	// MaxTokenBytes is the longest token Verify reads; access tokens are a
	// few hundred bytes to a few KB.
	MaxTokenBytes = 16 << 10

	// Leeway is the clock skew allowed between the CRM and webhookd when
	// checking exp and nbf.
	Leeway = 30 * time.Second

	maxJWKSBytes = 1 << 20 // a JWKS is a few KB; more is a misconfiguration

	fetchTimeout     = 10 * time.Second // one JWKS fetch, and the longest Verify waits for a refetch
	refreshEvery     = 10 * time.Minute // background refresh: removed keys stop working within this
	urlRefetchEvery  = time.Minute      // unknown key ids refetch the URL at most this often
	fileRefetchEvery = time.Second      // unknown key ids reread the file at most this often
)

// tenantPattern is what a tenant id may be: it ends up in URLs, logs and
// database rows, so it is kept to a conservative alphabet.
var tenantPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)

// ValidTenant reports whether id may be a tenant id.
func ValidTenant(id string) bool { return tenantPattern.MatchString(id) }

// Config says where the trusted keys come from and which claims to read.
// Exactly one of Secret, JWKSURL and JWKSFile must be set.
type Config struct {
	// Secret is a shared HS256 secret, at least MinSecretBytes long.
	Secret []byte
	// JWKSURL is an http(s) URL serving a JSON Web Key Set.
	JWKSURL string
	// JWKSFile is a file holding a JSON Web Key Set.
	JWKSFile string
	// Issuer and Audience, when set, must match the token's iss and be
	// one of its aud.
	Issuer, Audience string
	// TenantClaim and SubjectClaim name the top-level string claims that
	// hold the tenant id and the member (default DefaultTenantClaim and
	// DefaultSubjectClaim).
	TenantClaim, SubjectClaim string
	// HTTPClient fetches JWKSURL (default: a client with a 10 s timeout).
	// Its responses are cut off at 1 MiB.
	HTTPClient *http.Client
	// Logger gets failed background refreshes and key reloads (default
	// slog.Default()).
	Logger *slog.Logger
	// Now is the clock exp and nbf are compared with (default time.Now).
	Now func() time.Time

	// refetchEvery overrides how often an unknown key id may refetch the
	// keys; negative: every time. Tests set it so that they need not wait.
	refetchEvery time.Duration
}

// Identity is who a verified token is for.
type Identity struct {
	// Tenant is the token's tenant claim, a valid tenant id.
	Tenant string
	// Subject is the token's subject claim: the member of the tenant.
	Subject string
	// ExpiresAt is the token's exp.
	ExpiresAt time.Time
}

// Check names the check a refused token failed.
type Check string

// The checks Verify makes, in the order it makes them.
const (
	CheckMalformed Check = "malformed" // not a JWT, or a claim of the wrong type
	CheckAlgorithm Check = "algorithm" // none, an algorithm the key source does not allow, or one its key cannot verify
	CheckKey       Check = "key"       // the key id is unknown, or no key fits a token without one
	CheckSignature Check = "signature" // the signature does not verify
	CheckExpiry    Check = "expiry"    // no exp, expired, or not valid yet (nbf)
	CheckIssuer    Check = "issuer"    // iss is not Config.Issuer
	CheckAudience  Check = "audience"  // aud does not include Config.Audience
	CheckTenant    Check = "tenant"    // the tenant claim is missing, not a string, or not a valid tenant id
	CheckSubject   Check = "subject"   // the subject claim is missing, not a string, or not a valid member
)

// Error is why Verify refused a token. Its message says which check failed
// in words fit to answer the client with.
type Error struct {
	Check  Check
	Reason string
}

// Error returns the reason, fit to answer the client with.
func (e *Error) Error() string { return e.Reason }

func refuse(check Check, format string, args ...any) *Error {
	return &Error{Check: check, Reason: fmt.Sprintf(format, args...)}
}

// keySet is the part of a jwkset.Storage Verify reads.
type keySet interface {
	KeyRead(ctx context.Context, kid string) (jwkset.JWK, error)
	KeyReadAll(ctx context.Context) ([]jwkset.JWK, error)
}

// Verifier verifies trusted tokens. It is safe for concurrent use.
type Verifier struct {
	secret []byte // HS256; nil with a JWKS
	keys   keySet // nil with a secret
	algs   []string

	issuer, audience          string
	tenantClaim, subjectClaim string
	now                       func() time.Time
	parser                    *jwt.Parser

	// ctx bounds refetches and the background refresh; cancel is Close.
	ctx    context.Context
	cancel context.CancelFunc
}

// asymmetric is what a JWKS may sign with. HS* is left out on purpose: a
// token signed with HMAC keyed by a public key anyone can read would
// otherwise verify (algorithm confusion).
var asymmetric = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// New makes a Verifier from c. With JWKSURL it fetches the key set before
// returning and fails if it cannot, or if the set holds no usable key: a
// wrong URL is better found at start than by every request answering 401.
// Its background refresh runs until ctx ends or Close is called. With
// JWKSFile it reads the file, and fails likewise.
func New(ctx context.Context, c Config) (*Verifier, error) {
	sources := 0
	for _, set := range []bool{c.Secret != nil, c.JWKSURL != "", c.JWKSFile != ""} {
		if set {
			sources++
		}
	}
	if sources != 1 {
		return nil, errors.New("trust: set exactly one key source: a secret, a JWKS URL or a JWKS file")
	}
	v := &Verifier{
		issuer: c.Issuer, audience: c.Audience, tenantClaim: c.TenantClaim, subjectClaim: c.SubjectClaim, now: c.Now,
		// Claims are checked by identity, which names what failed.
		parser: jwt.NewParser(jwt.WithoutClaimsValidation()),
	}
	if v.tenantClaim == "" {
		v.tenantClaim = DefaultTenantClaim
	}
	if v.subjectClaim == "" {
		v.subjectClaim = DefaultSubjectClaim
	}
	if v.now == nil {
		v.now = time.Now
	}
	logger := c.Logger
	if logger == nil {
		logger = slog.Default()
	}
	v.ctx, v.cancel = context.WithCancel(ctx)
	var err error
	switch {
	case c.Secret != nil:
		if len(c.Secret) < MinSecretBytes {
			err = fmt.Errorf("trust: the secret is %d bytes; it must be at least %d", len(c.Secret), MinSecretBytes)
		}
		v.secret, v.algs = slices.Clone(c.Secret), []string{"HS256"}
	case c.JWKSURL != "":
		v.keys, err = newURLKeys(v.ctx, c, logger)
		v.algs = asymmetric
	default:
		v.keys, err = newFileKeys(c.JWKSFile, limiter(c.refetchEvery, fileRefetchEvery), logger)
		v.algs = asymmetric
	}
	if err != nil {
		v.cancel()
		return nil, err
	}
	return v, nil
}

// Close stops the background refresh of a JWKS URL. Verify keeps working
// on the keys already fetched but refetches no more.
func (v *Verifier) Close() { v.cancel() }

// Verify checks token and returns who it is for, or an *Error saying which
// check it failed.
func (v *Verifier) Verify(token string) (Identity, error) {
	if len(token) > MaxTokenBytes {
		return Identity{}, refuse(CheckMalformed, "malformed token: longer than %d bytes", MaxTokenBytes)
	}
	claims := jwt.MapClaims{}
	tok, err := v.parser.ParseWithClaims(token, claims, v.keyfunc)
	if err != nil {
		return Identity{}, v.classify(tok, err)
	}
	return v.identity(claims)
}

// classify turns a parse error into an *Error.
func (v *Verifier) classify(tok *jwt.Token, err error) *Error {
	var te *Error
	switch {
	case errors.As(err, &te):
		return te
	case errors.Is(err, jwt.ErrTokenMalformed):
		return refuse(CheckMalformed, "malformed token: %v", err)
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		// The parser refuses an algorithm it does not know before the
		// keyfunc runs.
		alg := ""
		if tok != nil {
			alg, _ = tok.Header["alg"].(string)
		}
		return v.algorithmError(alg)
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return refuse(CheckSignature, "token signature is invalid")
	default:
		return refuse(CheckMalformed, "malformed token: %v", err)
	}
}

func (v *Verifier) algorithmError(alg string) *Error {
	if alg == "" {
		return refuse(CheckAlgorithm, "token has no algorithm (alg); want %s", strings.Join(v.algs, ", "))
	}
	if strings.HasPrefix(alg, "HS") && v.secret == nil {
		return refuse(CheckAlgorithm, "token algorithm %s is not accepted: tokens signed with a JWKS use %s, never HMAC", clip(alg), strings.Join(v.algs, ", "))
	}
	return refuse(CheckAlgorithm, "token algorithm %s is not accepted; want %s", clip(alg), strings.Join(v.algs, ", "))
}

// keyfunc picks the key that must have signed t, refusing an algorithm the
// key source does not allow before any key is looked at.
func (v *Verifier) keyfunc(t *jwt.Token) (any, error) {
	alg := t.Method.Alg()
	if !slices.Contains(v.algs, alg) {
		return nil, v.algorithmError(alg)
	}
	if v.secret != nil {
		return v.secret, nil
	}
	if raw, ok := t.Header["kid"]; ok {
		kid, ok := raw.(string)
		if !ok {
			return nil, refuse(CheckMalformed, "malformed token: its key id (kid) is not a string")
		}
		jwk, err := v.keys.KeyRead(v.ctx, kid)
		if err != nil {
			// Not found, even after a refetch if one was allowed.
			return nil, refuse(CheckKey, "token key id (kid) %q is not a trusted key", clip(kid))
		}
		return fit(jwk, alg)
	}
	// No kid: any key of the set that can verify alg may have signed it.
	all, err := v.keys.KeyReadAll(v.ctx)
	if err != nil {
		return nil, fmt.Errorf("trust: read the key set: %w", err)
	}
	var set jwt.VerificationKeySet
	for _, jwk := range all {
		if key, err := fit(jwk, alg); err == nil {
			set.Keys = append(set.Keys, key)
		}
	}
	if len(set.Keys) == 0 {
		return nil, refuse(CheckKey, "token has no key id (kid) and no trusted key verifies %s", alg)
	}
	return set, nil
}

// fit returns jwk's public key if it may verify a signature made with alg.
func fit(jwk jwkset.JWK, alg string) (jwt.VerificationKey, error) {
	m := jwk.Marshal()
	if m.USE == jwkset.UseEnc {
		return nil, refuse(CheckKey, "trusted key %q is for encryption (use enc), not signatures", clip(m.KID))
	}
	if m.ALG != "" && m.ALG.String() != alg {
		return nil, refuse(CheckAlgorithm, "token algorithm %s does not match trusted key %q, which is for %s", alg, clip(m.KID), clip(m.ALG.String()))
	}
	key := jwk.Key()
	if pk, ok := key.(interface{ Public() crypto.PublicKey }); ok {
		key = pk.Public()
	}
	var fits bool
	switch {
	case strings.HasPrefix(alg, "RS"), strings.HasPrefix(alg, "PS"):
		_, fits = key.(*rsa.PublicKey)
	case strings.HasPrefix(alg, "ES"):
		_, fits = key.(*ecdsa.PublicKey)
	case alg == "EdDSA":
		_, fits = key.(ed25519.PublicKey)
	}
	if !fits {
		return nil, refuse(CheckAlgorithm, "token algorithm %s does not match trusted key %q, whose type is %s", alg, clip(m.KID), m.KTY)
	}
	return key, nil
}

// identity checks the verified claims in order: lifetime, issuer,
// audience, tenant, subject.
func (v *Verifier) identity(claims jwt.MapClaims) (Identity, error) {
	now := v.now()
	exp, err := claims.GetExpirationTime()
	if err != nil {
		return Identity{}, refuse(CheckMalformed, "malformed token: its exp claim is not a number")
	}
	if exp == nil {
		return Identity{}, refuse(CheckExpiry, "token has no expiry (exp claim)")
	}
	if !now.Before(exp.Add(Leeway)) {
		return Identity{}, refuse(CheckExpiry, "token expired at %s", exp.UTC().Format(time.RFC3339))
	}
	nbf, err := claims.GetNotBefore()
	if err != nil {
		return Identity{}, refuse(CheckMalformed, "malformed token: its nbf claim is not a number")
	}
	if nbf != nil && now.Add(Leeway).Before(nbf.Time) {
		return Identity{}, refuse(CheckExpiry, "token is not valid before %s (nbf claim)", nbf.UTC().Format(time.RFC3339))
	}
	if v.issuer != "" {
		iss, err := claims.GetIssuer()
		switch {
		case err != nil:
			return Identity{}, refuse(CheckIssuer, "token issuer (iss claim) is not a string")
		case iss == "":
			return Identity{}, refuse(CheckIssuer, "token has no issuer (iss claim); want the trusted issuer")
		case iss != v.issuer:
			return Identity{}, refuse(CheckIssuer, "token issuer (iss claim) %q is not the trusted issuer", clip(iss))
		}
	}
	if v.audience != "" {
		aud, err := claims.GetAudience()
		switch {
		case err != nil:
			return Identity{}, refuse(CheckAudience, "token audience (aud claim) is not a string or a list of strings")
		case len(aud) == 0:
			return Identity{}, refuse(CheckAudience, "token has no audience (aud claim); want the trusted audience %q", v.audience)
		case !slices.Contains(aud, v.audience):
			// The audience is no secret (every valid token carries it), and
			// naming it is what tells the CRM's developer what to fix.
			return Identity{}, refuse(CheckAudience, "token audience (aud claim) %q does not include the trusted audience %q", clip(strings.Join(aud, ", ")), v.audience)
		}
	}
	tenant, err := stringClaim(claims, v.tenantClaim, "the tenant", CheckTenant)
	if err != nil {
		return Identity{}, err
	}
	if !ValidTenant(tenant) {
		return Identity{}, refuse(CheckTenant, "token claim %q is not a valid tenant id: want 1 to 128 letters, digits, '.', '_', ':' or '-', starting with a letter or digit", v.tenantClaim)
	}
	subject, err := stringClaim(claims, v.subjectClaim, "the member", CheckSubject)
	if err != nil {
		return Identity{}, err
	}
	if !validSubject(subject) {
		return Identity{}, refuse(CheckSubject, "token claim %q is not a valid member: want 1 to %d characters, no control characters", v.subjectClaim, MaxSubjectLen)
	}
	return Identity{Tenant: tenant, Subject: subject, ExpiresAt: exp.Time}, nil
}

func stringClaim(claims jwt.MapClaims, name, role string, check Check) (string, error) {
	raw, ok := claims[name]
	if !ok || raw == nil {
		return "", refuse(check, "token has no %q claim (%s)", name, role)
	}
	s, ok := raw.(string)
	if !ok {
		return "", refuse(check, "token claim %q (%s) is not a string", name, role)
	}
	return s, nil
}

func validSubject(s string) bool {
	if s == "" || len([]rune(s)) > MaxSubjectLen || strings.TrimSpace(s) == "" {
		return false
	}
	return !strings.ContainsFunc(s, unicode.IsControl)
}

// clip shortens a value from a token before it goes into a message.
func clip(s string) string {
	const max = 64
	if r := []rune(s); len(r) > max {
		return string(r[:max]) + "…"
	}
	return s
}

// limiter allows one refetch per every (def when every is zero, no limit
// when negative), refusing rather than waiting when none is allowed yet.
func limiter(every, def time.Duration) *rate.Limiter {
	switch {
	case every < 0:
		return rate.NewLimiter(rate.Inf, 1)
	case every == 0:
		every = def
	}
	return rate.NewLimiter(rate.Every(every), 1)
}

// newURLKeys fetches the JWKS at c.JWKSURL through keyfunc, which caches
// it, refreshes it every refreshEvery until ctx ends, and refetches it on
// an unknown key id at most once per urlRefetchEvery.
func newURLKeys(ctx context.Context, c Config, logger *slog.Logger) (keySet, error) {
	u, err := url.Parse(c.JWKSURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("trust: JWKS URL %q: want an http or https URL", c.JWKSURL)
	}
	if u.Scheme == "http" && !loopback(u.Hostname()) {
		logger.Warn("the trusted JWKS URL is plain http: whoever can alter the answer can sign in as any tenant; use https", "url", u.Redacted())
	}
	noErrorOnFirst := false
	kf, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{c.JWKSURL}, keyfunc.Override{
		Client:                    jwksClient(c.HTTPClient),
		HTTPTimeout:               fetchTimeout,
		NoErrorReturnFirstHTTPReq: &noErrorOnFirst,
		RefreshInterval:           refreshEvery,
		// A refetch on an unknown key id waits for the limiter only when
		// its turn comes within this; otherwise it gives up at once. It
		// also bounds the refetch itself.
		RateLimitWaitMax:  fetchTimeout,
		RefreshUnknownKID: limiter(c.refetchEvery, urlRefetchEvery),
		RefreshErrorHandlerFunc: func(string) func(context.Context, error) {
			return func(_ context.Context, err error) {
				logger.Warn("could not refresh the trusted JWKS; keeping the keys fetched before", "url", u.Redacted(), "err", err)
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("trust: fetch the JWKS at %s: %w", u.Redacted(), fetchCause(err))
	}
	all, err := kf.Storage().KeyReadAll(ctx)
	if err != nil {
		return nil, fmt.Errorf("trust: read the JWKS at %s: %w", u.Redacted(), err)
	}
	if !hasSigningKey(all) {
		return nil, fmt.Errorf("trust: the JWKS at %s has no RSA, EC or Ed25519 signing key", u.Redacted())
	}
	return kf.Storage(), nil
}

// fetchCause is the part of a failed first JWKS fetch worth reading: the
// HTTP client's own error without the URL (which the caller names), the
// status, or the decoding error, rather than the chain of wrappers and
// the joined sentinel keyfunc adds, which repeat the URL and span lines.
func fetchCause(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	var syntax *json.SyntaxError
	if errors.As(err, &syntax) {
		return fmt.Errorf("not a JSON Web Key Set: %w", syntax)
	}
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		return fmt.Errorf("not a JSON Web Key Set: %w", typ)
	}
	// Otherwise the deepest wrapper in the chain, taking the first of
	// joined errors (jwkset joins its own "failed to create new JWK Set
	// client" after the cause): the leaf below it is a sentinel such as
	// "invalid HTTP status code", whose wrapper adds the detail (": 500").
	for {
		var next error
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			if errs := u.Unwrap(); len(errs) > 0 {
				next = errs[0]
			}
		case interface{ Unwrap() error }:
			next = u.Unwrap()
		}
		if next == nil || !isWrapper(next) && !isJoin(err) {
			return err
		}
		err = next
	}
}

// isWrapper reports whether err wraps another error.
func isWrapper(err error) bool {
	switch err.(type) {
	case interface{ Unwrap() error }, interface{ Unwrap() []error }:
		return true
	}
	return false
}

func isJoin(err error) bool {
	_, ok := err.(interface{ Unwrap() []error })
	return ok
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// jwksClient returns a copy of c (or a default client) whose answers are
// cut off at maxJWKSBytes, so a misbehaving endpoint cannot fill memory.
func jwksClient(c *http.Client) *http.Client {
	client := &http.Client{Timeout: fetchTimeout}
	if c != nil {
		copied := *c
		client = &copied
	}
	base := client.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	client.Transport = capBody{base}
	return client
}

// capBody limits response bodies to maxJWKSBytes.
type capBody struct{ base http.RoundTripper }

// RoundTrip implements http.RoundTripper.
func (c capBody) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.base.RoundTrip(r)
	if err == nil {
		resp.Body = http.MaxBytesReader(nil, resp.Body, maxJWKSBytes)
	}
	return resp, err
}

// fileKeys is a JWKS file: read at start and again, when a token names an
// unknown key id, if its contents have changed since.
type fileKeys struct {
	path   string
	limit  *rate.Limiter
	logger *slog.Logger
	mu     sync.Mutex // one reload at a time
	cur    atomic.Pointer[fileSet]
}

type fileSet struct {
	keys keySet
	sum  [sha256.Size]byte
}

func newFileKeys(path string, limit *rate.Limiter, logger *slog.Logger) (*fileKeys, error) {
	f := &fileKeys{path: path, limit: limit, logger: logger}
	data, err := readCapped(path)
	if err != nil {
		return nil, fmt.Errorf("trust: read the JWKS file: %w", err)
	}
	set, err := parseFile(data)
	if err != nil {
		return nil, fmt.Errorf("trust: JWKS file %s: %w", path, err)
	}
	f.cur.Store(set)
	return f, nil
}

// KeyRead returns the key kid, rereading the file first if kid is unknown,
// a reread is allowed now and the file has changed.
func (f *fileKeys) KeyRead(ctx context.Context, kid string) (jwkset.JWK, error) {
	jwk, err := f.cur.Load().keys.KeyRead(ctx, kid)
	if !errors.Is(err, jwkset.ErrKeyNotFound) || !f.reload() {
		return jwk, err
	}
	return f.cur.Load().keys.KeyRead(ctx, kid)
}

// KeyReadAll returns every key of the file as last read.
func (f *fileKeys) KeyReadAll(ctx context.Context) ([]jwkset.JWK, error) {
	return f.cur.Load().keys.KeyReadAll(ctx)
}

// reload rereads the file if the limiter allows, and reports whether it
// now holds different keys. A file that cannot be read or parsed leaves
// the keys as they were (it may be caught half written).
func (f *fileKeys) reload() bool {
	if !f.limit.Allow() {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	data, err := readCapped(f.path)
	if err != nil {
		f.logger.Warn("could not reread the trusted JWKS file; keeping the keys read before", "err", err)
		return false
	}
	if sha256.Sum256(data) == f.cur.Load().sum {
		return false
	}
	set, err := parseFile(data)
	if err != nil {
		f.logger.Warn("the trusted JWKS file is not a usable key set; keeping the keys read before", "path", f.path, "err", err)
		return false
	}
	f.cur.Store(set)
	f.logger.Info("reread the trusted JWKS file", "path", f.path)
	return true
}

func readCapped(path string) ([]byte, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	data, err := io.ReadAll(io.LimitReader(file, maxJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > maxJWKSBytes {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, maxJWKSBytes)
	}
	return data, nil
}

// parseFile parses a JWKS, skipping keys of types jwkset does not support
// (as the URL source does), and requires at least one signing key.
func parseFile(data []byte) (*fileSet, error) {
	var raw jwkset.JWKSMarshal
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("not a JSON Web Key Set: %w", err)
	}
	store := jwkset.NewMemoryStorage()
	for i, m := range raw.Keys {
		jwk, err := jwkset.NewJWKFromMarshal(m, jwkset.JWKMarshalOptions{Private: true}, jwkset.JWKValidateOptions{})
		if errors.Is(err, jwkset.ErrUnsupportedKey) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("key %d (kid %q): %w", i, m.KID, err)
		}
		if err := store.KeyWrite(context.Background(), jwk); err != nil {
			return nil, err
		}
	}
	all, _ := store.KeyReadAll(context.Background())
	if !hasSigningKey(all) {
		return nil, errors.New("no RSA, EC or Ed25519 signing key")
	}
	return &fileSet{keys: store, sum: sha256.Sum256(data)}, nil
}

func hasSigningKey(keys []jwkset.JWK) bool {
	for _, jwk := range keys {
		if jwk.Marshal().USE == jwkset.UseEnc {
			continue
		}
		key := jwk.Key()
		if pk, ok := key.(interface{ Public() crypto.PublicKey }); ok {
			key = pk.Public()
		}
		switch key.(type) {
		case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
			return true
		}
	}
	return false
}
