package auth

import (
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"
)

// TestDummyHashCost checks that the hash an unknown email is compared
// against, made on first use rather than at init, costs what a real
// password's does, so both refusals take as long.
func TestDummyHashCost(t *testing.T) {
	cost, err := bcrypt.Cost(dummyHash())
	if err != nil {
		t.Fatalf("dummy hash: %v", err)
	}
	if cost != bcryptCost {
		t.Errorf("dummy hash cost %d, want %d", cost, bcryptCost)
	}
}

func TestPasswords(t *testing.T) {
	h, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !CheckPassword(h, "correct horse battery") {
		t.Error("right password refused")
	}
	if CheckPassword(h, "wrong horse battery") {
		t.Error("wrong password accepted")
	}
	if CheckPassword("", "anything") {
		t.Error("empty hash (unknown user) accepted")
	}
	if _, err := HashPassword(strings.Repeat("x", 73)); err == nil {
		t.Error("password over bcrypt's 72 bytes accepted")
	}
}

func TestTokens(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	tokens, err := NewTokens(secret, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	good, err := tokens.Issue("user-1", 3)
	if err != nil {
		t.Fatal(err)
	}
	if sub, ver, err := tokens.Verify(good); err != nil || sub != "user-1" || ver != 3 {
		t.Fatalf("Verify(issued) = %q, %d, %v; want user-1, 3", sub, ver, err)
	}
	now := time.Now()
	sign := func(method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(method, claims).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	valid := func() jwt.MapClaims {
		return jwt.MapClaims{"iss": Issuer, "sub": "user-1", "exp": now.Add(time.Hour).Unix(), "ver": 0}
	}
	with := func(k string, v any) jwt.MapClaims { c := valid(); c[k] = v; return c }
	without := func(k string) jwt.MapClaims { c := valid(); delete(c, k); return c }
	if _, _, err := tokens.Verify(sign(jwt.SigningMethodHS256, secret, valid())); err != nil {
		t.Fatalf("a hand-made valid token was refused: %v", err)
	}
	bad := map[string]string{
		"alg none":       sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, valid()),
		"HS512":          sign(jwt.SigningMethodHS512, secret, valid()),
		"other secret":   sign(jwt.SigningMethodHS256, []byte("another-secret-of-32-bytes-long!"), valid()),
		"no exp":         sign(jwt.SigningMethodHS256, secret, without("exp")),
		"expired":        sign(jwt.SigningMethodHS256, secret, with("exp", now.Add(-time.Minute).Unix())),
		"future nbf":     sign(jwt.SigningMethodHS256, secret, with("nbf", now.Add(time.Hour).Unix())),
		"wrong iss":      sign(jwt.SigningMethodHS256, secret, with("iss", "someone-else")),
		"no sub":         sign(jwt.SigningMethodHS256, secret, without("sub")),
		"no ver":         sign(jwt.SigningMethodHS256, secret, without("ver")),
		"garbage":        "not.a.token",
		"empty":          "",
		"truncated":      good[:len(good)-3],
		"tampered claim": strings.Replace(good, good[strings.Index(good, ".")+1:strings.Index(good, ".")+5], "eyJz", 1),
	}
	for name, tok := range bad {
		if sub, _, err := tokens.Verify(tok); err == nil {
			t.Errorf("%s: Verify accepted it (sub %q)", name, sub)
		}
	}
	if _, err := NewTokens([]byte("short"), time.Hour); err == nil {
		t.Error("a 5-byte secret was accepted")
	}
}

// TestVerifiedTokensKeepTheirWindow checks that a token Verify remembers
// is still refused before its nbf and from its exp on, exactly as a fresh
// parse would refuse it.
func TestVerifiedTokensKeepTheirWindow(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	issued := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	clock := issued
	cached, err := NewTokens(secret, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cached.now = func() time.Time { return clock }
	tok, err := cached.Issue("user-1", 7)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := cached.Verify(tok); err != nil {
		t.Fatalf("Verify(fresh token) = %v", err)
	}
	if len(cached.verified) != 1 {
		t.Fatalf("Verify remembered %d tokens, want 1", len(cached.verified))
	}
	for at := issued.Add(-2 * time.Second); !at.After(issued.Add(time.Hour + 2*time.Second)); at = at.Add(250 * time.Millisecond) {
		// A new Tokens has nothing cached: its verdict is jwt's own.
		fresh, err := NewTokens(secret, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		fresh.now = func() time.Time { return at }
		clock = at
		_, _, wantErr := fresh.Verify(tok)
		sub, ver, gotErr := cached.Verify(tok)
		if (gotErr == nil) != (wantErr == nil) {
			t.Errorf("at issue%+v: remembered token gives %v, a fresh parse gives %v", at.Sub(issued), gotErr, wantErr)
		}
		if gotErr == nil && (sub != "user-1" || ver != 7) {
			t.Errorf("at issue%+v: remembered token = %q, %d; want user-1, 7", at.Sub(issued), sub, ver)
		}
		if at.Equal(issued.Add(30*time.Minute)) && gotErr != nil {
			t.Errorf("mid-life token refused: %v", gotErr)
		}
	}
	clock = issued.Add(time.Hour)
	if _, _, err := cached.Verify(tok); err == nil {
		t.Error("a remembered token was accepted at its exp")
	}
}

func TestAPIKeys(t *testing.T) {
	key, hash, prefix, err := NewAPIKey()
	if err != nil {
		t.Fatal(err)
	}
	if !IsAPIKey(key) || !strings.HasPrefix(key, prefix) || HashAPIKey(key) != hash {
		t.Errorf("key %q, prefix %q, hash %q do not agree", key, prefix, hash)
	}
	if strings.Contains(hash, key) || len(key) < 40 {
		t.Errorf("key %q too short or stored in the clear", key)
	}
	other, _, _, _ := NewAPIKey()
	if other == key {
		t.Error("two keys are equal")
	}
	if s := NewWebhookSecret(); !strings.HasPrefix(s, "whsec_") || len(s) != len("whsec_")+44 {
		t.Errorf("webhook secret %q is not whsec_ + base64 of 32 bytes", s)
	}
}
