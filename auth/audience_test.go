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
	portal, _, err := tokens.IssuePortal("acme", false, time.Minute)
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
