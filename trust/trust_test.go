package trust

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"
)

// now is the tests' clock: tokens are stamped relative to it and the
// verifiers read it, so nothing depends on the wall clock.
var now = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

func clock() time.Time { return now }

// signer is a private key with the kid and alg it signs tokens with.
type signer struct {
	kid, alg string
	key      crypto.Signer
	omitAlg  bool // publish the key without its alg
}

var (
	keysOnce sync.Once
	rsaKey   *rsa.PrivateKey // generated once: RSA keys are slow to make
	rsaKey2  *rsa.PrivateKey
)

func rsaKeys(t testing.TB) (*rsa.PrivateKey, *rsa.PrivateKey) {
	t.Helper()
	keysOnce.Do(func() {
		var err error
		if rsaKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if rsaKey2, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	return rsaKey, rsaKey2
}

func newRSA(t testing.TB, kid string) signer {
	k, _ := rsaKeys(t)
	return signer{kid: kid, alg: "RS256", key: k}
}

func newEC(t testing.TB, kid string) signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return signer{kid: kid, alg: "ES256", key: k}
}

func newEd(t testing.TB, kid string) signer {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return signer{kid: kid, alg: "EdDSA", key: k}
}

// jwks is the public JSON Web Key Set of signers, each key with its kid
// and alg.
func jwks(t testing.TB, signers ...signer) []byte {
	t.Helper()
	var set jwkset.JWKSMarshal
	for _, s := range signers {
		meta := jwkset.JWKMetadataOptions{KID: s.kid, ALG: jwkset.ALG(s.alg), USE: jwkset.UseSig}
		if s.omitAlg {
			meta.ALG = ""
		}
		jwk, err := jwkset.NewJWKFromKey(s.key.Public(), jwkset.JWKOptions{Metadata: meta})
		if err != nil {
			t.Fatal(err)
		}
		set.Keys = append(set.Keys, jwk.Marshal())
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sign signs claims as s, with s's kid in the header (none when empty).
func (s signer) sign(t testing.TB, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.GetSigningMethod(s.alg), claims)
	if s.kid != "" {
		tok.Header["kid"] = s.kid
	}
	str, err := tok.SignedString(s.key)
	if err != nil {
		t.Fatal(err)
	}
	return str
}

// claims are a valid token's claims for tenant acme, member-1.
func claims(edits ...func(jwt.MapClaims)) jwt.MapClaims {
	c := jwt.MapClaims{"tenant": "acme", "sub": "member-1", "exp": now.Add(time.Hour).Unix(), "iat": now.Unix()}
	for _, e := range edits {
		e(c)
	}
	return c
}

func set(k string, v any) func(jwt.MapClaims) { return func(c jwt.MapClaims) { c[k] = v } }
func drop(k string) func(jwt.MapClaims)       { return func(c jwt.MapClaims) { delete(c, k) } }

// jwksServer serves a JWKS that tests replace, and counts the fetches.
type jwksServer struct {
	*httptest.Server
	body    atomic.Pointer[[]byte]
	fetches atomic.Int64
}

func newJWKSServer(t testing.TB, body []byte) *jwksServer {
	t.Helper()
	s := &jwksServer{}
	s.serve(body)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write(*s.body.Load())
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) serve(body []byte) { s.body.Store(&body) }

// newVerifier makes a Verifier on the tests' clock, closed at cleanup.
func newVerifier(t testing.TB, c Config) *Verifier {
	t.Helper()
	c.Now = clock
	v, err := New(context.Background(), c)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(v.Close)
	return v
}

func mustVerify(t testing.TB, v *Verifier, token string) Identity {
	t.Helper()
	id, err := v.Verify(token)
	if err != nil {
		t.Fatalf("Verify: %v, want the token accepted", err)
	}
	return id
}

// mustRefuse checks that Verify refuses token for check with a message
// containing says.
func mustRefuse(t testing.TB, v *Verifier, token string, check Check, says string) {
	t.Helper()
	id, err := v.Verify(token)
	var te *Error
	if !errors.As(err, &te) {
		t.Fatalf("Verify: (%+v, %v), want a *trust.Error for check %s", id, err, check)
	}
	if te.Check != check || !strings.Contains(te.Error(), says) {
		t.Errorf("Verify: check %s %q, want check %s saying %q", te.Check, te.Error(), check, says)
	}
}

// A JWKS served over HTTP with an RSA, an EC and an Ed25519 key: a token
// signed by each is accepted, and names its tenant, member and expiry.
func TestJWKSURLAcceptsRSAECAndEd25519(t *testing.T) {
	signers := []signer{newRSA(t, "rsa-1"), newEC(t, "ec-1"), newEd(t, "ed-1")}
	srv := newJWKSServer(t, jwks(t, signers...))
	v := newVerifier(t, Config{JWKSURL: srv.URL})
	for _, s := range signers {
		id := mustVerify(t, v, s.sign(t, claims()))
		want := Identity{Tenant: "acme", Subject: "member-1", ExpiresAt: now.Add(time.Hour)}
		if !id.ExpiresAt.Equal(want.ExpiresAt) || id.Tenant != want.Tenant || id.Subject != want.Subject {
			t.Errorf("%s: identity %+v, want %+v", s.alg, id, want)
		}
	}
	// Without a kid, any key that fits the algorithm may have signed it.
	noKid := signers[1]
	noKid.kid = ""
	mustVerify(t, v, noKid.sign(t, claims()))
	if n := srv.fetches.Load(); n != 1 {
		t.Errorf("the JWKS was fetched %d times, want once (at start)", n)
	}
}

// A key that appears on the server after start is accepted once an
// unknown kid has made the verifier refetch; a key removed from the server
// is refused from that refetch on.
func TestJWKSURLKeyRotation(t *testing.T) {
	old, next := newEC(t, "2026-11"), newEd(t, "2026-12")
	srv := newJWKSServer(t, jwks(t, old))
	v := newVerifier(t, Config{JWKSURL: srv.URL, refetchEvery: -1})
	mustVerify(t, v, old.sign(t, claims()))
	mustRefuse(t, v, next.sign(t, claims()), CheckKey, `"2026-12"`)

	srv.serve(jwks(t, next))
	fetches := srv.fetches.Load()
	id := mustVerify(t, v, next.sign(t, claims(set("tenant", "globex"))))
	if id.Tenant != "globex" {
		t.Errorf("tenant %q, want globex", id.Tenant)
	}
	if srv.fetches.Load() != fetches+1 {
		t.Errorf("fetches went from %d to %d, want one refetch for the new kid", fetches, srv.fetches.Load())
	}
	mustRefuse(t, v, old.sign(t, claims()), CheckKey, `key id (kid) "2026-11" is not a trusted key`)
}

// Unknown key ids refetch at most once a minute by default: a flood of
// made-up kids costs the JWKS endpoint one request, not one each.
func TestJWKSURLRefetchIsRateLimited(t *testing.T) {
	known := newEC(t, "known")
	srv := newJWKSServer(t, jwks(t, known))
	v := newVerifier(t, Config{JWKSURL: srv.URL})
	for i := range 5 {
		stranger := newEC(t, "made-up-"+string(rune('a'+i)))
		mustRefuse(t, v, stranger.sign(t, claims()), CheckKey, "is not a trusted key")
	}
	if n := srv.fetches.Load(); n != 2 {
		t.Errorf("the JWKS was fetched %d times, want 2: at start and one refetch for five unknown kids", n)
	}
	mustVerify(t, v, known.sign(t, claims()))
}

// Close stops the verifier's fetching: an unknown kid no longer refetches,
// and the keys it holds still verify.
func TestCloseStopsFetching(t *testing.T) {
	old, next := newEC(t, "old"), newEC(t, "next")
	srv := newJWKSServer(t, jwks(t, old))
	v := newVerifier(t, Config{JWKSURL: srv.URL, refetchEvery: -1})
	v.Close()
	srv.serve(jwks(t, old, next))
	mustRefuse(t, v, next.sign(t, claims()), CheckKey, `"next"`)
	if n := srv.fetches.Load(); n != 1 {
		t.Errorf("the JWKS was fetched %d times, want once: none after Close", n)
	}
	mustVerify(t, v, old.sign(t, claims()))
}

// A JWKS file is reread when a token names an unknown kid and the file has
// changed: a new key is accepted, a removed one refused, and a file caught
// half written leaves the keys as they were.
func TestJWKSFileRotation(t *testing.T) {
	old, next, later := newRSA(t, "old"), newEd(t, "next"), newEC(t, "later")
	path := filepath.Join(t.TempDir(), "jwks.json")
	write := func(b []byte) {
		t.Helper()
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(jwks(t, old))
	v := newVerifier(t, Config{JWKSFile: path, refetchEvery: -1})
	mustVerify(t, v, old.sign(t, claims()))
	mustRefuse(t, v, next.sign(t, claims()), CheckKey, `"next"`)

	write(jwks(t, next))
	mustVerify(t, v, next.sign(t, claims()))
	mustRefuse(t, v, old.sign(t, claims()), CheckKey, `"old"`)

	write([]byte(`{"keys": [`))
	mustRefuse(t, v, later.sign(t, claims()), CheckKey, `"later"`)
	mustVerify(t, v, next.sign(t, claims()))

	write(jwks(t, next, later))
	mustVerify(t, v, later.sign(t, claims()))
}

// By default the file is reread at most once a second: a flood of unknown
// kids does not reread it for each.
func TestJWKSFileRereadIsRateLimited(t *testing.T) {
	old, next := newEC(t, "old"), newEC(t, "next")
	path := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(path, jwks(t, old), 0o600); err != nil {
		t.Fatal(err)
	}
	v := newVerifier(t, Config{JWKSFile: path})
	keys := v.keys.(*fileKeys)
	if keys.limit.Limit() != rate.Every(time.Second) || keys.limit.Burst() != 1 {
		t.Fatalf("file reread limit %v burst %d, want one a second", keys.limit.Limit(), keys.limit.Burst())
	}
	// The same limiter, slowed so that the test does not race the clock.
	keys.limit = rate.NewLimiter(rate.Every(time.Hour), 1)
	if !keys.limit.Allow() {
		t.Fatal("the first reread was not allowed")
	}
	if err := os.WriteFile(path, jwks(t, old, next), 0o600); err != nil {
		t.Fatal(err)
	}
	mustRefuse(t, v, next.sign(t, claims()), CheckKey, `"next"`)
}

// An HS256 shared secret: tokens it signed are accepted; others, and
// asymmetric algorithms, are refused; a short secret is refused at New.
func TestHS256Secret(t *testing.T) {
	secret := []byte("a shared secret of at least 32 bytes")
	v := newVerifier(t, Config{Secret: secret})
	sign := func(key []byte, alg string, c jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(jwt.GetSigningMethod(alg), c).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	id := mustVerify(t, v, sign(secret, "HS256", claims()))
	if id.Tenant != "acme" || id.Subject != "member-1" {
		t.Errorf("identity %+v, want acme / member-1", id)
	}
	mustRefuse(t, v, sign([]byte("another secret, also 32 bytes long"), "HS256", claims()), CheckSignature, "signature is invalid")
	mustRefuse(t, v, sign(secret, "HS512", claims()), CheckAlgorithm, "HS512 is not accepted; want HS256")
	mustRefuse(t, v, newRSA(t, "k").sign(t, claims()), CheckAlgorithm, "RS256 is not accepted")

	_, err := New(context.Background(), Config{Secret: []byte("short")})
	if err == nil || !strings.Contains(err.Error(), "at least 32") {
		t.Errorf("New with a 5-byte secret: %v, want an error saying at least 32 bytes", err)
	}
}

// Every refusal names the check that failed.
func TestRefusalsSayWhichCheckFailed(t *testing.T) {
	good, stranger := newRSA(t, "k1"), newEC(t, "k1")
	ec := newEC(t, "ec")
	bare := newEC(t, "bare")
	bare.omitAlg = true
	srv := newJWKSServer(t, jwks(t, good, ec, bare))
	v := newVerifier(t, Config{JWKSURL: srv.URL, Issuer: "https://crm.example.com", Audience: "webhookd", refetchEvery: -1})
	valid := func(edits ...func(jwt.MapClaims)) jwt.MapClaims {
		return claims(append([]func(jwt.MapClaims){set("iss", "https://crm.example.com"), set("aud", "webhookd")}, edits...)...)
	}
	mustVerify(t, v, good.sign(t, valid()))
	mustVerify(t, v, good.sign(t, valid(set("aud", []string{"crm", "webhookd"}))))

	tampered := strings.Split(good.sign(t, valid()), ".")
	other := strings.Split(good.sign(t, valid(set("tenant", "globex"))), ".")
	tampered[1] = other[1]

	rsaPub, err := x509.MarshalPKIXPublicKey(&good.key.(*rsa.PrivateKey).PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pemPub := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: rsaPub})
	hmacWith := func(key []byte) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, valid())
		tok.Header["kid"] = "k1"
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, valid()).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	misfit := ec
	misfit.alg, misfit.key = "RS256", good.key // an RS256 token naming the EC key
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecAsES384 := signer{kid: "ec", alg: "ES384", key: p384}
	rsaAsBare := signer{kid: "bare", alg: "RS256", key: good.key}

	for name, c := range map[string]struct {
		token string
		check Check
		says  string
	}{
		"not a JWT":          {"not-a-token", CheckMalformed, "malformed token"},
		"bad base64":         {"a.b.c", CheckMalformed, "malformed token"},
		"unknown alg":        {b64(`{"alg":"XX512","kid":"k1"}`) + "." + b64(`{"tenant":"acme"}`) + ".c2ln", CheckAlgorithm, "XX512 is not accepted; want RS256"},
		"no alg":             {b64(`{"kid":"k1"}`) + "." + b64(`{"tenant":"acme"}`) + ".c2ln", CheckAlgorithm, "no algorithm"},
		"too long":           {strings.Repeat("a", MaxTokenBytes+1), CheckMalformed, "longer than"},
		"alg none":           {none, CheckAlgorithm, "none is not accepted"},
		"HMAC with the PEM":  {hmacWith(pemPub), CheckAlgorithm, "HS256 is not accepted: tokens signed with a JWKS use"},
		"HMAC with the DER":  {hmacWith(rsaPub), CheckAlgorithm, "never HMAC"},
		"unknown kid":        {newEd(t, "k9").sign(t, valid()), CheckKey, `key id (kid) "k9" is not a trusted key`},
		"kid not a string":   {signWithHeader(t, good, "kid", 7, valid()), CheckMalformed, "kid"},
		"key of another alg": {misfit.sign(t, valid()), CheckAlgorithm, `does not match trusted key "ec", which is for ES256`},
		"key of another kty": {rsaAsBare.sign(t, valid()), CheckAlgorithm, `RS256 does not match trusted key "bare", whose type is EC`},
		"alg the key is not": {ecAsES384.sign(t, valid()), CheckAlgorithm, "ES384 does not match"},
		"other key, same id": {signer{kid: "k1", alg: "RS256", key: rsaKey2}.sign(t, valid()), CheckSignature, "signature is invalid"},
		"same id, other alg": {stranger.sign(t, valid()), CheckAlgorithm, "ES256 does not match"},
		"tampered claims":    {strings.Join(tampered, "."), CheckSignature, "signature is invalid"},
		"expired":            {good.sign(t, valid(set("exp", now.Add(-time.Hour).Unix()))), CheckExpiry, "token expired at 2026-12-01T08:00:00Z"},
		"no exp":             {good.sign(t, valid(drop("exp"))), CheckExpiry, "no expiry"},
		"exp not a number":   {good.sign(t, valid(set("exp", "tomorrow"))), CheckMalformed, "exp"},
		"not yet valid":      {good.sign(t, valid(set("nbf", now.Add(time.Hour).Unix()))), CheckExpiry, "not valid before"},
		"wrong issuer":       {good.sign(t, valid(set("iss", "https://evil.example.com"))), CheckIssuer, "is not the trusted issuer"},
		"no issuer":          {good.sign(t, valid(drop("iss"))), CheckIssuer, "no issuer"},
		"wrong audience":     {good.sign(t, valid(set("aud", "someone-else"))), CheckAudience, `"someone-else" does not include the trusted audience "webhookd"`},
		"no audience":        {good.sign(t, valid(drop("aud"))), CheckAudience, `no audience (aud claim); want the trusted audience "webhookd"`},
		"no tenant":          {good.sign(t, valid(drop("tenant"))), CheckTenant, `token has no "tenant" claim`},
		"null tenant":        {good.sign(t, valid(set("tenant", nil))), CheckTenant, `token has no "tenant" claim`},
		"numeric tenant":     {good.sign(t, valid(set("tenant", 42))), CheckTenant, `claim "tenant" (the tenant) is not a string`},
		"empty tenant":       {good.sign(t, valid(set("tenant", ""))), CheckTenant, "not a valid tenant id"},
		"tenant with space":  {good.sign(t, valid(set("tenant", "acme corp"))), CheckTenant, "not a valid tenant id"},
		"tenant too long":    {good.sign(t, valid(set("tenant", strings.Repeat("a", 129)))), CheckTenant, "not a valid tenant id"},
		"tenant leading dot": {good.sign(t, valid(set("tenant", ".acme"))), CheckTenant, "starting with a letter or digit"},
		"no subject":         {good.sign(t, valid(drop("sub"))), CheckSubject, `token has no "sub" claim`},
		"empty subject":      {good.sign(t, valid(set("sub", ""))), CheckSubject, "not a valid member"},
		"subject with NUL":   {good.sign(t, valid(set("sub", "a\x00b"))), CheckSubject, "no control characters"},
		"subject too long":   {good.sign(t, valid(set("sub", strings.Repeat("é", MaxSubjectLen+1)))), CheckSubject, "1 to 256 characters"},
	} {
		t.Run(name, func(t *testing.T) { mustRefuse(t, v, c.token, c.check, c.says) })
	}
	// The longest tenant and subject allowed pass.
	mustVerify(t, v, good.sign(t, valid(set("tenant", "A"+strings.Repeat("a._:-", 25)+"zz"), set("sub", strings.Repeat("é", MaxSubjectLen)))))
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func signWithHeader(t testing.TB, s signer, name string, value any, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.GetSigningMethod(s.alg), c)
	tok.Header[name] = value
	str, err := tok.SignedString(s.key)
	if err != nil {
		t.Fatal(err)
	}
	return str
}

// Issuer and audience are checked only when configured: without them a
// token with any iss and aud, or none, is accepted.
func TestIssuerAndAudienceOnlyWhenSet(t *testing.T) {
	k := newEd(t, "k")
	srv := newJWKSServer(t, jwks(t, k))
	v := newVerifier(t, Config{JWKSURL: srv.URL})
	mustVerify(t, v, k.sign(t, claims()))
	mustVerify(t, v, k.sign(t, claims(set("iss", "anyone"), set("aud", "anything"))))

	issuerOnly := newVerifier(t, Config{JWKSURL: srv.URL, Issuer: "crm"})
	mustVerify(t, issuerOnly, k.sign(t, claims(set("iss", "crm"))))
	mustRefuse(t, issuerOnly, k.sign(t, claims(set("iss", "other"))), CheckIssuer, "issuer")

	audienceOnly := newVerifier(t, Config{JWKSURL: srv.URL, Audience: "webhookd"})
	mustVerify(t, audienceOnly, k.sign(t, claims(set("aud", "webhookd"))))
	mustRefuse(t, audienceOnly, k.sign(t, claims(set("aud", "other"))), CheckAudience, "audience")
}

// The tenant and subject claims can be renamed, to a namespaced claim
// such as identity providers use for custom claims; a token without them,
// or with a tenant that is not a string, is refused naming the claim.
func TestCustomClaimNames(t *testing.T) {
	k := newEC(t, "k")
	path := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(path, jwks(t, k), 0o600); err != nil {
		t.Fatal(err)
	}
	const tenantClaim = "https://crm.example.com/org_id"
	v := newVerifier(t, Config{JWKSFile: path, TenantClaim: tenantClaim, SubjectClaim: "member_id"})
	id := mustVerify(t, v, k.sign(t, claims(set(tenantClaim, "org-7"), set("member_id", "u_42"))))
	if id.Tenant != "org-7" || id.Subject != "u_42" {
		t.Errorf("identity %+v, want tenant org-7 and subject u_42 from the renamed claims", id)
	}
	mustRefuse(t, v, k.sign(t, claims(set("member_id", "u_42"))), CheckTenant, `token has no "`+tenantClaim+`" claim`)
	mustRefuse(t, v, k.sign(t, claims(set(tenantClaim, map[string]any{"id": "org-7"}), set("member_id", "u_42"))), CheckTenant, "is not a string")
	mustRefuse(t, v, k.sign(t, claims(set(tenantClaim, "org-7"))), CheckSubject, `token has no "member_id" claim`)
	mustRefuse(t, v, k.sign(t, claims(set(tenantClaim, "org-7"), set("member_id", 42))), CheckSubject, `"member_id" (the member) is not a string`)
}

// New fails, saying why, when the key source is missing, doubled,
// unreachable or not a usable key set.
func TestNewFailsClearly(t *testing.T) {
	k := newEC(t, "k")
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close()
	status := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "nope", http.StatusInternalServerError)
	}))
	t.Cleanup(status.Close)
	garbage := newJWKSServer(t, []byte(`<html>not json</html>`))
	symmetric := newJWKSServer(t, []byte(`{"keys":[{"kty":"oct","kid":"s","k":"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA"}]}`))
	huge := newJWKSServer(t, []byte(`{"keys":[`+strings.Repeat(" ", maxJWKSBytes)+`]}`))
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.json")
	if err := os.WriteFile(empty, []byte(`{"keys":[]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		cfg  Config
		says string
	}{
		"no source":       {Config{}, "exactly one key source"},
		"two sources":     {Config{Secret: make([]byte, 32), JWKSFile: empty}, "exactly one key source"},
		"not a URL":       {Config{JWKSURL: "ftp://keys.example.com/jwks"}, "want an http or https URL"},
		"unreachable":     {Config{JWKSURL: downURL}, "fetch the JWKS at " + downURL},
		"500":             {Config{JWKSURL: status.URL}, "500"},
		"not JSON":        {Config{JWKSURL: garbage.URL}, "fetch the JWKS"},
		"only symmetric":  {Config{JWKSURL: symmetric.URL}, "no RSA, EC or Ed25519 signing key"},
		"too large":       {Config{JWKSURL: huge.URL}, "fetch the JWKS"},
		"missing file":    {Config{JWKSFile: filepath.Join(dir, "missing.json")}, "missing.json"},
		"empty file":      {Config{JWKSFile: empty}, "no RSA, EC or Ed25519 signing key"},
		"file not a JWKS": {Config{JWKSFile: writeFile(t, dir, "bad.json", "[1,2]")}, "not a JSON Web Key Set"},
	} {
		t.Run(name, func(t *testing.T) {
			v, err := New(context.Background(), c.cfg)
			if err == nil {
				v.Close()
				t.Fatalf("New: nil error, want one saying %q", c.says)
			}
			if !strings.Contains(err.Error(), c.says) {
				t.Errorf("New: %v, want it to say %q", err, c.says)
			}
			// One line, naming the URL once: no chain of wrappers that
			// repeat it, nor the joined sentinel on a line of its own.
			if msg := err.Error(); strings.Contains(msg, "\n") || c.cfg.JWKSURL != "" && strings.Count(msg, c.cfg.JWKSURL) > 1 ||
				strings.Contains(msg, "failed to create new JWK Set client") {
				t.Errorf("New: %q, want one line naming the URL once", msg)
			}
		})
	}
	// A JWKS that also holds a symmetric key is fine, but the key is never
	// used: HS256 stays refused.
	mixed := newJWKSServer(t, []byte(`{"keys":[{"kty":"oct","kid":"s","k":"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA"},`+
		strings.TrimSuffix(strings.TrimPrefix(string(jwks(t, k)), `{"keys":[`), "]}")+`]}`))
	v := newVerifier(t, Config{JWKSURL: mixed.URL})
	mustVerify(t, v, k.sign(t, claims()))
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims())
	tok.Header["kid"] = "s"
	hs, err := tok.SignedString([]byte("secret-secret-secret-secret-secret"))
	if err != nil {
		t.Fatal(err)
	}
	mustRefuse(t, v, hs, CheckAlgorithm, "never HMAC")
}

func writeFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// The verifier is safe for concurrent use while keys rotate under it.
func TestConcurrentVerifyDuringRotation(t *testing.T) {
	old, next := newEC(t, "old"), newEC(t, "next")
	srv := newJWKSServer(t, jwks(t, old))
	v := newVerifier(t, Config{JWKSURL: srv.URL, refetchEvery: -1})
	oldTok := old.sign(t, claims())
	srv.serve(jwks(t, old, next))
	nextTok := next.sign(t, claims())
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 20 {
				if _, err := v.Verify(oldTok); err != nil {
					t.Errorf("old key: %v", err)
				}
				if _, err := v.Verify(nextTok); err != nil {
					t.Errorf("next key: %v", err)
				}
			}
		})
	}
	wg.Wait()
}

// BenchmarkVerify is the cost of one Verify per algorithm, keys cached:
// what a trusted token adds to a request.
func BenchmarkVerify(b *testing.B) {
	signers := []signer{newRSA(b, "rsa"), newEC(b, "ec"), newEd(b, "ed")}
	srv := newJWKSServer(b, jwks(b, signers...))
	v := newVerifier(b, Config{JWKSURL: srv.URL})
	for _, s := range signers {
		token := s.sign(b, claims())
		b.Run(s.alg, func(b *testing.B) {
			for b.Loop() {
				if _, err := v.Verify(token); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	secret := []byte("a shared secret of at least 32 bytes")
	hs := newVerifier(b, Config{Secret: secret})
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims()).SignedString(secret)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("HS256", func(b *testing.B) {
		for b.Loop() {
			if _, err := hs.Verify(token); err != nil {
				b.Fatal(err)
			}
		}
	})
}
