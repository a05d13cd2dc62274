package main

// The app is one serve: the store, the delivery engine and the HTTP
// servers, built by newApp on a listener it is handed and run by Run until
// its context ends, then shut down in order.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/webhookd/webhookd/auth"
	"github.com/webhookd/webhookd/catalog"
	"github.com/webhookd/webhookd/console"
	"github.com/webhookd/webhookd/delivery"
	"github.com/webhookd/webhookd/inbox"
	"github.com/webhookd/webhookd/metrics"
	"github.com/webhookd/webhookd/netguard"
	"github.com/webhookd/webhookd/outbox"
	"github.com/webhookd/webhookd/server"
	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/trust"
)

// app is a built serve, ready to Run. It owns everything it holds,
// the listener it was handed included, and closes it all when Run returns
// (or newApp fails).
type app struct {
	cfg    *serveConfig
	logger *slog.Logger
	ln     net.Listener // the API's, handed in

	st         *store.Store
	meters     *metrics.Metrics
	sender     *delivery.Sender
	dispatcher *delivery.Dispatcher
	publisher  *store.GroupCommitter
	consumer   *outbox.Consumer // nil without --outbox
	trusted    *trust.Verifier  // nil without --trusted-*
	api        *server.Server
	httpServer *http.Server
	// firstUser is the email of the user this start created as the first
	// admin ("": none), which the console's sign-in page names until it
	// signs in.
	firstUser string

	metricsLn     net.Listener // --metrics-addr; nil without it
	metricsServer *http.Server
}

// newApp builds serve on ln, which it takes over: it opens and prepares
// the database (migrations, the first admin, the token secret), and makes
// the delivery engine, the API and, with --metrics-addr, the metrics
// listener. stdout gets the first admin's password, when one is made.
// cfg must have passed validate.
func newApp(ctx context.Context, cfg *serveConfig, ln net.Listener, logger *slog.Logger, stdout io.Writer) (*app, error) {
	a := &app{cfg: cfg, logger: logger, ln: ln}
	if err := a.build(ctx, stdout); err != nil {
		a.close()
		return nil, err
	}
	if cfg.console {
		// The one line a person starting webhookd by hand looks for.
		fmt.Fprintf(stdout, "console: %s\n", consoleURL(cfg.publicURL, ln.Addr()))
	}
	return a, nil
}

// consoleURL is where a browser finds the console: --public-url when it is
// set, else this machine's listener, with an unspecified address (":3000",
// "0.0.0.0", "[::]") shown as localhost, the name that works on the
// machine serve runs on.
func consoleURL(publicURL string, addr net.Addr) string {
	if publicURL != "" {
		return strings.TrimSuffix(publicURL, "/") + "/"
	}
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "http://" + addr.String() + "/"
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port) + "/"
}

