// Package server is webhookd's HTTP API: every route in one list, the
// authentication middleware, request decoding and validation, the JSON wire
// types and the mapping of errors to status codes. It never speaks SQL; it
// calls the store, and reaches the delivery engine only through the small
// interfaces below.
package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/webhookd/webhookd/auth"
	"github.com/webhookd/webhookd/catalog"
	"github.com/webhookd/webhookd/inbox"
	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/trust"
)

// TestSender sends one signed test delivery now and records it.
type TestSender interface {
	SendTest(ctx context.Context, w store.Webhook, eventType string, payload []byte) (store.Log, error)
}

// Waker is told when new work may be due, so deliveries start at once.
type Waker interface {
	Wake()
}

// Publisher accepts events durably. The store satisfies it directly; a
// group-committing publisher can stand in front of it.
type Publisher interface {
	PublishEvents(ctx context.Context, batch []store.PublishParams) ([]store.PublishResult, error)
}

// Config is what a Server needs.
type Config struct {
	Store     *store.Store
	Publisher Publisher // defaults to Store
	Catalog   *catalog.Catalog
	Tokens    *auth.Tokens
	Sender    TestSender
	Waker     Waker
	Logger    *slog.Logger
	Version   string
	// CheckURL vets a webhook URL beyond syntax (the private-address guard);
	// nil accepts every well-formed http(s) URL. ctx is the saving
	// request's.
	CheckURL func(ctx context.Context, u *url.URL) error
	// SecretGrace is how long a rotated-out secret keeps signing.
	SecretGrace time.Duration
	// Throttle limits failed logins; a zero MaxFailures turns it off.
	Throttle Throttle
	// Readiness reports the dispatcher's state for /readyz (nil: not
	// checked).
	Readiness Readiness
	// Metrics, when set, is served at GET /metrics.
	Metrics http.Handler
	// ReservedHeader reports header names webhookd sets on deliveries,
	// which a webhook's custom headers may not use (nil: none).
	ReservedHeader func(name string) bool
	// Inbox, when set, is served: captures at /inbox/:name for anyone,
	// and read at /api/v1/inboxes/:name by signed-in users.
	Inbox *inbox.Inbox
	// Console, when set, is the web console, served at GET / and
	// GET /console/*file.
	Console http.Handler
	// WriteTimeout is how long any answer may take to write, counted from
	// its first byte, so a client that stops reading cannot pin a
	// connection and its send buffer; event streams instead get it anew
	// for each event they send. Zero: no deadline.
	WriteTimeout time.Duration
	// MaxStreams and MaxStreamsPerUser cap the event streams open at once,
	// in all and per user; beyond them a stream is refused with 429.
	// Zero: no cap.
	MaxStreams, MaxStreamsPerUser int
	// StreamRecheck is how often an open event stream checks that its
	// credential is still valid, ending the stream when it is not
	// (default DefaultStreamRecheck).
	StreamRecheck time.Duration
	// Trusted, when set, verifies the CRM's own access tokens: a bearer
	// credential that is neither an API key nor a webhookd token is
	// accepted when it verifies, for its tenant and member (issue 15).
	// Nil: only webhookd's own credentials are accepted.
	Trusted *trust.Verifier
	// SkipEventValidation accepts any data on publish instead of checking
	// it against its type's schema in the catalogue
	// (--validate-events=false).
	SkipEventValidation bool
	// AutoCreateTenants lets a service key publish for a tenant that
	// does not exist yet, creating it, instead of answering 404.
	AutoCreateTenants bool
	// PublicURL is the console's address as browsers reach it, for portal
	// session URLs ("": the scheme and host each request came to).
	PublicURL string
	// FirstUserEmail is the email of the first user serve created on this
	// start (""; none): GET /api/v1/console/config names it to the
	// sign-in page until that user signs in.
	FirstUserEmail string
	// Now is the clock compared with times the store stamped (login
	// failures, an API key's last use, attempts for streams and charts)
	// and stamped on published events; main passes the store's (default
	// time.Now). Write deadlines stay on the real clock.
	Now func() time.Time
}

