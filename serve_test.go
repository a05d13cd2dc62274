package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/webhookd/webhookd/trust"
)

// Each bad serve flag is refused by validate with an error that names it
// (issue 14 item 1), before anything listens or opens a database.
func TestServeConfigValidateNamesTheFlag(t *testing.T) {
	for _, c := range []struct {
		args []string
		says string
	}{
		{[]string{"--log-level", "loud"}, "--log-level"},
		{[]string{"--log-format", "xml"}, "--log-format"},
		{[]string{"--retry-schedule", "soon"}, "--retry-schedule"},
		{[]string{"--event-types", "NOT A TYPE"}, "--event-types"},
		{[]string{"--delivery-timeout", "0s"}, "--delivery-timeout"},
		{[]string{"--token-ttl", "-1h"}, "--token-ttl"},
		{[]string{"--workers", "0"}, "--workers"},
		{[]string{"--max-in-flight-per-webhook", "0"}, "--max-in-flight-per-webhook"},
		{[]string{"--shutdown-grace", "-1s"}, "--shutdown-grace"},
		{[]string{"--max-in-flight-per-owner", "-1"}, "--max-in-flight-per-owner"},
		{[]string{"--lease-duration", "-1s"}, "--lease-duration"},
		{[]string{"--secret-grace", "-1s"}, "--secret-grace"},
		{[]string{"--disable-after", "-1h"}, "--disable-after"},
		{[]string{"--retention", "-1h"}, "--retention"},
		{[]string{"--login-window", "0s"}, "--login-window"},
		{[]string{"--login-max-failures", "-1"}, "--login-max-failures"},
		{[]string{"--disable-min-failures", "-1"}, "--disable-min-failures"},
		{[]string{"--max-password-checks", "-1"}, "--max-password-checks"},
		{[]string{"--max-webhooks-per-owner", "-1"}, "--max-webhooks-per-owner"},
		{[]string{"--max-deliveries-per-request", "-1"}, "--max-deliveries-per-request"},
		{[]string{"--write-timeout", "0s"}, "--write-timeout"},
		{[]string{"--max-connections", "0"}, "--max-connections"},
		{[]string{"--max-streams", "0"}, "--max-streams"},
		{[]string{"--max-streams-per-user", "0"}, "--max-streams-per-user"},
		{[]string{"--wal-limit", "1KiB"}, "--wal-limit"},
		{[]string{"--lease-duration", "10s", "--delivery-timeout", "10s"}, "--lease-duration"},
		// Issue 15: the CRM's own tokens.
		{[]string{"--trusted-jwt-secret", trustedSecret, "--trusted-jwks-url", "https://crm.example.com/jwks"}, "set at most one"},
		{[]string{"--trusted-jwks-url", "https://crm.example.com/jwks", "--trusted-jwks-file", "jwks.json"}, "--trusted-jwks-file: set at most one"},
		{[]string{"--trusted-jwt-secret", "too short"}, "--trusted-jwt-secret is 9 bytes: it must be at least 32"},
		{[]string{"--trusted-jwt-secret", trustedSecret, "--jwt-secret", trustedSecret}, "--trusted-jwt-secret must differ from --jwt-secret"},
		{[]string{"--trusted-jwks-url", "crm.example.com/jwks"}, "--trusted-jwks-url"},
		{[]string{"--trusted-jwt-issuer", "https://crm.example.com"}, "--trusted-jwt-issuer needs a key source"},
		{[]string{"--trusted-jwt-audience", "webhookd"}, "--trusted-jwt-audience needs a key source"},
		{[]string{"--trusted-tenant-claim", "org_id"}, "--trusted-tenant-claim needs a key source"},
		{[]string{"--trusted-subject-claim", "uid"}, "--trusted-subject-claim needs a key source"},
		{[]string{"--trusted-jwks-file", "jwks.json", "--trusted-tenant-claim", ""}, "--trusted-tenant-claim must not be empty"},
		{[]string{"--trusted-jwks-file", "jwks.json", "--trusted-subject-claim", ""}, "--trusted-subject-claim must not be empty"},
		{[]string{"--portal-frame-ancestors", "crm.example.com"}, "--portal-frame-ancestors"},
		// Issue 17: the outbox is PostgreSQL's.
		{[]string{"--outbox"}, "--outbox needs PostgreSQL"},
		{[]string{"--db", "sqlite:w.db", "--outbox"}, "--outbox needs PostgreSQL"},
		{[]string{"--outbox-owner", "acme"}, "--outbox-owner needs --outbox"},
		{[]string{"--db", "postgres://localhost/crm", "--outbox", "--outbox-owner", "not a tenant"}, "--outbox-owner \"not a tenant\""},
	} {
		fs, cfg := serveFlags()
		if err := fs.parse(c.args, func(string) string { return "" }); err != nil {
			t.Fatalf("parse %v: %v", c.args, err)
		}
		if err := cfg.validate(); err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("validate with %v: %v, want an error naming %s", c.args, err, c.says)
		}
	}
	_, cfg := serveFlags()
	if err := cfg.validate(); err != nil {
		t.Fatalf("validate with the defaults: %v", err)
	}
	if cfg.maxPasswordChecks < 2 {
		t.Errorf("--max-password-checks 0 resolved to %d, want twice GOMAXPROCS", cfg.maxPasswordChecks)
	}
}