// build is newApp's work; on error newApp closes what it opened.
func (a *app) build(ctx context.Context, stdout io.Writer) error {
	c := a.cfg
	guard := netguard.Policy{AllowPrivate: c.allowPrivate, RequireHTTPS: c.requireHTTPS}
	if tcp, ok := a.ln.Addr().(*net.TCPAddr); ok && c.inbox {
		guard.InboxPort = tcp.Port
		// Only the loopback addresses this listener serves: bound to
		// 127.0.0.1, [::1] at the same port may be another process.
		guard.InboxAddr, _ = netip.AddrFromSlice(tcp.IP)
	}
	if c.allowPrivate {
		a.logger.Warn("--allow-private-targets is set: webhooks may reach loopback, private and link-local addresses, including cloud metadata endpoints; use it only for development or on a trusted private network")
	}
	// The CRM's keys come first: a JWKS URL that cannot be fetched stops
	// serve before it migrates the database or makes the first user,
	// whose password would be printed for a server that never ran.
	if tc, ok := c.trustConfig(); ok {
		// One clock, the store's, which opens below; the verifier reads it
		// only when it checks a token, once the API serves.
		tc.Logger, tc.Now = a.logger, func() time.Time { return a.st.Now() }
		// The app owns the verifier's background refresh and stops it in
		// close, after the last request has been answered, so it does not
		// end with ctx while requests still drain.
		var err error
		if a.trusted, err = trust.New(context.WithoutCancel(ctx), tc); err != nil {
			return fmt.Errorf("%s: %w", c.trustFlag(), err)
		}
	}
	var err error
	a.st, err = store.Open(ctx, c.db, store.WithAutoDisable(store.AutoDisable{After: c.disableAfter, MinFailures: int64(c.disableMinFailures)}),
		store.WithDisabledPayload(catalog.WebhookDisabledPayload),
		store.WithMaxWebhooksPerOwner(c.maxWebhooksPerOwner), store.WithMaxDeliveriesPerRequest(c.maxDeliveriesPerRequest),
		store.WithWALLimit(int64(c.walLimit)))
	if err != nil {
		return err
	}
	tokens, err := a.prepareStore(ctx, stdout)
	if err != nil {
		return err
	}
	a.meters = metrics.New(a.st, a.logger)
	a.meters.WatchWAL(a.st)
	a.sender = delivery.NewSender(delivery.SenderConfig{
		Version: version, Timeout: c.deliveryTimeout, Logger: a.logger, MaxConnsPerHost: c.perWebhook * 4, DialControl: guard.Control,
		Now: a.st.Now, // one clock: the store's, which stamps what the others compare with
	})
	a.dispatcher = delivery.NewDispatcher(delivery.DispatcherConfig{
		Store: a.st, Sender: a.sender, Schedule: c.schedule, Logger: a.logger, Workers: c.workers, PerWebhook: c.perWebhook, PerOwner: c.perOwner,
		Timeout: c.deliveryTimeout, LeaseFor: c.leaseDuration, Grace: c.shutdownGrace, Observer: a.meters, Now: a.st.Now,
	})
	// Concurrent publishers share transactions: one commit for many events.
	// The deliveries the dispatcher can start at once are handed to it as
	// they are inserted, leased, with no lease transaction of their own.
	a.publisher = a.st.NewGroupCommitter(256, store.HandOffTo(a.dispatcher), store.LogGroupFailures(a.logger))
	if c.outbox {
		if err := a.buildOutbox(ctx); err != nil {
			return err
		}
	}
	if err := a.buildAPI(tokens, guard); err != nil {
		return err
	}
	if c.metricsAddr != "" {
		if a.metricsLn, err = net.Listen("tcp", c.metricsAddr); err != nil {
			return fmt.Errorf("listen on --metrics-addr %s: %w", c.metricsAddr, err)
		}
		a.metricsServer = newMetricsServer(a.meters.Handler(), c.writeTimeout, a.logger)
	}
	return nil
}

// prepareStore readies the open database for serving: it warns of files
// others may read, applies or refuses pending migrations, makes the first
// admin, and returns the token signer.
func (a *app) prepareStore(ctx context.Context, stdout io.Writer) (*auth.Tokens, error) {
	c, st := a.cfg, a.st
	warnExposedFiles(st, a.logger)
	if err := migrateOrRefuse(ctx, st, c.migrate, a.logger); err != nil {
		return nil, err
	}
	created, err := ensureAdmin(ctx, st, c.adminEmail, c.adminPassword, stdout, a.logger)
	if err != nil {
		return nil, err
	}
	a.firstUser = created
	tokens, err := tokenSigner(ctx, st, c.jwtSecret, c.tokenTTL)
	if err != nil {
		return nil, err
	}
	if st.Kind() == store.SQLite {
		// This process holds the SQLite file lock, so every lease in the
		// file belongs to a process that is gone: send those now.
		if n, err := st.ReleaseAllLeases(ctx); err != nil {
			return nil, err
		} else if n > 0 {
			a.logger.Info("released deliveries leased by a previous run", "count", n)
		}
	}
	return tokens, nil
}

// buildOutbox makes the outbox consumer, resolving --outbox-owner: a
// user's email names that user's tenant, and a tenant must exist.
func (a *app) buildOutbox(ctx context.Context) error {
	if a.st.Kind() != store.Postgres {
		return errors.New("--outbox needs PostgreSQL (--db postgres://…): the outbox is a table the CRM writes in its own PostgreSQL transactions, and SQLite has none")
	}
	owner := a.cfg.outboxOwner
	switch {
	case strings.Contains(owner, "@"):
		u, err := a.st.UserByEmail(ctx, owner)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("--outbox-owner %s: no user has this email", owner)
		}
		if err != nil {
			return fmt.Errorf("--outbox-owner: %w", err)
		}
		owner = u.TenantID
	case owner != "":
		ok, err := a.st.TenantExists(ctx, owner)
		if err != nil {
			return fmt.Errorf("--outbox-owner: %w", err)
		}
		if !ok {
			return fmt.Errorf("--outbox-owner %s: no such tenant (create it with 'webhookd tenant create --id %s')", owner, owner)
		}
	}
	a.consumer = outbox.New(outbox.Config{
		Store: a.st, Owner: owner, Check: outboxCheck(a.cfg.catalog, a.cfg.validateEvents),
		MaxDataBytes: server.MaxEventDataBytes, Wake: a.dispatcher.Wake, Logger: a.logger, Observer: a.meters,
	})
	a.meters.WatchOutbox(a.st)
	return nil
}

