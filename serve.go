package main

// webhookd serve: its flags, their validation, and runServe, which hands
// a listener to the app (app.go).

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/webhookd/webhookd/catalog"
	"github.com/webhookd/webhookd/delivery"
	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/trust"
)

// runServe is webhookd serve: it reads the configuration, listens on
// --addr and runs the app until ctx ends.
func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs, c := serveFlags()
	if err := parseFlags(fs, args, getenv, stdout); err != nil {
		return err
	}
	if err := c.validate(); err != nil {
		return err
	}
	c.adminEmail, c.adminPassword = strings.TrimSpace(getenv("WEBHOOKD_ADMIN_EMAIL")), getenv("WEBHOOKD_ADMIN_PASSWORD")
	// Listen before anything that needs the port: the inbox exemption of
	// the address guard is for this process's own port only.
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", c.addr, err)
	}
	a, err := newApp(ctx, c, ln, c.newLogger(stderr), stdout)
	if err != nil {
		return err
	}
	return a.Run(ctx)
}

// serveConfig is serve's configuration: its flags, the two variables that
// have no flag, and what validate derives from them.
type serveConfig struct {
	addr, db, jwtSecret, eventTypes, retrySchedule, logFormat, logLevel, metricsAddr string
	eventCatalog                                                                     string
	validateEvents                                                                   bool
	tokenTTL, deliveryTimeout, shutdownGrace, leaseDuration                          time.Duration
	disableAfter, retention, secretGrace, loginWindow, writeTimeout                  time.Duration
	migrate, allowPrivate, requireHTTPS, console, inbox, autoCreateTenants           bool
	outbox                                                                           bool
	outboxOwner                                                                      string
	publicURL, portalFrameAncestors                                                  string
	workers, perWebhook, disableMinFailures, loginMaxFailures                        int
	maxWebhooksPerOwner, maxDeliveriesPerRequest                                     int
	maxConnections, maxStreams, maxStreamsPerUser                                    int
	walLimit                                                                         byteSize

	maxPasswordChecks int // 0: twice GOMAXPROCS
	perOwner          int

	// The CRM's own access tokens, accepted beside webhookd's (issue 15):
	// one key source, the claims to check and the claims to read.
	trustedSecret, trustedJWKSURL, trustedJWKSFile string
	trustedIssuer, trustedAudience                 string
	trustedTenantClaim, trustedSubjectClaim        string

	// WEBHOOKD_ADMIN_EMAIL and WEBHOOKD_ADMIN_PASSWORD, which have no
	// flags, to keep the password out of ps.
	adminEmail, adminPassword string

	// Set by validate from the flags above.
	level          slog.Level
	schedule       delivery.Schedule
	catalog        *catalog.Catalog
	frameAncestors []string // from --portal-frame-ancestors
}