const trustedSecret = "a secret the CRM signs its tokens with"

// The --trusted-* flags and their variables become the trust.Config the
// app builds its verifier from; without a key source trusted tokens are
// off.
func TestServeTrustedFlags(t *testing.T) {
	_, cfg := serveFlags()
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	if _, ok := cfg.trustConfig(); ok {
		t.Error("trusted tokens on with the defaults, want off")
	}
	fs, cfg := serveFlags()
	env := map[string]string{
		"WEBHOOKD_TRUSTED_JWKS_URL":      "https://crm.example.com/.well-known/jwks.json",
		"WEBHOOKD_TRUSTED_JWT_ISSUER":    "https://crm.example.com",
		"WEBHOOKD_TRUSTED_JWT_AUDIENCE":  "webhookd",
		"WEBHOOKD_TRUSTED_TENANT_CLAIM":  "org_id",
		"WEBHOOKD_TRUSTED_SUBJECT_CLAIM": "uid",
	}
	if err := fs.parse([]string{"--trusted-jwt-audience", "sidecar"}, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if err := cfg.validate(); err != nil {
		t.Fatalf("validate: %v", err)
	}
	got, ok := cfg.trustConfig()
	want := trust.Config{JWKSURL: env["WEBHOOKD_TRUSTED_JWKS_URL"], Issuer: "https://crm.example.com", Audience: "sidecar", TenantClaim: "org_id", SubjectClaim: "uid"}
	if !ok || got.JWKSURL != want.JWKSURL || got.Issuer != want.Issuer || got.Audience != want.Audience ||
		got.TenantClaim != want.TenantClaim || got.SubjectClaim != want.SubjectClaim || got.Secret != nil || got.JWKSFile != "" {
		t.Errorf("trustConfig = %+v, %v; want %+v (the flag wins over its variable)", got, ok, want)
	}
	fs, cfg = serveFlags()
	if err := fs.parse(nil, func(k string) string {
		return map[string]string{"WEBHOOKD_TRUSTED_JWT_SECRET": trustedSecret, "WEBHOOKD_TRUSTED_JWKS_FILE": ""}[k]
	}); err != nil {
		t.Fatal(err)
	}
	if err := cfg.validate(); err != nil {
		t.Fatalf("validate: %v", err)
	}
	if got, ok := cfg.trustConfig(); !ok || string(got.Secret) != trustedSecret || got.TenantClaim != "tenant" || got.SubjectClaim != "sub" {
		t.Errorf("trustConfig from WEBHOOKD_TRUSTED_JWT_SECRET = %+v, %v; want the secret and the default claims", got, ok)
	}
}

// serve refuses to start, naming the file, when --trusted-jwks-file is not
// a usable key set: a wrong key source is found at start, not by every
// request answering 401.
func TestServeRefusesAnUnusableTrustedKeySource(t *testing.T) {
	dir := t.TempDir()
	jwks := filepath.Join(dir, "jwks.json")
	if err := os.WriteFile(jwks, []byte(`{"keys":[]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"WEBHOOKD_ADMIN_EMAIL": "admin@example.com", "WEBHOOKD_ADMIN_PASSWORD": "a long admin password"}
	for _, args := range [][]string{{"--trusted-jwks-file", jwks}, {"--trusted-jwks-file", filepath.Join(dir, "missing.json")}} {
		err := run(context.Background(), append([]string{"serve", "--addr", "127.0.0.1:0", "--db", filepath.Join(dir, "webhookd.db")}, args...),
			func(k string) string { return env[k] }, strings.NewReader(""), io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), args[0]) || !strings.Contains(err.Error(), args[1]) {
			t.Errorf("serve %v: %v, want an error naming %s and the file", args, err, args[0])
		}
	}
}

// TestServeUnreachableJWKSURL: a --trusted-jwks-url that cannot be
// fetched stops serve with one line naming the flag and the URL, before
// it touches the database: nothing migrated, no first user made, no
// password printed for a server that never ran.
func TestServeUnreachableJWKSURL(t *testing.T) {
	down := httptest.NewServer(http.NotFoundHandler())
	jwksURL := down.URL + "/.well-known/jwks.json"
	down.Close()
	db := filepath.Join(t.TempDir(), "webhookd.db")
	var stdout, stderr strings.Builder
	err := run(context.Background(), []string{"serve", "--addr", "127.0.0.1:0", "--db", db, "--trusted-jwks-url", jwksURL},
		func(string) string { return "" }, strings.NewReader(""), &stdout, &stderr)
	if err == nil {
		t.Fatal("serve with an unreachable JWKS URL: nil error")
	}
	msg := err.Error()
	if !strings.Contains(msg, "--trusted-jwks-url") || strings.Count(msg, jwksURL) != 1 || strings.Contains(msg, "\n") {
		t.Errorf("serve: %q, want one line naming --trusted-jwks-url and the URL once", msg)
	}
	if strings.Contains(stdout.String(), "password") {
		t.Errorf("serve printed a password before failing:\n%s", stdout.String())
	}
	if strings.Contains(stderr.String(), "applied migrations") {
		t.Errorf("serve migrated before failing:\n%s", stderr.String())
	}
	if _, err := os.Stat(db); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the database %s exists after the failed start (%v), want it untouched", db, err)
	}
}

// --portal-frame-ancestors (and its variable) takes http(s) origins and
// nothing more: each bad one is refused naming the flag and the origin,
// and good ones come out normalized for the CSP.
func TestServePortalFrameAncestors(t *testing.T) {
	for _, c := range []struct {
		value string
		want  []string
	}{
		{"", nil},
		{" , ", nil},
		{"https://crm.example.com", []string{"https://crm.example.com"}},
		{"HTTPS://CRM.Example.com:8443, http://127.0.0.1:8080,https://crm.example.com:8443", []string{"https://crm.example.com:8443", "http://127.0.0.1:8080"}},
		{"http://[::1]:3000,http://localhost", []string{"http://[::1]:3000", "http://localhost"}},
	} {
		fs, cfg := serveFlags()
		if err := fs.parse(nil, func(k string) string {
			if k == "WEBHOOKD_PORTAL_FRAME_ANCESTORS" {
				return c.value
			}
			return ""
		}); err != nil {
			t.Fatal(err)
		}
		if err := cfg.validate(); err != nil {
			t.Errorf("WEBHOOKD_PORTAL_FRAME_ANCESTORS=%q: %v", c.value, err)
			continue
		}
		if !slices.Equal(cfg.frameAncestors, c.want) {
			t.Errorf("WEBHOOKD_PORTAL_FRAME_ANCESTORS=%q: origins %q, want %q", c.value, cfg.frameAncestors, c.want)
		}
	}
	for _, bad := range []string{
		"crm.example.com",                    // no scheme
		"ftp://crm.example.com",              // not http(s)
		"https://crm.example.com/",           // a path, even "/"
		"https://crm.example.com/app",        // a path
		"https://crm.example.com?x=1",        // a query
		"https://crm.example.com#top",        // a fragment
		"https://user@crm.example.com",       // a user
		"https://*.example.com",              // a wildcard
		"*",                                  // a wildcard
		"'self'",                             // a CSP keyword
		"https://crm.example.com;script-src", // CSP injection
		"https://crm.example.com 'unsafe-inline'",
		"https://crm.example.com:0",
		"https://crm.example.com:65536",
		"https://crm.example.com:080",
		"https://crm.example.com:",
		"https://-crm.example.com",
		"https://crm..example.com",
		"https://",
		"http://[::1",
		"http://[1.2.3.4]",
		"https://good.example.com,https://bad.example.com/path",
	} {
		fs, cfg := serveFlags()
		if err := fs.parse([]string{"--portal-frame-ancestors", bad}, func(string) string { return "" }); err != nil {
			t.Fatal(err)
		}
		err := cfg.validate()
		if err == nil || !strings.Contains(err.Error(), "--portal-frame-ancestors") {
			t.Errorf("--portal-frame-ancestors %q: %v, want an error naming the flag", bad, err)
		}
	}
}

// serve --addr 127.0.0.1:0 logs the address it is bound to, not the one it
// was asked for, so that a harness can start it on a port the kernel picks
// and read where to connect (issue 14 item 2 relies on it).
func TestServeLogsTheBoundAddress(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logR, logW := io.Pipe()
	db := filepath.Join(t.TempDir(), "webhookd.db")
	env := map[string]string{"WEBHOOKD_ADMIN_EMAIL": "admin@example.com", "WEBHOOKD_ADMIN_PASSWORD": "a long admin password"}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--db", db}, func(k string) string { return env[k] },
			strings.NewReader(""), io.Discard, logW)
		logW.Close()
	}()
	var addr string
	lines := bufio.NewScanner(logR)
	for addr == "" && lines.Scan() {
		if line := lines.Text(); strings.Contains(line, `msg="webhookd listening"`) {
			for _, field := range strings.Fields(line) {
				if a, ok := strings.CutPrefix(field, "addr="); ok {
					addr = a
				}
			}
		}
	}
	go io.Copy(io.Discard, logR) // the rest of the log, so serve never blocks writing it
	if addr == "" {
		t.Fatalf("serve logged no \"webhookd listening\" line with an addr; it returned %v", <-done)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host != "127.0.0.1" || port == "0" || port == "" {
		t.Fatalf("webhookd listening addr=%s, want 127.0.0.1 and the port the kernel picked", addr)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatalf("GET /healthz at the logged address: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz at the logged address: %s, want 200", resp.Status)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serve after its context ended: %v, want nil", err)
	}
}

// --event-catalog (and WEBHOOKD_EVENT_CATALOG) loads a catalogue file
// merged with the defaults and --event-types; a bad file stops serve
// before it listens, on one line naming the flag, the file and the type.
// --validate-events (WEBHOOKD_VALIDATE_EVENTS) is on unless turned off.
func TestServeEventCatalog(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "catalog.json")
	if err := os.WriteFile(good, []byte(`{"types": {"order.paid": {"description": "An order was paid.",
		"schema": {"type": "object", "required": ["orderId"]}, "examples": [{"orderId": "o_1"}]}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"types": {"order.paid": {"schema": {"type": "object", "required": ["orderId"]}, "examples": [{"id": 1}]}}}`), 0o600); err != nil {
		t.Fatal(err)
	}

	fs, cfg := serveFlags()
	env := map[string]string{"WEBHOOKD_EVENT_CATALOG": good, "WEBHOOKD_EVENT_TYPES": "custom.thing"}
	if err := fs.parse(nil, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if err := cfg.validate(); err != nil {
		t.Fatalf("validate: %v", err)
	}
	if !cfg.validateEvents {
		t.Error("--validate-events is off by default, want on")
	}
	types := cfg.catalog.Types()
	if n := len(types); n < 2 || types[n-2] != "order.paid" || types[n-1] != "custom.thing" {
		t.Errorf("catalogue %v, want the defaults, order.paid, custom.thing", types)
	}
	if vs := cfg.catalog.ValidateData("order.paid", []byte(`{}`)); len(vs) != 1 {
		t.Errorf("order.paid {}: %v, want one violation", vs)
	}
	for _, off := range []struct {
		args []string
		env  string
	}{{[]string{"--validate-events=false"}, ""}, {nil, "false"}} {
		fs, cfg := serveFlags()
		if err := fs.parse(off.args, func(k string) string {
			if k == "WEBHOOKD_VALIDATE_EVENTS" {
				return off.env
			}
			return ""
		}); err != nil {
			t.Fatal(err)
		}
		if cfg.validateEvents {
			t.Errorf("args %v, WEBHOOKD_VALIDATE_EVENTS=%q: validation on, want off", off.args, off.env)
		}
	}

	admin := map[string]string{"WEBHOOKD_ADMIN_EMAIL": "admin@example.com", "WEBHOOKD_ADMIN_PASSWORD": "a long admin password"}
	for _, file := range []string{bad, filepath.Join(dir, "missing.json")} {
		err := run(context.Background(), []string{"serve", "--addr", "127.0.0.1:0", "--db", filepath.Join(dir, "webhookd.db"), "--event-catalog", file},
			func(k string) string { return admin[k] }, strings.NewReader(""), io.Discard, io.Discard)
		if err == nil || !strings.HasPrefix(err.Error(), "--event-catalog "+file+": ") || strings.Contains(err.Error(), "\n") {
			t.Errorf("serve --event-catalog %s: %v, want one line naming the flag and the file", file, err)
		}
		if file == bad && (err == nil || !strings.Contains(err.Error(), `type "order.paid": examples[0] does not match the schema: /orderId: is required`)) {
			t.Errorf("serve --event-catalog %s: %v, want the type and the example named", file, err)
		}
	}
}
