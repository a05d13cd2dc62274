// Command webhookd is an outgoing-webhooks service: users register webhooks
// for event types, the CRM publishes events, and webhookd durably fans each
// event out to every matching webhook, signs it, delivers it with retries
// and logs every attempt.
//
// main only wires: it parses flags and environment, picks the subcommand,
// opens the store, and starts and stops the server and dispatcher in order.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/webhookd/webhookd/auth"
	"github.com/webhookd/webhookd/bench"
	"github.com/webhookd/webhookd/catalog"
	"github.com/webhookd/webhookd/console"
	"github.com/webhookd/webhookd/delivery"
	"github.com/webhookd/webhookd/inbox"
	"github.com/webhookd/webhookd/metrics"
	"github.com/webhookd/webhookd/netguard"
	"github.com/webhookd/webhookd/server"
	"github.com/webhookd/webhookd/store"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "0.1.0-dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "webhookd:", err)
		os.Exit(1)
	}
}

const topUsage = `webhookd — outgoing webhooks for your CRM

Usage:
  webhookd [serve] [flags]                      run the API and the delivery engine (default)
  webhookd migrate up|down|status [flags]       manage the database schema
  webhookd user create|passwd|disable|enable|delete|unlock --email E
                                                manage users ('webhookd help user')
  webhookd status [--db D]                      one-screen summary of webhooks and the queue
  webhookd bench [flags]                        measure throughput and latency end to end
  webhookd apikey create --email E --name N     create an API key for publishing events
  webhookd version                              print the version
  webhookd help [command]                       show help; every command also takes -h

Every flag can also be set with the environment variable shown by
'webhookd help COMMAND'. A flag on the command line wins over the variable.`

// run is the whole program, callable from tests.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	} else if isHelp(args) {
		fmt.Fprintln(stdout, topUsage)
		return flag.ErrHelp
	}
	switch cmd {
	case "serve":
		return runServe(ctx, args, getenv, stdout, stderr)
	case "migrate":
		return runMigrate(ctx, args, getenv, stdout, stderr)
	case "user":
		return runUser(ctx, args, getenv, stdin, stdout, stderr)
	case "apikey":
		return runAPIKey(ctx, args, getenv, stdout, stderr)
	case "status":
		return runStatus(ctx, args, getenv, stdout, stderr)
	case "bench":
		return runBench(ctx, args, getenv, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "webhookd", version)
		return nil
	case "help":
		if len(args) == 0 {
			fmt.Fprintln(stdout, topUsage)
			return nil
		}
		return run(ctx, append(args[:1:1], "-h"), getenv, stdin, stdout, stderr)
	default:
		return fmt.Errorf("unknown command %q; run 'webhookd help'", cmd)
	}
}