// serveFlags returns serve's flags, bound to a config that holds their
// defaults until they are parsed.
func serveFlags() (*flagSet, *serveConfig) {
	c := &serveConfig{}
	fs := newFlagSet("serve", "Usage: webhookd serve [flags]\n\nRuns the API and the delivery engine.\n\n"+
		"WEBHOOKD_ADMIN_EMAIL and WEBHOOKD_ADMIN_PASSWORD (set both; no flags, to keep the password\n"+
		"out of ps) create that user at start when it does not exist, once per database: deleted\n"+
		"later, it is not created again. On a first start without them webhookd creates\n"+
		"admin@localhost and prints its password once.")
	str := func(p *string, name, env, def, usage string) {
		fs.StringVar(p, name, def, usage)
		fs.bindEnv(name, env)
	}
	dur := func(p *time.Duration, name, env string, def time.Duration, usage string) {
		fs.DurationVar(p, name, def, usage)
		fs.bindEnv(name, env)
	}
	num := func(p *int, name, env string, def int, usage string) {
		fs.IntVar(p, name, def, usage)
		fs.bindEnv(name, env)
	}
	str(&c.addr, "addr", "WEBHOOKD_ADDR", ":3000", "address to listen on")
	dbFlagVar(fs, &c.db)
	str(&c.jwtSecret, "jwt-secret", "WEBHOOKD_JWT_SECRET", "", "HS256 secret for access tokens (unset: generated once and kept in the database)")
	dur(&c.tokenTTL, "token-ttl", "WEBHOOKD_TOKEN_TTL", 24*time.Hour, "lifetime of access tokens")
	fs.BoolVar(&c.migrate, "migrate", true, "apply pending migrations at start (false: refuse to start while any are pending)")
	fs.bindEnv("migrate", "WEBHOOKD_MIGRATE")
	str(&c.eventTypes, "event-types", "WEBHOOKD_EVENT_TYPES", "", "extra event types for the catalogue, comma-separated")
	str(&c.eventCatalog, "event-catalog", "WEBHOOKD_EVENT_CATALOG", "", `a JSON file describing event types, {"types": {"<type>": {"description", "schema", "examples"}}}, merged with the built-in catalogue and --event-types`)
	fs.BoolVar(&c.validateEvents, "validate-events", true, "check each published event's data against its type's JSON Schema, refusing what breaks it with 400 (false: accept any data)")
	fs.bindEnv("validate-events", "WEBHOOKD_VALIDATE_EVENTS")
	dur(&c.deliveryTimeout, "delivery-timeout", "WEBHOOKD_DELIVERY_TIMEOUT", 30*time.Second, "timeout of one delivery attempt")
	str(&c.retrySchedule, "retry-schedule", "WEBHOOKD_RETRY_SCHEDULE", delivery.DefaultSchedule, "waits after each failed attempt, comma-separated")
	dur(&c.shutdownGrace, "shutdown-grace", "WEBHOOKD_SHUTDOWN_GRACE", 10*time.Second, "time in-flight deliveries get to finish on SIGTERM")
	num(&c.workers, "workers", "WEBHOOKD_WORKERS", 256, "deliveries in flight at once, across all webhooks")
	num(&c.perWebhook, "max-in-flight-per-webhook", "WEBHOOKD_MAX_IN_FLIGHT_PER_WEBHOOK", 16, "deliveries in flight at once to one webhook")
	num(&c.perOwner, "max-in-flight-per-owner", "WEBHOOKD_MAX_IN_FLIGHT_PER_OWNER", 0, "deliveries in flight at once to one tenant's webhooks while another tenant's are due; a tenant alone may use all but this many workers (0: --workers/4, at least 1)")
	dur(&c.leaseDuration, "lease-duration", "WEBHOOKD_LEASE_DURATION", 0, "how long a process holds a delivery it is sending before another may take it over; longer than --delivery-timeout (0: twice --delivery-timeout plus 30s)")
	boolean := func(p *bool, name, env string, def bool, usage string) {
		fs.BoolVar(p, name, def, usage)
		fs.bindEnv(name, env)
	}
	boolean(&c.allowPrivate, "allow-private-targets", "WEBHOOKD_ALLOW_PRIVATE_TARGETS", false, "allow webhooks to loopback, private, link-local and other special-purpose addresses")
	boolean(&c.requireHTTPS, "require-https", "WEBHOOKD_REQUIRE_HTTPS", false, "refuse http:// webhook URLs")
	dur(&c.secretGrace, "secret-grace", "WEBHOOKD_SECRET_GRACE", 24*time.Hour, "how long a rotated-out secret keeps signing deliveries beside the new one")
	num(&c.loginMaxFailures, "login-max-failures", "WEBHOOKD_LOGIN_MAX_FAILURES", 10, "failed logins per email or client address that lock it out (0: no limit)")
	dur(&c.loginWindow, "login-window", "WEBHOOKD_LOGIN_WINDOW", 15*time.Minute, "the window failed logins are counted in")
	num(&c.maxPasswordChecks, "max-password-checks", "WEBHOOKD_MAX_PASSWORD_CHECKS", 0, "logins whose password is checked (bcrypt) at once; more are refused with 429 and Retry-After (0: twice GOMAXPROCS)")
	dur(&c.disableAfter, "disable-after", "WEBHOOKD_DISABLE_AFTER", 72*time.Hour, "disable a webhook whose every attempt has failed for this long (0: never)")
	num(&c.disableMinFailures, "disable-min-failures", "WEBHOOKD_DISABLE_MIN_FAILURES", 20, "and that has at least this many consecutive failed attempts")
	dur(&c.retention, "retention", "WEBHOOKD_RETENTION", 720*time.Hour, "delete logs and finished deliveries older than this (0: keep everything)")
	num(&c.maxWebhooksPerOwner, "max-webhooks-per-owner", "WEBHOOKD_MAX_WEBHOOKS_PER_OWNER", 100, "webhooks one tenant may have (0: no limit)")
	num(&c.maxDeliveriesPerRequest, "max-deliveries-per-request", "WEBHOOKD_MAX_DELIVERIES_PER_REQUEST", 100000, "deliveries one publish request may create, its events times their matching webhooks (0: no limit)")
	boolean(&c.console, "console", "WEBHOOKD_CONSOLE", true, "serve the web console at /")
	boolean(&c.inbox, "inbox", "WEBHOOKD_INBOX", true, "serve the development inbox at /inbox/NAME, which webhooks may target on this process's own port without --allow-private-targets")
	dur(&c.writeTimeout, "write-timeout", "WEBHOOKD_WRITE_TIMEOUT", 30*time.Second, "time an answer may take to be written, from its first byte, so a client that stops reading is cut off; event streams get it anew for each event")
	num(&c.maxConnections, "max-connections", "WEBHOOKD_MAX_CONNECTIONS", 10000, "client connections open at once on --addr (and, apart, on --metrics-addr); past it new connections wait until one closes")
	num(&c.maxStreams, "max-streams", "WEBHOOKD_MAX_STREAMS", 1000, "event streams (live logs, live inboxes) open at once; past it new ones answer 429")
	num(&c.maxStreamsPerUser, "max-streams-per-user", "WEBHOOKD_MAX_STREAMS_PER_USER", 10, "event streams one tenant (all its members and keys together) may have open at once; past it new ones answer 429")
	boolean(&c.autoCreateTenants, "auto-create-tenants", "WEBHOOKD_AUTO_CREATE_TENANTS", false, "let a service key publish for a tenant that does not exist yet (named by the body's tenant), creating it; without it that answers 404")
	str(&c.publicURL, "public-url", "WEBHOOKD_PUBLIC_URL", "", "the console's address as browsers reach it, such as https://webhooks.example.com, for portal session URLs (default: the scheme and host the request came to)")
	str(&c.trustedSecret, "trusted-jwt-secret", "WEBHOOKD_TRUSTED_JWT_SECRET", "", "accept the CRM's own access tokens signed HS256 with this secret (at least 32 bytes) on every /api/v1 route: the tenant claim is the tenant, the subject the member")
	str(&c.trustedJWKSURL, "trusted-jwks-url", "WEBHOOKD_TRUSTED_JWKS_URL", "", "accept the CRM's own access tokens signed (RS256, ES256, EdDSA...) by a key of the JWKS at this URL, fetched at start, refreshed every 10m and refetched on an unknown key id at most once a minute")
	str(&c.trustedJWKSFile, "trusted-jwks-file", "WEBHOOKD_TRUSTED_JWKS_FILE", "", "accept the CRM's own access tokens signed by a key of the JWKS in this file, reread on an unknown key id when it has changed")
	str(&c.trustedIssuer, "trusted-jwt-issuer", "WEBHOOKD_TRUSTED_JWT_ISSUER", "", "the iss the CRM's tokens must have (unset: not checked)")
	str(&c.trustedAudience, "trusted-jwt-audience", "WEBHOOKD_TRUSTED_JWT_AUDIENCE", "", "an aud the CRM's tokens must include (unset: not checked)")
	str(&c.trustedTenantClaim, "trusted-tenant-claim", "WEBHOOKD_TRUSTED_TENANT_CLAIM", trust.DefaultTenantClaim, "the claim of the CRM's tokens that names the tenant")
	str(&c.trustedSubjectClaim, "trusted-subject-claim", "WEBHOOKD_TRUSTED_SUBJECT_CLAIM", trust.DefaultSubjectClaim, "the claim of the CRM's tokens that names the member")
	str(&c.portalFrameAncestors, "portal-frame-ancestors", "WEBHOOKD_PORTAL_FRAME_ANCESTORS", "", "origins that may show the console (a tenant's portal) in an iframe, comma-separated, such as https://crm.example.com; sets the console's CSP frame-ancestors to them and drops X-Frame-Options (default: no page may frame it)")
	boolean(&c.outbox, "outbox", "WEBHOOKD_OUTBOX", false, "PostgreSQL only: consume the transactional outbox, turning each row the CRM commits into webhook_outbox into one event")
	str(&c.outboxOwner, "outbox-owner", "WEBHOOKD_OUTBOX_OWNER", "", "with --outbox: the tenant that outbox rows with a NULL tenant belong to, as a tenant id or a user's email (that user's tenant); default: the database's only tenant while it has exactly one")
	str(&c.metricsAddr, "metrics-addr", "WEBHOOKD_METRICS_ADDR", "", "serve /metrics on this address instead of --addr")
	str(&c.logFormat, "log-format", "WEBHOOKD_LOG_FORMAT", "text", "log format: text or json")
	str(&c.logLevel, "log-level", "WEBHOOKD_LOG_LEVEL", "info", "log level: debug, info, warn or error")
	c.walLimit = store.DefaultWALLimit
	fs.Var(&c.walLimit, "wal-limit", "SQLite: the most the write-ahead log (webhookd.db-wal) may grow to, such as 64MiB; it is checkpointed and started over halfway there")
	fs.bindEnv("wal-limit", "WEBHOOKD_WAL_LIMIT")
	return fs, c
}

