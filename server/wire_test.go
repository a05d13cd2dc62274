package server

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/google/uuid"
)

func TestMaskSecret(t *testing.T) {
	tests := []struct {
		secret, want string
	}{
		{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_****LaSw"},
		{"your-webhook-secret", "****cret"},
		{"short-secret", "****cret"},
		{"shortsecret", "****"},
		{"whsec_abcdefghijk", "whsec_****"},
		{"", "****"},
	}
	for _, tt := range tests {
		if got := maskSecret(tt.secret); got != tt.want {
			t.Errorf("maskSecret(%q) = %q, want %q", tt.secret, got, tt.want)
		}
	}
}

func TestCursor(t *testing.T) {
	id := uuid.Must(uuid.NewV7()).String()
	if got, ok := decodeCursor(encodeCursor(id)); !ok || got != id {
		t.Errorf("decodeCursor(encodeCursor(%q)) = %q, %v; want the id back", id, got, ok)
	}
	enc := base64.RawURLEncoding.EncodeToString
	for _, c := range []string{
		"",
		"!!!",
		id,
		enc([]byte(id)),
		enc([]byte("v2:" + id)),
		enc([]byte("v1:" + id + "x")),
		enc([]byte("v1:" + strings.ReplaceAll(id, "-", ""))),
		enc([]byte("v1:{" + id + "}")),
		enc([]byte("v1:urn:uuid:" + id)),
		strings.Repeat("A", 200),
	} {
		if got, ok := decodeCursor(c); ok {
			t.Errorf("decodeCursor(%q) = %q, true; want it refused", c, got)
		}
	}
}

func TestValidateSecret(t *testing.T) {
	key := func(n int) string { return "whsec_" + base64.StdEncoding.EncodeToString(make([]byte, n)) }
	tests := []struct {
		secret string
		ok     bool
	}{
		{"12345678", true},
		{"1234567", false},
		{strings.Repeat("s", 1024), true},
		{strings.Repeat("s", 1025), false},
		{"with space", false},
		{"tab\there!", false},
		{"del\x7fchar!", false},
		{"nul\x00char!", false},
		{key(32), true},
		{key(16), true},
		{key(15), false},
		{"whsec_not*base64*at*all", false},
		{"WHSEC_is-just-a-plain-secret", true},
		{"ünïcödé-secret", true},
	}
	for _, tt := range tests {
		msg := validateSecret(tt.secret)
		if (msg == "") != tt.ok {
			t.Errorf("validateSecret(%q) = %q, want ok %v", tt.secret, msg, tt.ok)
		}
	}
}

func TestValidID(t *testing.T) {
	id := uuid.Must(uuid.NewV7()).String()
	tests := []struct {
		id string
		ok bool
	}{
		{id, true},
		{strings.ToUpper(id), true},
		{"", false},
		{"1", false},
		{strings.ReplaceAll(id, "-", ""), false},
		{"{" + id + "}", false},
		{"urn:uuid:" + id, false},
		{id[:35] + "\xff", false},
		{id[:35] + "g", false},
	}
	for _, tt := range tests {
		if got := validID(tt.id); got != tt.ok {
			t.Errorf("validID(%q) = %v, want %v", tt.id, got, tt.ok)
		}
	}
}