// serveConfig is serve's configuration.
type serveConfig struct {
	addr, db, jwtSecret, eventTypes, retrySchedule, logFormat, logLevel, metricsAddr string
	tokenTTL, deliveryTimeout, shutdownGrace, leaseDuration                          time.Duration
	disableAfter, retention, secretGrace, loginWindow, writeTimeout                  time.Duration
	migrate, allowPrivate, requireHTTPS, console, inbox                              bool
	workers, perWebhook, disableMinFailures, loginMaxFailures                        int
	maxWebhooksPerOwner, maxDeliveriesPerRequest                                     int
	maxConnections, maxStreams, maxStreamsPerUser                                    int
	walLimit                                                                         byteSize

	maxPasswordChecks int // 0: twice GOMAXPROCS
	perOwner          int
}

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
	num(&c.perOwner, "max-in-flight-per-owner", "WEBHOOKD_MAX_IN_FLIGHT_PER_OWNER", 0, "deliveries in flight at once to one user's webhooks while another user's are due; a user alone may use all but this many workers (0: --workers/4, at least 1)")
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
	num(&c.maxWebhooksPerOwner, "max-webhooks-per-owner", "WEBHOOKD_MAX_WEBHOOKS_PER_OWNER", 100, "webhooks one user may have (0: no limit)")
	num(&c.maxDeliveriesPerRequest, "max-deliveries-per-request", "WEBHOOKD_MAX_DELIVERIES_PER_REQUEST", 100000, "deliveries one publish request may create, its events times their matching webhooks (0: no limit)")
	boolean(&c.console, "console", "WEBHOOKD_CONSOLE", true, "serve the web console at /")
	boolean(&c.inbox, "inbox", "WEBHOOKD_INBOX", true, "serve the development inbox at /inbox/NAME, which webhooks may target on this process's own port without --allow-private-targets")
	dur(&c.writeTimeout, "write-timeout", "WEBHOOKD_WRITE_TIMEOUT", 30*time.Second, "time an answer may take to be written, from its first byte, so a client that stops reading is cut off; event streams get it anew for each event")
	num(&c.maxConnections, "max-connections", "WEBHOOKD_MAX_CONNECTIONS", 10000, "client connections open at once on --addr (and, apart, on --metrics-addr); past it new connections wait until one closes")
	num(&c.maxStreams, "max-streams", "WEBHOOKD_MAX_STREAMS", 1000, "event streams (live logs, live inboxes) open at once; past it new ones answer 429")
	num(&c.maxStreamsPerUser, "max-streams-per-user", "WEBHOOKD_MAX_STREAMS_PER_USER", 10, "event streams one user may have open at once; past it new ones answer 429")
	str(&c.metricsAddr, "metrics-addr", "WEBHOOKD_METRICS_ADDR", "", "serve /metrics on this address instead of --addr")
	str(&c.logFormat, "log-format", "WEBHOOKD_LOG_FORMAT", "text", "log format: text or json")
	str(&c.logLevel, "log-level", "WEBHOOKD_LOG_LEVEL", "info", "log level: debug, info, warn or error")
	c.walLimit = store.DefaultWALLimit
	fs.Var(&c.walLimit, "wal-limit", "SQLite: checkpoint the write-ahead log (webhookd.db-wal) and start it over once it passes this size, such as 64MiB")
	fs.bindEnv("wal-limit", "WEBHOOKD_WAL_LIMIT")
	return fs, c
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("--log-format %q: want text or json", format)
	}
}