// validate checks the flags, naming the bad ones, and sets what derives
// from them: the log level, the retry schedule, the event catalogue and
// the default of --max-password-checks. The first bad flag found is the
// one reported.
func (c *serveConfig) validate() error {
	if err := c.level.UnmarshalText([]byte(c.logLevel)); err != nil {
		return fmt.Errorf("--log-level %q: want debug, info, warn or error", c.logLevel)
	}
	if c.logFormat != "text" && c.logFormat != "json" {
		return fmt.Errorf("--log-format %q: want text or json", c.logFormat)
	}
	var err error
	if c.schedule, err = delivery.ParseSchedule(c.retrySchedule); err != nil {
		return fmt.Errorf("--retry-schedule: %w", err)
	}
	if c.catalog, err = catalog.New(splitList(c.eventTypes)...); err != nil {
		return fmt.Errorf("--event-types: %w", err)
	}
	if c.eventCatalog != "" {
		// Opened after --event-types is checked, so each flag's error
		// names its own flag.
		if c.catalog, err = catalog.Open(c.eventCatalog, splitList(c.eventTypes)...); err != nil {
			return fmt.Errorf("--event-catalog %w", err)
		}
	}
	if err := c.checkLimits(); err != nil {
		return err
	}
	if c.publicURL != "" {
		u, err := url.Parse(c.publicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return fmt.Errorf("--public-url %q: want an absolute http or https URL such as https://webhooks.example.com", c.publicURL)
		}
	}
	if err := c.checkTrusted(); err != nil {
		return err
	}
	if err := c.checkOutbox(); err != nil {
		return err
	}
	if c.frameAncestors, err = parseFrameAncestors(c.portalFrameAncestors); err != nil {
		return fmt.Errorf("--portal-frame-ancestors: %w", err)
	}
	if c.maxPasswordChecks == 0 {
		// bcrypt is CPU-bound: more checks at once than CPUs only makes
		// every login slower.
		c.maxPasswordChecks = 2 * runtime.GOMAXPROCS(0)
	}
	return nil
}