// Server serves the API.
type Server struct {
	store     *store.Store
	publisher Publisher
	catalog   *catalog.Catalog
	tokens    *auth.Tokens
	trusted   *trust.Verifier // nil: off
	sender    TestSender
	waker     Waker
	logger    *slog.Logger
	version   string
	checkURL  func(context.Context, *url.URL) error
	router    *httprouter.Router

	secretGrace time.Duration
	throttle    Throttle
	checks      chan struct{} // one slot per password check running; nil: no bound
	readiness   Readiness
	metrics     http.Handler

	reservedHeader func(string) bool
	inbox          *inbox.Inbox
	console        http.Handler

	// streams ends with CloseStreams: long-lived event streams watch it.
	streams      context.Context
	closeStreams context.CancelFunc

	autoCreateTenants bool
	checkEventData    bool
	publicURL         string
	firstUser         firstUser

	writeTimeout  time.Duration
	streamLimits  *streamLimits
	streamRecheck time.Duration
	now           func() time.Time
}

// New builds a Server from cfg.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil || cfg.Catalog == nil || cfg.Tokens == nil || cfg.Sender == nil {
		return nil, fmt.Errorf("server: Store, Catalog, Tokens and Sender are required")
	}
	s := &Server{
		store: cfg.Store, publisher: cfg.Publisher, catalog: cfg.Catalog, tokens: cfg.Tokens, trusted: cfg.Trusted,
		sender: cfg.Sender, waker: cfg.Waker, logger: cfg.Logger, version: cfg.Version, checkURL: cfg.CheckURL,
		secretGrace: cfg.SecretGrace, throttle: cfg.Throttle, readiness: cfg.Readiness, metrics: cfg.Metrics,
		reservedHeader: cfg.ReservedHeader, inbox: cfg.Inbox, console: cfg.Console,
		autoCreateTenants: cfg.AutoCreateTenants, publicURL: cfg.PublicURL, checkEventData: !cfg.SkipEventValidation,
		writeTimeout: cfg.WriteTimeout, streamRecheck: cfg.StreamRecheck, now: cfg.Now,
		streamLimits: &streamLimits{maxTotal: cfg.MaxStreams, maxPerUser: cfg.MaxStreamsPerUser},
	}
	s.firstUser.email = cfg.FirstUserEmail
	if cfg.WriteTimeout < 0 || cfg.MaxStreams < 0 || cfg.MaxStreamsPerUser < 0 || cfg.StreamRecheck < 0 {
		return nil, fmt.Errorf("server: WriteTimeout, MaxStreams, MaxStreamsPerUser and StreamRecheck must not be negative")
	}
	if s.streamRecheck == 0 {
		s.streamRecheck = DefaultStreamRecheck
	}
	s.streams, s.closeStreams = context.WithCancel(context.Background())
	if cfg.Throttle.MaxChecks > 0 {
		s.checks = make(chan struct{}, cfg.Throttle.MaxChecks)
	}
	if s.publisher == nil {
		s.publisher = cfg.Store
	}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	if s.waker == nil {
		s.waker = nopWaker{}
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.routes()
	return s, nil
}

type nopWaker struct{}

func (nopWaker) Wake() {}

// ServeHTTP implements http.Handler. Every answer gets the write deadline
// here, rather than as http.Server.WriteTimeout, so that the rule lives
// beside the event streams that move it on per event.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.writeTimeout > 0 {
		w = &deadlineWriter{ResponseWriter: w, timeout: s.writeTimeout}
	}
	s.router.ServeHTTP(w, r)
}

// deadlineWriter sets the connection's write deadline when its answer
// starts: writing may take WriteTimeout, however long the handler worked
// first (a test send waits up to --delivery-timeout for the receiver).
type deadlineWriter struct {
	http.ResponseWriter
	timeout time.Duration
	started bool
}

