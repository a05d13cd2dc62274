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
	"net/url"
	"runtime"
	"strings"
	"time"

	"github.com/webhookd/webhookd/catalog"
	"github.com/webhookd/webhookd/delivery"
	"github.com/webhookd/webhookd/store"
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
	tokenTTL, deliveryTimeout, shutdownGrace, leaseDuration                          time.Duration
	disableAfter, retention, secretGrace, loginWindow, writeTimeout                  time.Duration
	migrate, allowPrivate, requireHTTPS, console, inbox, autoCreateTenants           bool
	publicURL                                                                        string
	workers, perWebhook, disableMinFailures, loginMaxFailures                        int
	maxWebhooksPerOwner, maxDeliveriesPerRequest                                     int
	maxConnections, maxStreams, maxStreamsPerUser                                    int
	walLimit                                                                         byteSize

	maxPasswordChecks int // 0: twice GOMAXPROCS
	perOwner          int

	// WEBHOOKD_ADMIN_EMAIL and WEBHOOKD_ADMIN_PASSWORD, which have no
	// flags, to keep the password out of ps.
	adminEmail, adminPassword string

	// Set by validate from the flags above.
	level    slog.Level
	schedule delivery.Schedule
	catalog  *catalog.Catalog
}

// serveFlags returns serve's flags, bound to a config that holds their
// defaults until they are parsed.
func serveFlags() (*flagSet, *serveConfig) {
	c := &serveConfig{}
	fs := newFlagSet("serve", "Usage: webhookd serve [flags]\n\nRuns the API and the delivery engine.\n\n"+
		"WEBHOOKD_ADMIN_EMAIL and WEBHOOKD_ADMIN_PASSWORD (set both; no flags, to keep the password\n"+
		"out of ps) create that user at start when it does not exist. On a first start without them\n"+
		"webhookd creates admin@localhost and prints its password once.")
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
	boolean(&c.autoCreateTenants, "auto-create-tenants", "WEBHOOKD_AUTO_CREATE_TENANTS", false, "let a service key publish for a tenant that does not exist yet, creating it (default: 404)")
	str(&c.publicURL, "public-url", "WEBHOOKD_PUBLIC_URL", "", "the console's address as browsers reach it, such as https://webhooks.example.com, for portal session URLs (default: the scheme and host the request came to)")
	str(&c.metricsAddr, "metrics-addr", "WEBHOOKD_METRICS_ADDR", "", "serve /metrics on this address instead of --addr")
	str(&c.logFormat, "log-format", "WEBHOOKD_LOG_FORMAT", "text", "log format: text or json")
	str(&c.logLevel, "log-level", "WEBHOOKD_LOG_LEVEL", "info", "log level: debug, info, warn or error")
	c.walLimit = store.DefaultWALLimit
	fs.Var(&c.walLimit, "wal-limit", "SQLite: checkpoint the write-ahead log (webhookd.db-wal) and start it over once it passes this size, such as 64MiB")
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
	if err := c.checkLimits(); err != nil {
		return err
	}
	if c.publicURL != "" {
		u, err := url.Parse(c.publicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return fmt.Errorf("--public-url %q: want an absolute http or https URL such as https://webhooks.example.com", c.publicURL)
		}
	}
	if c.maxPasswordChecks == 0 {
		// bcrypt is CPU-bound: more checks at once than CPUs only makes
		// every login slower.
		c.maxPasswordChecks = 2 * runtime.GOMAXPROCS(0)
	}
	return nil
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

// newLogger returns the logger --log-format and --log-level ask for,
// writing to w; validate has checked both.
func (c *serveConfig) newLogger(w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.level}
	if c.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
