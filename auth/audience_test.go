package auth

import (
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// An access token has no audience: a token that names one (a portal
// session's, or any other kind signed with the same secret later) is
// never a user's access token, whatever else it carries; nor is an access
// token ever a portal session.
func TestAccessTokensAndPortalSessionsDoNotMix(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	tokens, err := NewTokens(secret, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	ver := 0
	for _, aud := range []jwt.ClaimStrings{{portalAudience}, {"anything"}, {"webhookd", portalAudience}} {
		c := claims{RegisteredClaims: jwt.RegisteredClaims{Issuer: Issuer, Subject: "user-1", Audience: aud,
			IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour))}, Version: &ver}
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(secret)
		if err != nil {
			t.Fatal(err)
		}
		if sub, _, err := tokens.Verify(tok); err == nil {
			t.Errorf("Verify(a token for audience %v) = %q, nil; want refused", aud, sub)
		}
	}
	portal, _, err := tokens.IssuePortal("acme", now, false, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := tokens.Verify(portal); err == nil {
		t.Errorf("a portal session's token verified as an access token")
	}
	access, err := tokens.Issue("user-1", 0)
	if err != nil {
		t.Fatal(err)
	}
	if IsPortalToken(access) {
		t.Errorf("an access token is taken for a portal session")
	}
	if _, err := tokens.VerifyPortal(access); err == nil {
		t.Errorf("an access token verified as a portal session")
	}
}

// A portal session carries its tenant's creation time to the millisecond,
// and a token without one (as signed before it was added) is not a
// session: it could not be told from a session of a tenant deleted and
// created again under the same id.
func TestPortalSessionTenantCreated(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	tokens, err := NewTokens(secret, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	created := time.Date(2026, 12, 1, 9, 0, 0, 123456789, time.UTC)
	tok, _, err := tokens.IssuePortal("acme", created, true, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	got, err := tokens.VerifyPortal(tok)
	if err != nil || got.Tenant != "acme" || !got.ReadOnly || !got.TenantCreated.Equal(created.Truncate(time.Millisecond)) {
		t.Errorf("VerifyPortal = %+v, %v; want acme created at %v", got, err, created.Truncate(time.Millisecond))
	}
	if _, _, err := tokens.IssuePortal("acme", time.Time{}, false, time.Minute); err == nil {
		t.Error("IssuePortal without a creation time succeeded")
	}
	now := time.Now()
	old := portalClaims{RegisteredClaims: jwt.RegisteredClaims{Issuer: Issuer, Subject: "portal:acme",
		Audience: jwt.ClaimStrings{portalAudience}, IssuedAt: jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(time.Minute))}, Tenant: "acme"}
	signed, err := jwt.NewWithClaims(jwt.SigningMethodHS256, old).SignedString(secret)
	if err != nil {
		t.Fatal(err)
	}
	if s, err := tokens.VerifyPortal(signed); err != ErrInvalidToken {
		t.Errorf("VerifyPortal(no tenantCreated) = %+v, %v; want ErrInvalidToken", s, err)
	}
}

// Verified, which lets the API skip IsPortalToken's parse, holds only
// access tokens Verify accepted: never a portal session's token, a
// refused one, or one not verified yet.
func TestVerifiedHoldsOnlyAcceptedAccessTokens(t *testing.T) {
	tokens, err := NewTokens([]byte("0123456789abcdef0123456789abcdef"), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	access, err := tokens.Issue("user-1", 0)
	if err != nil {
		t.Fatal(err)
	}
	portal, _, err := tokens.IssuePortal("acme", time.Now(), false, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if tokens.Verified(access) {
		t.Error("an access token not verified yet is Verified")
	}
	if _, _, err := tokens.Verify(access); err != nil {
		t.Fatal(err)
	}
	if !tokens.Verified(access) || IsPortalToken(access) {
		t.Errorf("after Verify: Verified = %v, IsPortalToken = %v; want true, false", tokens.Verified(access), IsPortalToken(access))
	}
	_, _, _ = tokens.Verify(portal)
	_, _, _ = tokens.Verify(access[:len(access)-2] + "xx")
	if tokens.Verified(portal) || tokens.Verified(access[:len(access)-2]+"xx") {
		t.Error("a portal session's or a forged token is Verified")
	}
}

// BenchmarkVerified and BenchmarkIsPortalToken compare the check a
// remembered access token now takes with the unverified parse it took
// before on every request.
func BenchmarkVerified(b *testing.B) {
	tokens, access := benchToken(b)
	for b.Loop() {
		_ = tokens.Verified(access)
	}
}

func BenchmarkIsPortalToken(b *testing.B) {
	_, access := benchToken(b)
	for b.Loop() {
		_ = IsPortalToken(access)
	}
}

func benchToken(b *testing.B) (*Tokens, string) {
	tokens, err := NewTokens([]byte("0123456789abcdef0123456789abcdef"), time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	access, err := tokens.Issue("user-1", 0)
	if err != nil {
		b.Fatal(err)
	}
	if _, _, err := tokens.Verify(access); err != nil {
		b.Fatal(err)
	}
	return tokens, access
}