// outboxCheck is the consumer's check of a row: server.CheckEvent, the
// one POST /api/v1/events makes (the type's schema included with
// validate, --validate-events), with the size and idempotency key checks
// the route makes around it. The reason names each bad column.
func outboxCheck(cat *catalog.Catalog, validate bool) store.OutboxCheck {
	return func(r store.OutboxRow) string {
		var reasons []string
		for _, f := range server.CheckEvent(cat, r.Event, r.Data, validate) {
			reasons = append(reasons, f.Field+" "+f.Message)
		}
		if msg := server.CheckDataSize(r.Data); msg != "" {
			reasons = append(reasons, "data "+msg)
		}
		if r.IdempotencyKey != nil {
			if msg := server.CheckIdempotencyKey(*r.IdempotencyKey); msg != "" {
				reasons = append(reasons, "idempotency_key "+msg)
			}
		}
		return strings.Join(reasons, "; ")
	}
}

// buildAPI makes the API handler and its http.Server.
func (a *app) buildAPI(tokens *auth.Tokens, guard netguard.Policy) error {
	c := a.cfg
	var metricsOnAPI http.Handler // /metrics on the API port unless --metrics-addr moves it
	if c.metricsAddr == "" {
		metricsOnAPI = a.meters.Handler()
	}
	var inboxes *inbox.Inbox
	testSender := delivery.TestSender{Sender: a.sender, Store: a.st}
	if c.inbox {
		inboxes = inbox.New(inbox.Config{Lookup: a.st.DeliveryWebhook, Port: guard.InboxPort, Logger: a.logger})
		testSender.Expect = inboxes.Expect
	}
	var webConsole http.Handler
	if c.console {
		webConsole = console.Handler(c.frameAncestors)
	}
	var err error
	a.api, err = server.New(server.Config{
		Store: a.st, Publisher: countingPublisher{a.publisher, a.meters}, Catalog: c.catalog, Tokens: tokens,
		Sender: testSender, Waker: a.dispatcher, Logger: a.logger, Version: version,
		CheckURL: guard.CheckURL, SecretGrace: c.secretGrace, Readiness: a.dispatcher, ReservedHeader: delivery.ReservedHeader,
		Throttle: server.Throttle{MaxFailures: c.loginMaxFailures, Window: c.loginWindow, MaxChecks: c.maxPasswordChecks},
		Metrics:  metricsOnAPI, Inbox: inboxes, Console: webConsole, Trusted: a.trusted,
		WriteTimeout: c.writeTimeout, MaxStreams: c.maxStreams, MaxStreamsPerUser: c.maxStreamsPerUser, Now: a.st.Now,
		AutoCreateTenants: c.autoCreateTenants, PublicURL: c.publicURL, SkipEventValidation: !c.validateEvents,
		FirstUserEmail: a.firstUser,
	})
	if err != nil {
		return err
	}
	a.httpServer = newHTTPServer(a.api, a.logger)
	// Shutdown waits for handlers to return; open event streams would not.
	a.httpServer.RegisterOnShutdown(a.api.CloseStreams)
	return nil
}

// Run serves until ctx ends or the API server fails, then shuts down in
// order: stop taking requests, stop leasing and let in-flight sends finish
// or be released, then close the store. Background work lives until the
// dispatcher stops, after the HTTP server, so that deliveries accepted
// during shutdown still go out.
func (a *app) Run(ctx context.Context) error {
	defer a.close()
	c, st, logger := a.cfg, a.st, a.logger
	metricsDone := a.serveMetrics()
	bgCtx, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBackground()
	var background sync.WaitGroup
	background.Go(func() { st.ListenForWork(bgCtx, a.dispatcher.Wake, logger) })
	// The authenticated requests' user lookups, from memory while its
	// listener keeps the cache exact (PostgreSQL).
	background.Go(func() { st.RunUserCache(bgCtx, logger) })
	background.Go(func() {
		// Fan-outs a stopped process left half done: at start, then now
		// and then for those another process (PostgreSQL) left.
		st.RunFanOuts(bgCtx, time.Minute, a.dispatcher.Wake, logger)
	})
	background.Go(func() { delivery.Retention{Store: st, Keep: c.retention, Logger: logger}.Run(bgCtx) })
	if a.consumer != nil {
		background.Go(func() { a.consumer.Run(bgCtx) })
	}
	dispatchDone := make(chan error, 1)
	go func() { dispatchDone <- a.dispatcher.Run(bgCtx) }()
	serveDone := make(chan error, 1)
	go func() { serveDone <- a.httpServer.Serve(newConnLimit(c.maxConnections).wrap(a.ln)) }()
	logger.Info("webhookd listening", "addr", a.ln.Addr().String(), "db", string(st.Kind()), "database", st.Label(), "version", version, "outbox", a.consumer != nil)

	var serveErr error
	served := false
	select {
	case <-ctx.Done():
		logger.Info("shutting down", "grace", c.shutdownGrace)
	case serveErr = <-serveDone:
		served = true
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), c.shutdownGrace+5*time.Second)
	defer cancel()
	if err := a.httpServer.Shutdown(shutdownCtx); err != nil {
		logger.Warn("http shutdown", "err", err)
	}
	if !served {
		// Shutdown has made Serve return (http.ErrServerClosed): wait
		// for it, so that no goroutine of Run's outlives Run.
		serveErr = <-serveDone
	}
	if a.metricsServer != nil {
		_ = a.metricsServer.Shutdown(shutdownCtx)
	}
	<-metricsDone
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