func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs, c := serveFlags()
	if err := parseFlags(fs, args, getenv, stdout); err != nil {
		return err
	}
	logger, err := newLogger(stderr, c.logFormat, c.logLevel)
	if err != nil {
		return err
	}
	schedule, err := delivery.ParseSchedule(c.retrySchedule)
	if err != nil {
		return fmt.Errorf("--retry-schedule: %w", err)
	}
	cat, err := catalog.New(splitList(c.eventTypes)...)
	if err != nil {
		return fmt.Errorf("--event-types: %w", err)
	}
	if c.deliveryTimeout <= 0 || c.tokenTTL <= 0 || c.shutdownGrace < 0 || c.workers < 1 || c.perWebhook < 1 {
		return errors.New("--delivery-timeout, --token-ttl, --workers and --max-in-flight-per-webhook must be positive, --shutdown-grace not negative")
	}
	if c.perOwner < 0 {
		return errors.New("--max-in-flight-per-owner must not be negative (0: --workers/4)")
	}
	if c.leaseDuration < 0 || c.secretGrace < 0 || c.disableAfter < 0 || c.retention < 0 || c.loginWindow <= 0 || c.loginMaxFailures < 0 || c.disableMinFailures < 0 {
		return errors.New("--lease-duration, --secret-grace, --disable-after, --retention, --login-max-failures and --disable-min-failures must not be negative, --login-window must be positive")
	}
	if c.maxPasswordChecks < 0 {
		return errors.New("--max-password-checks must not be negative")
	}
	if c.maxPasswordChecks == 0 {
		// bcrypt is CPU-bound: more checks at once than CPUs only makes
		// every login slower.
		c.maxPasswordChecks = 2 * runtime.GOMAXPROCS(0)
	}
	if c.maxWebhooksPerOwner < 0 || c.maxDeliveriesPerRequest < 0 {
		return errors.New("--max-webhooks-per-owner and --max-deliveries-per-request must not be negative")
	}
	if c.writeTimeout <= 0 || c.maxConnections < 1 || c.maxStreams < 1 || c.maxStreamsPerUser < 1 {
		return errors.New("--write-timeout, --max-connections, --max-streams and --max-streams-per-user must be positive")
	}
	if c.walLimit < 1<<20 {
		return fmt.Errorf("--wal-limit %s: must be at least 1MiB", c.walLimit.String())
	}
	if c.leaseDuration > 0 && c.leaseDuration <= c.deliveryTimeout {
		return fmt.Errorf("--lease-duration %s must be longer than --delivery-timeout %s, or a slow send would be taken over while it runs", c.leaseDuration, c.deliveryTimeout)
	}
	// Listen before anything that needs the port: the inbox exemption of
	// the address guard is for this process's own port only.
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", c.addr, err)
	}
	defer ln.Close() // a no-op once the server has closed it
	guard := netguard.Policy{AllowPrivate: c.allowPrivate, RequireHTTPS: c.requireHTTPS}
	if c.inbox {
		tcp := ln.Addr().(*net.TCPAddr)
		guard.InboxPort = tcp.Port
		// Only the loopback addresses this listener serves: bound to
		// 127.0.0.1, [::1] at the same port may be another process.
		guard.InboxAddr, _ = netip.AddrFromSlice(tcp.IP)
	}
	if c.allowPrivate {
		logger.Warn("--allow-private-targets is set: webhooks may reach loopback, private and link-local addresses, including cloud metadata endpoints; use it only for development or on a trusted private network")
	}

	st, err := store.Open(ctx, c.db, store.WithAutoDisable(store.AutoDisable{After: c.disableAfter, MinFailures: int64(c.disableMinFailures)}),
		store.WithMaxWebhooksPerOwner(c.maxWebhooksPerOwner), store.WithMaxDeliveriesPerRequest(c.maxDeliveriesPerRequest),
		store.WithWALLimit(int64(c.walLimit)))
	if err != nil {
		return err
	}
	defer st.Close()
	warnExposedFiles(st, logger)
	if err := migrateOrRefuse(ctx, st, c.migrate, logger); err != nil {
		return err
	}
	if err := ensureAdmin(ctx, st, getenv, stdout, logger); err != nil {
		return err
	}
	tokens, err := tokenSigner(ctx, st, c.jwtSecret, c.tokenTTL)
	if err != nil {
		return err
	}
	if st.Kind() == store.SQLite {
		// This process holds the SQLite file lock, so every lease in the
		// file belongs to a process that is gone: send those now.
		if n, err := st.ReleaseAllLeases(ctx); err != nil {
			return err
		} else if n > 0 {
			logger.Info("released deliveries leased by a previous run", "count", n)
		}
	}

	meters := metrics.New(st, logger)
	meters.WatchWAL(st)
	sender := delivery.NewSender(delivery.SenderConfig{
		Version: version, Timeout: c.deliveryTimeout, Logger: logger, MaxConnsPerHost: c.perWebhook * 4, DialControl: guard.Control,
	})
	defer sender.Close()
	dispatcher := delivery.NewDispatcher(delivery.DispatcherConfig{
		Store: st, Sender: sender, Schedule: schedule, Logger: logger, Workers: c.workers, PerWebhook: c.perWebhook, PerOwner: c.perOwner,
		Timeout: c.deliveryTimeout, LeaseFor: c.leaseDuration, Grace: c.shutdownGrace, Observer: meters,
	})
	// Concurrent publishers share transactions: one commit for many events.
	publisher := st.NewGroupCommitter(256)
	defer publisher.Close()
	var metricsOnAPI http.Handler // /metrics on the API port unless --metrics-addr moves it
	if c.metricsAddr == "" {
		metricsOnAPI = meters.Handler()
	}
	var inboxes *inbox.Inbox
	testSender := delivery.TestSender{Sender: sender, Store: st}
	if c.inbox {
		inboxes = inbox.New(inbox.Config{Lookup: st.DeliveryWebhook, Port: guard.InboxPort, Logger: logger})
		testSender.Expect = inboxes.Expect
	}
	var webConsole http.Handler
	if c.console {
		webConsole = console.Handler()
	}
	api, err := server.New(server.Config{
		Store: st, Publisher: countingPublisher{publisher, meters}, Catalog: cat, Tokens: tokens,
		Sender: testSender, Waker: dispatcher, Logger: logger, Version: version,
		CheckURL: guard.CheckURL, SecretGrace: c.secretGrace, Readiness: dispatcher, ReservedHeader: delivery.ReservedHeader,
		Throttle: server.Throttle{MaxFailures: c.loginMaxFailures, Window: c.loginWindow, MaxChecks: c.maxPasswordChecks},
		Metrics:  metricsOnAPI, Inbox: inboxes, Console: webConsole,
		WriteTimeout: c.writeTimeout, MaxStreams: c.maxStreams, MaxStreamsPerUser: c.maxStreamsPerUser,
	})
	if err != nil {
		return err
	}
	httpServer := newHTTPServer(api, logger)
	// Shutdown waits for handlers to return; open event streams would not.
	httpServer.RegisterOnShutdown(api.CloseStreams)
	var metricsServer *http.Server
	if c.metricsAddr != "" {
		mln, err := net.Listen("tcp", c.metricsAddr)
		if err != nil {
			ln.Close()
			return fmt.Errorf("listen on --metrics-addr %s: %w", c.metricsAddr, err)
		}
		metricsServer = newMetricsServer(meters.Handler(), c.writeTimeout, logger)
		go func() {
			if err := metricsServer.Serve(newConnLimit(c.maxConnections).wrap(mln)); err != nil && !errors.Is(err, http.ErrServerClosed) {
				logger.Error("metrics server", "err", err)
			}
		}()
		logger.Info("metrics listening", "addr", mln.Addr().String())
	}

	// Background work lives until the dispatcher stops, after the HTTP
	// server: deliveries accepted during shutdown still go out.
	bgCtx, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBackground()
	var background sync.WaitGroup
	background.Add(3)
	go func() {
		defer background.Done()
		st.ListenForWork(bgCtx, dispatcher.Wake, logger)
	}()
	go func() {
		defer background.Done()
		// Fan-outs a stopped process left half done: at start, then now
		// and then for those another process (PostgreSQL) left.
		st.RunFanOuts(bgCtx, time.Minute, dispatcher.Wake, logger)
	}()
	go func() {
		defer background.Done()
		delivery.Retention{Store: st, Keep: c.retention, Logger: logger}.Run(bgCtx)
	}()
	dispatchDone := make(chan error, 1)
	go func() { dispatchDone <- dispatcher.Run(bgCtx) }()
	serveDone := make(chan error, 1)
	go func() { serveDone <- httpServer.Serve(newConnLimit(c.maxConnections).wrap(ln)) }()
	logger.Info("webhookd listening", "addr", ln.Addr().String(), "db", string(st.Kind()), "database", st.Label(), "version", version)

	var serveErr error
	select {
	case <-ctx.Done():
		logger.Info("shutting down", "grace", c.shutdownGrace)
	case serveErr = <-serveDone:
	}
	// Order matters: stop taking requests, then stop leasing and let
	// in-flight sends finish or be released, then close the store (deferred).
	shutdownCtx, cancel := context.WithTimeout(context.Background(), c.shutdownGrace+5*time.Second)
	defer cancel()
	if err := httpServer.Shutdown(shutdownCtx); err != nil {
		logger.Warn("http shutdown", "err", err)
	}
	if metricsServer != nil {
		_ = metricsServer.Shutdown(shutdownCtx)
	}
	stopBackground()
	dispatchErr := <-dispatchDone
	background.Wait()
	if dispatchErr != nil {
		return dispatchErr
	}
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", serveErr)
	}
	logger.Info("stopped")
	return nil
}