// originHost is a host name as an origin may carry it: DNS labels of
// letters, digits and inner hyphens, or an IPv4 address (an IPv6 one is
// checked apart, in brackets).
var originHost = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$`)

// parseFrameAncestors reads --portal-frame-ancestors: comma-separated
// origins, each http(s)://host with an optional port and nothing else (no
// path, query, user, wildcard or CSP keyword), lowercased and without
// repeats. They are written into the console's Content-Security-Policy as
// they are, so anything that could end or extend the directive (a space,
// a ';', a quote) is refused here by the strict form.
func parseFrameAncestors(list string) ([]string, error) {
	var out []string
	for _, origin := range splitList(list) {
		bad := func(why string) error {
			return fmt.Errorf("%q %s: want origins such as https://crm.example.com or http://127.0.0.1:8080, comma-separated", origin, why)
		}
		scheme, rest, ok := strings.Cut(origin, "://")
		scheme = strings.ToLower(scheme)
		if !ok || (scheme != "http" && scheme != "https") {
			return nil, bad("is not an http or https origin")
		}
		if strings.ContainsAny(rest, "/?#@ ;,'\"\\") {
			return nil, bad("has more than scheme://host[:port] (a path, query, user or separator)")
		}
		if strings.Contains(rest, "*") {
			return nil, bad("has a wildcard, which is not allowed: list each origin")
		}
		host, port := rest, ""
		if i := strings.LastIndex(rest, ":"); i >= 0 && !strings.HasSuffix(rest, "]") {
			host, port = rest[:i], rest[i+1:]
			n, err := strconv.Atoi(port)
			if err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != port {
				return nil, bad("has a bad port")
			}
		}
		if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
			ip, err := netip.ParseAddr(host[1 : len(host)-1])
			if err != nil || !ip.Is6() || ip.Zone() != "" {
				return nil, bad("has a bad IPv6 address")
			}
		} else if !originHost.MatchString(host) {
			return nil, bad("has a bad host")
		}
		o := scheme + "://" + strings.ToLower(rest)
		if !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	return out, nil
}

// checkLimits checks the numeric flags: durations, counts and sizes that
// must be positive, or not negative, or agree with each other.
func (c *serveConfig) checkLimits() error {
	for _, check := range []struct {
		bad bool
		err string
	}{
		{c.deliveryTimeout <= 0 || c.tokenTTL <= 0 || c.shutdownGrace < 0 || c.workers < 1 || c.perWebhook < 1,
			"--delivery-timeout, --token-ttl, --workers and --max-in-flight-per-webhook must be positive, --shutdown-grace not negative"},
		{c.perOwner < 0, "--max-in-flight-per-owner must not be negative (0: --workers/4)"},
		{c.leaseDuration < 0 || c.secretGrace < 0 || c.disableAfter < 0 || c.retention < 0 || c.loginWindow <= 0 || c.loginMaxFailures < 0 || c.disableMinFailures < 0,
			"--lease-duration, --secret-grace, --disable-after, --retention, --login-max-failures and --disable-min-failures must not be negative, --login-window must be positive"},
		{c.maxPasswordChecks < 0, "--max-password-checks must not be negative"},
		{c.maxWebhooksPerOwner < 0 || c.maxDeliveriesPerRequest < 0, "--max-webhooks-per-owner and --max-deliveries-per-request must not be negative"},
		{c.writeTimeout <= 0 || c.maxConnections < 1 || c.maxStreams < 1 || c.maxStreamsPerUser < 1,
			"--write-timeout, --max-connections, --max-streams and --max-streams-per-user must be positive"},
	} {
		if check.bad {
			return errors.New(check.err)
		}
	}
	if c.walLimit < 1<<20 {
		return fmt.Errorf("--wal-limit %s: must be at least 1MiB", c.walLimit.String())
	}
	if c.leaseDuration > 0 && c.leaseDuration <= c.deliveryTimeout {
		return fmt.Errorf("--lease-duration %s must be longer than --delivery-timeout %s, or a slow send would be taken over while it runs", c.leaseDuration, c.deliveryTimeout)
	}
	return nil
}

// checkOutbox checks --outbox and --outbox-owner: the outbox is a table
// the CRM writes in its own PostgreSQL transactions, so SQLite has none.
func (c *serveConfig) checkOutbox() error {
	if c.outboxOwner != "" && !c.outbox {
		return errors.New("--outbox-owner needs --outbox")
	}
	if !c.outbox {
		return nil
	}
	if kind, _, err := store.ParseTarget(c.db); err == nil && kind != store.Postgres {
		return errors.New("--outbox needs PostgreSQL (--db postgres://…): the outbox is a table the CRM writes in its own PostgreSQL transactions, and SQLite has none")
	}
	if o := c.outboxOwner; o != "" && !strings.Contains(o, "@") && !store.ValidTenantID(o) {
		return fmt.Errorf("--outbox-owner %q: want a tenant id (matching %s) or a user's email", o, store.TenantIDPattern)
	}
	return nil
}

// checkTrusted checks the --trusted-* flags: at most one key source, the
// other flags only with one, a secret long enough and a URL webhookd can
// fetch.
func (c *serveConfig) checkTrusted() error {
	sources := 0
	for _, v := range []string{c.trustedSecret, c.trustedJWKSURL, c.trustedJWKSFile} {
		if v != "" {
			sources++
		}
	}
	if sources > 1 {
		return errors.New("--trusted-jwt-secret, --trusted-jwks-url and --trusted-jwks-file: set at most one")
	}
	for _, f := range []struct {
		name     string
		set      bool
		nonEmpty bool
	}{
		{"--trusted-jwt-issuer", c.trustedIssuer != "", true},
		{"--trusted-jwt-audience", c.trustedAudience != "", true},
		{"--trusted-tenant-claim", c.trustedTenantClaim != trust.DefaultTenantClaim, c.trustedTenantClaim != ""},
		{"--trusted-subject-claim", c.trustedSubjectClaim != trust.DefaultSubjectClaim, c.trustedSubjectClaim != ""},
	} {
		if !f.nonEmpty {
			return fmt.Errorf("%s must not be empty", f.name)
		}
		if f.set && sources == 0 {
			return fmt.Errorf("%s needs a key source for the CRM's tokens: --trusted-jwt-secret, --trusted-jwks-url or --trusted-jwks-file", f.name)
		}
	}
	if c.trustedSecret != "" {
		if len(c.trustedSecret) < trust.MinSecretBytes {
			return fmt.Errorf("--trusted-jwt-secret is %d bytes: it must be at least %d, or it can be guessed from one token", len(c.trustedSecret), trust.MinSecretBytes)
		}
		if c.trustedSecret == c.jwtSecret {
			return errors.New("--trusted-jwt-secret must differ from --jwt-secret: the CRM must not be able to sign webhookd's own tokens")
		}
	}
	if c.trustedJWKSURL != "" {
		if u, err := url.Parse(c.trustedJWKSURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("--trusted-jwks-url %q: want an http or https URL", c.trustedJWKSURL)
		}
	}
	return nil
}

// trustFlag names the flag that sets the trusted key source, for errors
// about it.
func (c *serveConfig) trustFlag() string {
	switch {
	case c.trustedJWKSURL != "":
		return "--trusted-jwks-url"
	case c.trustedJWKSFile != "":
		return "--trusted-jwks-file"
	}
	return "--trusted-jwt-secret"
}

// trustConfig is the trust.Config the --trusted-* flags describe; ok is
// false when none of them turns trusted tokens on.
func (c *serveConfig) trustConfig() (cfg trust.Config, ok bool) {
	cfg = trust.Config{
		JWKSURL: c.trustedJWKSURL, JWKSFile: c.trustedJWKSFile,
		Issuer: c.trustedIssuer, Audience: c.trustedAudience,
		TenantClaim: c.trustedTenantClaim, SubjectClaim: c.trustedSubjectClaim,
	}
	if c.trustedSecret != "" {
		cfg.Secret = []byte(c.trustedSecret)
	}
	return cfg, cfg.Secret != nil || cfg.JWKSURL != "" || cfg.JWKSFile != ""
}

// newLogger returns the logger --log-format and --log-level ask for,
// writing to w; validate has checked both.
func (c *serveConfig) newLogger(w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.level}
	if c.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