// serveMetrics serves --metrics-addr, when set, until its server is shut
// down; the returned channel is closed once it has stopped.
func (a *app) serveMetrics() <-chan struct{} {
	done := make(chan struct{})
	if a.metricsServer == nil {
		close(done)
		return done
	}
	go func() {
		defer close(done)
		if err := a.metricsServer.Serve(newConnLimit(a.cfg.maxConnections).wrap(a.metricsLn)); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.logger.Error("metrics server", "err", err)
		}
	}()
	a.logger.Info("metrics listening", "addr", a.metricsLn.Addr().String())
	return done
}

// close releases what the app holds, in the reverse of the order it was
// made: the publisher flushes into the store before the store closes.
// Closing a listener the server has closed already is a no-op.
func (a *app) close() {
	if a.trusted != nil {
		a.trusted.Close()
	}
	if a.publisher != nil {
		a.publisher.Close()
	}
	if a.sender != nil {
		a.sender.Close()
	}
	if a.st != nil {
		a.st.Close()
	}
	if a.metricsLn != nil {
		a.metricsLn.Close()
	}
	a.ln.Close()
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
// It answers the email of the user it created, or "" when it created none
// (the user existed, another process made it first, or this database
// created it once already and it has since been deleted).
func ensureAdmin(ctx context.Context, st *store.Store, email, password string, stdout io.Writer, logger *slog.Logger) (string, error) {
	if email != "" || password != "" {
		if email == "" || password == "" {
			return "", errors.New("set both WEBHOOKD_ADMIN_EMAIL and WEBHOOKD_ADMIN_PASSWORD, or neither")
		}
		if _, err := st.UserByEmail(ctx, email); err == nil {
			return "", nil
		} else if !errors.Is(err, store.ErrNotFound) {
			return "", err
		}
		// The variables bootstrap a database once. An administrator
		// deleted afterwards (someone who left) must not come back at the
		// next restart with the password still sitting in the environment.
		createdKey := "admin_created:" + strings.ToLower(email)
		if _, err := st.Setting(ctx, createdKey); err == nil {
			logger.Warn("WEBHOOKD_ADMIN_EMAIL names a user this database created once and that has since been deleted: not creating it again; remove WEBHOOKD_ADMIN_EMAIL and WEBHOOKD_ADMIN_PASSWORD, or use 'webhookd user create'", "email", email)
			return "", nil
		} else if !errors.Is(err, store.ErrNotFound) {
			return "", err
		}
		u, err := createUser(ctx, st, email, password, "")
		if errors.Is(err, store.ErrConflict) {
			return "", nil // another process created it first
		}
		if err != nil {
			return "", fmt.Errorf("WEBHOOKD_ADMIN_EMAIL: %w", err)
		}
		if _, err := st.SettingOrInit(ctx, createdKey, u.ID); err != nil {
			return "", fmt.Errorf("WEBHOOKD_ADMIN_EMAIL: %w", err)
		}
		logger.Info("created admin user", "email", u.Email)
		return u.Email, nil
	}
	n, err := st.CountUsers(ctx)
	if err != nil || n > 0 {
		return "", err
	}
	password = auth.RandomSecret(18)
	u, err := createUser(ctx, st, "admin@localhost", password, "")
	if err != nil {
		if errors.Is(err, store.ErrConflict) {
			return "", nil // another process created it first
		}
		return "", err
	}
	fmt.Fprintf(stdout, "\nCreated the first user. Log in with:\n  email:    %s\n  password: %s\nThis password is shown once: keep it, or create your own user with 'webhookd user create'.\n\n", u.Email, password)
	return u.Email, nil
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