// countingPublisher counts accepted events for the metrics.
type countingPublisher struct {
	server.Publisher
	meters *metrics.Metrics
}

// PublishEvents implements server.Publisher.
func (p countingPublisher) PublishEvents(ctx context.Context, batch []store.PublishParams) ([]store.PublishResult, error) {
	res, err := p.Publisher.PublishEvents(ctx, batch)
	n := 0
	for _, r := range res {
		if !r.Duplicate {
			n++
		}
	}
	p.meters.EventsAccepted(n)
	return res, err
}

// warnExposedFiles warns about SQLite files other users may read: they hold
// the JWT secret, webhook secrets and receivers' credential headers. New
// databases are created private; older ones keep the mode they were
// created with until their owner changes it.
func warnExposedFiles(st *store.Store, logger *slog.Logger) {
	exposed, err := st.ExposedFiles()
	if err != nil {
		logger.Warn("could not check the database file's permissions", "err", err)
	}
	for _, f := range exposed {
		logger.Warn("database file is readable by other users, and it holds the JWT secret, webhook secrets and receivers' credentials; make it private with chmod 600",
			"path", f.Path, "mode", f.Mode.String())
	}
}

// migrateOrRefuse applies pending migrations, or with migrate=false refuses
// to start while any are pending.
func migrateOrRefuse(ctx context.Context, st *store.Store, migrate bool, logger *slog.Logger) error {
	if !migrate {
		pending, err := st.PendingMigrations(ctx)
		if err != nil {
			return err
		}
		if len(pending) > 0 {
			return fmt.Errorf("database has pending migrations %v and --migrate=false; run 'webhookd migrate up' first", pending)
		}
		return nil
	}
	applied, err := st.Migrate(ctx)
	if err != nil {
		return err
	}
	if len(applied) > 0 {
		logger.Info("applied migrations", "versions", applied)
	}
	return nil
}