func (d *deadlineWriter) start() {
	if !d.started {
		d.started = true
		// ErrNotSupported (a recorder, say) leaves the answer unbounded.
		_ = http.NewResponseController(d.ResponseWriter).SetWriteDeadline(time.Now().Add(d.timeout))
	}
}

// WriteHeader starts the answer, and its deadline.
func (d *deadlineWriter) WriteHeader(code int) {
	d.start()
	d.ResponseWriter.WriteHeader(code)
}

// Write starts the answer, and its deadline, if WriteHeader has not.
func (d *deadlineWriter) Write(p []byte) (int, error) {
	d.start()
	return d.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection.
func (d *deadlineWriter) Unwrap() http.ResponseWriter { return d.ResponseWriter }

// routes is every route webhookd serves.
func (s *Server) routes() {
	r := httprouter.New()
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	r.HandleOPTIONS = false
	r.NotFound = s.handle(func(w http.ResponseWriter, r *http.Request) error {
		return errorf(http.StatusNotFound, "no route for %s %s", r.Method, r.URL.Path)
	})
	r.MethodNotAllowed = s.handle(func(w http.ResponseWriter, r *http.Request) error {
		return errorf(http.StatusMethodNotAllowed, "method %s not allowed on %s", r.Method, r.URL.Path)
	})
	r.PanicHandler = func(w http.ResponseWriter, r *http.Request, v any) {
		s.writeError(w, r, fmt.Errorf("panic: %v", v))
	}

	public := func(method, path string, h handlerFunc) { r.Handler(method, path, s.handle(h)) }
	// private routes act for one tenant; a service key names it in the
	// Webhookd-Tenant header.
	private := func(method, path string, h handlerFunc) {
		r.Handler(method, path, s.handle(s.authenticated(scopeTenant, h)))
	}
	// anyTenant routes take the tenant from the body, or need none.
	anyTenant := func(method, path string, h handlerFunc) {
		r.Handler(method, path, s.handle(s.authenticated(scopeAnyTenant, h)))
	}
	// service routes manage tenants: service keys only.
	service := func(method, path string, h handlerFunc) {
		r.Handler(method, path, s.handle(s.authenticated(scopeService, h)))
	}

	// Health checks and pages also answer HEAD, as `curl -I` and some load
	// balancers ask; net/http sends no body for it.
	public(http.MethodGet, "/healthz", s.handleHealthz)
	public(http.MethodHead, "/healthz", s.handleHealthz)
	public(http.MethodGet, "/readyz", s.handleReadyz)
	public(http.MethodHead, "/readyz", s.handleReadyz)
	if s.metrics != nil {
		r.Handler(http.MethodGet, "/metrics", s.metrics)
	}
	public(http.MethodGet, "/api/v1/openapi.json", s.handleOpenAPI)
	public(http.MethodPost, "/api/v1/auth/login", s.handleLogin)
	public(http.MethodGet, "/api/v1/console/config", s.handleConsoleConfig)
	anyTenant(http.MethodGet, "/api/v1/auth/me", s.handleMe)
	anyTenant(http.MethodPost, "/api/v1/auth/password", s.handlePasswordChange)
	anyTenant(http.MethodGet, "/api/v1/event-types", s.handleEventTypes)
	anyTenant(http.MethodPost, "/api/v1/filters/test", s.handleFilterTest)

	private(http.MethodPost, "/api/v1/webhooks", s.handleWebhookCreate)
	private(http.MethodGet, "/api/v1/webhooks", s.handleWebhookList)
	private(http.MethodGet, "/api/v1/webhooks/:id", s.handleWebhookGet)
	private(http.MethodPatch, "/api/v1/webhooks/:id", s.handleWebhookUpdate)
	private(http.MethodPut, "/api/v1/webhooks/:id", s.handleWebhookUpdate)
	private(http.MethodDelete, "/api/v1/webhooks/:id", s.handleWebhookDelete)
	private(http.MethodPost, "/api/v1/webhooks/:id/test", s.handleWebhookTest)
	private(http.MethodGet, "/api/v1/webhooks/:id/logs", s.handleLogList)
	// httprouter cannot hold /logs/stream beside /logs/:logId, so the log
	// route answers "stream" itself (no log id is that word).
	private(http.MethodGet, "/api/v1/webhooks/:id/logs/:logId", s.handleLogGetOrStream)
	private(http.MethodGet, "/api/v1/webhooks/:id/stats", s.handleWebhookStats)
	private(http.MethodGet, "/api/v1/webhooks/:id/stats/series", s.handleWebhookSeries)
	private(http.MethodPost, "/api/v1/webhooks/:id/rotate-secret", s.handleWebhookRotateSecret)
	private(http.MethodPost, "/api/v1/webhooks/:id/replay", s.handleWebhookReplay)
	private(http.MethodPost, "/api/v1/webhooks/:id/logs/:logId/redeliver", s.handleLogRedeliver)

	anyTenant(http.MethodPost, "/api/v1/events", s.handleEventPublish)
	anyTenant(http.MethodPost, "/api/v1/events/batch", s.handleEventPublishBatch)
	private(http.MethodGet, "/api/v1/events/:id", s.handleEventGet)

	private(http.MethodPost, "/api/v1/api-keys", s.handleAPIKeyCreate)
	private(http.MethodGet, "/api/v1/api-keys", s.handleAPIKeyList)
	private(http.MethodDelete, "/api/v1/api-keys/:id", s.handleAPIKeyDelete)
	private(http.MethodGet, "/api/v1/members", s.handleMemberList)

	service(http.MethodGet, "/api/v1/tenants", s.handleTenantList)
	service(http.MethodPut, "/api/v1/tenants/:id", s.handleTenantPut)
	service(http.MethodGet, "/api/v1/tenants/:id", s.handleTenantGet)
	service(http.MethodDelete, "/api/v1/tenants/:id", s.handleTenantDelete)
	service(http.MethodPost, "/api/v1/tenants/:id/portal-sessions", s.handlePortalSessionCreate)
	service(http.MethodGet, "/api/v1/outbox/dead", s.handleOutboxDeadList)

	if s.inbox != nil {
		// POST, PUT, PATCH and DELETE are captured; GET describes the
		// inbox. Receivers cannot authenticate senders, so this is public.
		public(http.MethodGet, "/inbox/:name", s.handleInboxCapture)
		public(http.MethodPost, "/inbox/:name", s.handleInboxCapture)
		public(http.MethodPut, "/inbox/:name", s.handleInboxCapture)
		public(http.MethodPatch, "/inbox/:name", s.handleInboxCapture)
		public(http.MethodDelete, "/inbox/:name", s.handleInboxCapture)
		private(http.MethodGet, "/api/v1/inboxes/:name", s.handleInboxList)
		private(http.MethodGet, "/api/v1/inboxes/:name/stream", s.handleInboxStream)
	}
	if s.console != nil {
		r.Handler(http.MethodGet, "/", s.console)
		r.Handler(http.MethodHead, "/", s.console)
		r.Handler(http.MethodGet, "/console/*file", s.console)
		r.Handler(http.MethodHead, "/console/*file", s.console)
	}
	s.router = r
}

// handleLogGetOrStream serves GET .../logs/stream and GET .../logs/:logId.
func (s *Server) handleLogGetOrStream(w http.ResponseWriter, r *http.Request) error {
	if param(r, "logId") == "stream" {
		return s.handleLogStream(w, r)
	}
	return s.handleLogGet(w, r)
}

// param returns a path parameter of the current route.
func param(r *http.Request, name string) string {
	return httprouter.ParamsFromContext(r.Context()).ByName(name)
}