// newMetricsServer returns the server of --metrics-addr, serving metrics
// at GET /metrics. It has the API's read and idle timeouts: without them a
// client that sends a body it never finishes, or keeps a connection idle,
// holds one of --max-connections forever, and enough of them lock the
// scraper out.
func newMetricsServer(metrics http.Handler, writeTimeout time.Duration, logger *slog.Logger) *http.Server {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics)
	srv := newHTTPServer(mux, logger)
	srv.WriteTimeout = writeTimeout
	return srv
}

// newHTTPServer returns an http.Server for h with the timeouts every
// listener of webhookd needs: a client that is slow to send its headers or
// body, or keeps a connection idle, is cut off rather than holding a
// connection slot (--max-connections) for good.
func newHTTPServer(h http.Handler, logger *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

// ensureAdmin creates the WEBHOOKD_ADMIN_EMAIL user when missing, or, on a
// database with no users and no such variables, admin@localhost with a
// random password printed once, so that the one-command start can log in.
func ensureAdmin(ctx context.Context, st *store.Store, getenv func(string) string, stdout io.Writer, logger *slog.Logger) error {
	email, password := strings.TrimSpace(getenv("WEBHOOKD_ADMIN_EMAIL")), getenv("WEBHOOKD_ADMIN_PASSWORD")
	if email != "" || password != "" {
		if email == "" || password == "" {
			return errors.New("set both WEBHOOKD_ADMIN_EMAIL and WEBHOOKD_ADMIN_PASSWORD, or neither")
		}
		if _, err := st.UserByEmail(ctx, email); err == nil {
			return nil
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err := createUser(ctx, st, email, password); err != nil && !errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("WEBHOOKD_ADMIN_EMAIL: %w", err)
		}
		logger.Info("created admin user", "email", email)
		return nil
	}
	n, err := st.CountUsers(ctx)
	if err != nil || n > 0 {
		return err
	}
	password = auth.RandomSecret(18)
	if err := createUser(ctx, st, "admin@localhost", password); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil // another process created it first
		}
		return err
	}
	fmt.Fprintf(stdout, "\nCreated the first user. Log in with:\n  email:    admin@localhost\n  password: %s\nThis password is shown once: keep it, or create your own user with 'webhookd user create'.\n\n", password)
	return nil
}

// tokenSigner uses --jwt-secret, or the secret generated on first start and
// kept in the database so tokens survive restarts.
func tokenSigner(ctx context.Context, st *store.Store, secret string, ttl time.Duration) (*auth.Tokens, error) {
	if secret == "" {
		var err error
		if secret, err = st.SettingOrInit(ctx, "jwt_secret", auth.RandomSecret(48)); err != nil {
			return nil, err
		}
	}
	t, err := auth.NewTokens([]byte(secret), ttl)
	if err != nil {
		return nil, fmt.Errorf("--jwt-secret: %w", err)
	}
	return t, nil
}

func runBench(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench", `Usage: webhookd bench [flags]

Starts a webhookd in this process on a temporary SQLite database (or --db),
and a local receiver; creates --webhooks webhooks, publishes --events events
from --concurrency publishers, waits until every delivery has arrived and
prints throughput, latency, CPU and memory. With --duration and --rate it
publishes at a steady rate instead and reports latency under that load.
With --target and --token it drives an already running webhookd (which must
allow private targets, since the receiver listens on 127.0.0.1).`)
	var cfg bench.Config
	var db, target, retrySchedule string
	var workers, perWebhook int
	fs.IntVar(&cfg.Events, "events", 20000, "events to publish")
	fs.IntVar(&cfg.Webhooks, "webhooks", 1, "webhooks, each subscribed to every event")
	fs.IntVar(&cfg.Concurrency, "concurrency", 32, "concurrent publishers")
	fs.IntVar(&cfg.PayloadSize, "payload-bytes", 256, "approximate size of each event's data")
	fs.IntVar(&cfg.Batch, "batch", 1, "events per publish request: above 1, they go through POST /api/v1/events/batch (at most 1000)")
	fs.DurationVar(&cfg.ReceiverDelay, "receiver-delay", 0, "how long the receiver takes to answer")
	fs.Float64Var(&cfg.ReceiverFailRate, "receiver-fail-rate", 0, "share of requests the receiver answers 500 (0 to 1)")
	fs.DurationVar(&cfg.Duration, "duration", 0, "steady mode: publish at --rate for this long")
	fs.IntVar(&cfg.Rate, "rate", 0, "steady mode: events per second")
	fs.DurationVar(&cfg.Wait, "wait", 10*time.Minute, "how long to wait for deliveries after publishing")
	fs.StringVar(&target, "target", "", "URL of a running webhookd to drive instead of starting one")
	fs.StringVar(&cfg.Token, "token", "", "with --target: an access token or API key")
	fs.StringVar(&db, "db", "", "database for the in-process webhookd (default: a temporary SQLite file)")
	fs.StringVar(&retrySchedule, "retry-schedule", "100ms,200ms,400ms,800ms,1s,2s,5s", "retry schedule of the in-process webhookd")
	fs.IntVar(&workers, "workers", 256, "--workers of the in-process webhookd")
	fs.IntVar(&perWebhook, "max-in-flight-per-webhook", 64, "--max-in-flight-per-webhook of the in-process webhookd")
	var cpuProfile, memProfile string
	fs.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run to this file (for go tool pprof)")
	fs.StringVar(&memProfile, "memprofile", "", "write an allocation profile of the whole run to this file (go tool pprof -sample_index=alloc_space)")
	if err := parseFlags(fs, args, getenv, stdout); err != nil {
		return err
	}
	if memProfile != "" {
		f, err := os.Create(memProfile)
		if err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		defer func() {
			// Written when the run is over, so it covers all of it.
			if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
				fmt.Fprintf(stderr, "bench: write memory profile: %v\n", err)
			}
			f.Close()
		}()
	}
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	if cfg.ReceiverFailRate < 0 || cfg.ReceiverFailRate >= 1 {
		return errors.New("bench: --receiver-fail-rate must be at least 0 and below 1")
	}
	if cfg.Batch < 1 || cfg.Batch > server.MaxBatchEvents {
		return fmt.Errorf("bench: --batch must be 1 to %d", server.MaxBatchEvents)
	}
	cfg.Progress = stderr
	fmt.Fprintf(stdout, "machine: %d CPUs, %s/%s, %s\ncommand: webhookd bench %s\n\n", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version(), strings.Join(args, " "))

	if target != "" {
		if cfg.Token == "" {
			return errors.New("bench: --target needs --token")
		}
		cfg.BaseURL = target
		r, err := bench.Run(ctx, cfg)
		if err != nil {
			return err
		}
		r.Print(stdout)
		return nil
	}

	if db == "" {
		dir, err := os.MkdirTemp("", "webhookd-bench-")
		if err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		defer os.RemoveAll(dir)
		db = filepath.Join(dir, "bench.db")
	}
	cfg.Email, cfg.Password = "bench@webhookd.local", auth.RandomSecret(18)
	if err := benchUser(ctx, db, cfg.Email, cfg.Password); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	serveArgs := []string{"--addr", addr, "--db", db, "--allow-private-targets", "--log-level", "error",
		"--retry-schedule", retrySchedule, "--retention", "0", "--login-max-failures", "0",
		"--workers", strconv.Itoa(workers), "--max-in-flight-per-webhook", strconv.Itoa(perWebhook),
		// --webhooks may ask for more than one owner's default allowance.
		"--max-webhooks-per-owner", "0", "--max-deliveries-per-request", "0"}
	serveCtx, stopServe := context.WithCancel(ctx)
	defer stopServe()
	serveDone := make(chan error, 1)
	// Only the flags above configure the benchmarked webhookd.
	noEnv := func(string) string { return "" }
	go func() { serveDone <- runServe(serveCtx, serveArgs, noEnv, io.Discard, stderr) }()
	cfg.BaseURL = "http://" + addr
	if err := waitHealthy(ctx, cfg.BaseURL, serveDone); err != nil {
		return err
	}
	r, runErr := bench.Run(ctx, cfg)
	stopServe()
	if err := <-serveDone; err != nil && runErr == nil {
		runErr = err
	}
	if runErr != nil {
		return runErr
	}
	r.InProcess = true
	r.Print(stdout)
	return nil
}

// benchUser makes sure the benchmark's user exists with password.
func benchUser(ctx context.Context, db, email, password string) error {
	st, err := store.Open(ctx, db)
	if err != nil {
		return err
	}
	defer st.Close()
	if _, err := st.Migrate(ctx); err != nil {
		return err
	}
	hash, err := auth.HashPassword(password)
	if err != nil {
		return err
	}
	u, err := st.UserByEmail(ctx, email)
	switch {
	case errors.Is(err, store.ErrNotFound):
		_, err = st.CreateUser(ctx, email, hash)
		return err
	case err != nil:
		return err
	default:
		return st.SetPassword(ctx, u.ID, hash)
	}
}

// waitHealthy polls /healthz until the in-process webhookd answers.
func waitHealthy(ctx context.Context, base string, serveDone <-chan error) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-serveDone:
			return fmt.Errorf("bench: webhookd stopped: %w", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	return errors.New("bench: webhookd did not become healthy within 30s")
}
