package delivery

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/webhookd/webhookd/auth"
	"github.com/webhookd/webhookd/store"
)

// MaxResponseBody is how much of a receiver's answer is kept in the log.
const MaxResponseBody = 16 << 10

// drainLimit is how much more of an answer is read and thrown away so that
// the connection can be reused; past it the connection is closed instead.
const drainLimit = 64 << 10

// SenderConfig configures a Sender.
type SenderConfig struct {
	Version string        // for User-Agent: webhookd/<version>
	Timeout time.Duration // per attempt, connect to last byte
	// DialControl vets the address actually dialled (after DNS), such as
	// the private-address guard; nil allows every address.
	DialControl func(network, address string, c syscall.RawConn) error
	// MaxConnsPerHost bounds connections to one receiver host.
	MaxConnsPerHost int
	// Logger receives one debug line per attempt (nil: none).
	Logger *slog.Logger
	// Now is the clock of the webhook-timestamp header and of Retry-After
	// dates, whose wait the dispatcher adds to the store's clock; main
	// passes the store's (default time.Now).
	Now func() time.Time
}

// Sender makes single delivery attempts. It is safe for concurrent use and
// keeps connections alive per host.
type Sender struct {
	client    *retryablehttp.Client
	transport *http.Transport
	userAgent string
	timeout   time.Duration
	now       func() time.Time
	logger    *slog.Logger
}

// NewSender builds a Sender.
func NewSender(cfg SenderConfig) *Sender {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	dialer := &net.Dialer{Timeout: min(cfg.Timeout, 10*time.Second), KeepAlive: 30 * time.Second, Control: cfg.DialControl}
	transport := &http.Transport{
		Proxy:                 nil, // a proxy would dial on our behalf and defeat DialControl
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   idlePerHost(cfg.MaxConnsPerHost),
		MaxConnsPerHost:       cfg.MaxConnsPerHost,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   min(cfg.Timeout, 10*time.Second),
		ExpectContinueTimeout: time.Second,
		ResponseHeaderTimeout: cfg.Timeout,
	}
	client := &retryablehttp.Client{
		HTTPClient: &http.Client{
			// retryablehttp's Do calls CloseIdleConnections on the client
			// after a failed request, which would drop every healthy
			// receiver's keep-alive connections whenever one receiver
			// fails; hiding the method keeps them.
			Transport: keepIdle{transport},
			// A redirect is a failed attempt: following it could lead a
			// signed payload anywhere.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		// One attempt per call: the durable schedule in the database does
		// the retrying, never a sleeping worker.
		RetryMax:     0,
		CheckRetry:   func(context.Context, *http.Response, error) (bool, error) { return false, nil },
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
		Logger:       nil,
	}
	return &Sender{client: client, transport: transport, userAgent: "webhookd/" + cfg.Version, timeout: cfg.Timeout, now: cfg.Now, logger: cfg.Logger}
}

// idlePerHost is how many idle connections to one receiver host the
// sender keeps: as many as it may open to it, so that a burst of sends to
// one host (a fan-out to many webhooks of one CRM backend) finds its
// connections again for the next burst instead of closing all but 64 and
// dialling them anew (15% of a 10,000-webhook fan-out's sending CPU).
// Unbounded connections keep 64.
func idlePerHost(maxConns int) int {
	return max(64, maxConns)
}

// ReservedHeader reports whether a header name belongs to webhookd (or to
// HTTP itself) and so cannot be set as a webhook's custom header.
func ReservedHeader(name string) bool {
	c := textproto.CanonicalMIMEHeaderKey(name)
	switch c {
	case "Content-Type", "Content-Length", "User-Agent", "Host", "Connection", "Transfer-Encoding",
		"Te", "Trailer", "Upgrade", "Keep-Alive", "Proxy-Connection", "Expect", "Accept-Encoding":
		return true
	}
	return strings.HasPrefix(c, "X-Webhook-") || strings.HasPrefix(c, "Webhook-")
}

// Close drops idle connections.
func (s *Sender) Close() { s.transport.CloseIdleConnections() }

// keepIdle hides http.Transport's CloseIdleConnections from retryablehttp.
type keepIdle struct{ rt http.RoundTripper }

func (k keepIdle) RoundTrip(r *http.Request) (*http.Response, error) { return k.rt.RoundTrip(r) }

// Request is one attempt to make.
type Request struct {
	DeliveryID string // the stable id receivers de-duplicate by
	EventType  string
	OccurredAt time.Time
	Data       []byte
	URL        string
	Secret     string
	// PreviousSecret, during a rotation's grace period, adds a second
	// webhook-signature entry so receivers still holding it verify.
	PreviousSecret string
	// Headers are the webhook's static headers; they never replace
	// webhookd's own.
	Headers map[string]string
	// Timeout overrides the sender's timeout when positive.
	Timeout time.Duration
}

// Outcome is what one attempt produced. It is data, not an error: a
// receiver's failure is a normal result.
type Outcome struct {
	Success        bool
	StatusCode     int
	Duration       time.Duration
	Error          string // in words: timeout, refused, DNS, TLS, HTTP status
	ResponseBody   []byte
	RetryAfter     time.Duration
	RequestHeaders map[string]string
	RequestBody    []byte
	// Canceled is set when the attempt was cut short by shutdown; it did not
	// really happen and is not recorded.
	Canceled bool
}

// Send makes one signed attempt.
func (s *Sender) Send(ctx context.Context, req Request) Outcome {
	out := s.send(ctx, req)
	if s.logger != nil {
		s.logger.Debug("delivery attempt", "delivery_id", req.DeliveryID, "event", req.EventType,
			"status", out.StatusCode, "success", out.Success, "duration", out.Duration, "error", out.Error)
	}
	return out
}

func (s *Sender) send(ctx context.Context, req Request) Outcome {
	body := Envelope(req.EventType, req.OccurredAt, req.Data)
	now := s.now()
	headers := map[string]string{
		"Content-Type":        "application/json",
		"User-Agent":          s.userAgent,
		"X-Webhook-Event":     req.EventType,
		"X-Webhook-Id":        req.DeliveryID,
		"X-Webhook-Signature": SignatureHeader(req.Secret, body),
		"webhook-id":          req.DeliveryID,
		"webhook-timestamp":   strconv.FormatInt(now.Unix(), 10),
	}
	for k, v := range req.Headers {
		// A custom header never replaces one of webhookd's own, whatever
		// its case.
		if !ReservedHeader(k) {
			headers[k] = v
		}
	}
	sig := StandardSignature(req.Secret, req.DeliveryID, now.Unix(), body)
	if req.PreviousSecret != "" {
		// The spec lists several signatures space-separated; a receiver
		// accepts the delivery if any of them verifies.
		sig += " " + StandardSignature(req.PreviousSecret, req.DeliveryID, now.Unix(), body)
	}
	headers["webhook-signature"] = sig
	out := Outcome{RequestHeaders: headers, RequestBody: body}

	timeout := s.timeout
	if req.Timeout > 0 {
		timeout = req.Timeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	hreq, err := retryablehttp.NewRequestWithContext(ctx, http.MethodPost, req.URL, body)
	if err != nil {
		out.Error = "invalid request: " + err.Error()
		return out
	}
	for k, v := range headers {
		// Set as written: the Standard Webhooks names go out lower-case.
		hreq.Header[k] = []string{v}
	}
	start := time.Now()
	resp, err := s.client.Do(hreq)
	if err != nil {
		out.Duration = time.Since(start)
		// Canceled (not DeadlineExceeded) means the caller gave up, not
		// the receiver: shutdown, not a failed attempt.
		out.Canceled = errors.Is(ctx.Err(), context.Canceled)
		out.Error = describe(err, timeout)
		return out
	}
	defer resp.Body.Close()
	out.StatusCode = resp.StatusCode
	respBody, _ := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBody))
	out.Duration = time.Since(start)
	out.ResponseBody = respBody
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, drainLimit))
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		out.Error = fmt.Sprintf("HTTP %d: redirect not followed (Location: %s)", resp.StatusCode, resp.Header.Get("Location"))
	case resp.StatusCode < 200 || resp.StatusCode >= 300:
		out.Error = fmt.Sprintf("HTTP %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
		out.RetryAfter = parseRetryAfter(resp.StatusCode, resp.Header, s.now())
	default:
		// A 2xx counts even when the body did not finish in time (or at
		// all): the status is the receiver's answer.
		out.Success = true
	}
	return out
}

// describe puts a transport error in words for the log.
func describe(err error, timeout time.Duration) string {
	var dnsErr *net.DNSError
	var opErr *net.OpError
	var certErr *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var recordErr tls.RecordHeaderError
	var urlErr *url.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		return fmt.Sprintf("timeout: no complete answer within %s", timeout)
	case errors.Is(err, context.Canceled):
		return "canceled: webhookd was shutting down"
	case errors.As(err, &dnsErr):
		if dnsErr.IsNotFound {
			return fmt.Sprintf("DNS: host %s not found", dnsErr.Name)
		}
		return fmt.Sprintf("DNS: lookup of %s failed: %s", dnsErr.Name, dnsErr.Err)
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset by the receiver"
	case errors.As(err, &certErr), errors.As(err, &unknownAuth), errors.As(err, &hostErr):
		return "TLS: certificate not trusted: " + err.Error()
	case errors.As(err, &recordErr):
		return "TLS: the receiver did not answer with TLS (is the URL http://?)"
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return "connection failed: " + opErr.Err.Error()
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed by the receiver before it answered"
	case errors.As(err, &urlErr):
		return "request failed: " + urlErr.Err.Error()
	default:
		return "request failed: " + err.Error()
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// logFor turns an outcome into the attempt's log row.
func logFor(o Outcome, webhookID, eventID, deliveryID, eventType string, attempt int) store.Log {
	l := store.Log{
		WebhookID: webhookID, EventID: eventID, DeliveryID: deliveryID, EventType: eventType, Attempt: attempt,
		Status: store.AttemptFailed, StatusCode: o.StatusCode, DurationMs: o.Duration.Milliseconds(), Error: cleanText(o.Error),
		RequestHeaders: redactHeaders(o.RequestHeaders), RequestBody: o.RequestBody, ResponseBody: o.ResponseBody,
	}
	if o.Success {
		l.Status = store.AttemptSuccess
	}
	return l
}

// cleanText makes error text safe to store: receivers control parts of it
// (a Location header, say), and PostgreSQL refuses text that is not UTF-8
// or holds NUL.
func cleanText(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// redactHeaders hides the values of custom headers that carry credentials
// (a receiver's Authorization, API keys, tokens) before the log keeps them.
func redactHeaders(h map[string]string) map[string]string {
	out := make(map[string]string, len(h))
	for k, v := range h {
		if auth.CredentialHeader(k) {
			v = "[redacted]"
		}
		out[k] = v
	}
	return out
}

// TestSender sends and records test deliveries for the API's test route.
type TestSender struct {
	Sender *Sender
	Store  *store.Store
	// Expect, when set, is told of each test delivery's id and webhook
	// just before it is sent, and the func it returns is called once the
	// attempt is over. A test delivery is stored only after its attempt,
	// and the development inbox (inbox.Inbox.Expect) attributes a capture
	// by the delivery it names, so it learns of this one in advance.
	Expect func(deliveryID string, w store.Webhook) (done func())
}

// SendTest sends one signed delivery of the given type and payload to the
// webhook now, records it as a test attempt, and returns its log row.
func (t TestSender) SendTest(ctx context.Context, w store.Webhook, eventType string, payload []byte) (store.Log, error) {
	deliveryID := store.NewID()
	// The store's clock: the rotated-out secret's expiry it is compared
	// with was stamped by it.
	now := t.Store.Now()
	req := Request{DeliveryID: deliveryID, EventType: eventType, OccurredAt: now, Data: payload, URL: w.URL, Secret: w.Secret,
		Headers: w.Headers, Timeout: time.Duration(w.TimeoutSeconds) * time.Second, PreviousSecret: w.SigningPreviousSecret(now)}
	if t.Expect != nil {
		done := t.Expect(deliveryID, w)
		defer done()
	}
	// A test send behaves as a real delivery would, custom headers,
	// timeout and rotation included. It goes on, bounded by that timeout,
	// when the API caller hangs up: canceled with the request, it was
	// recorded as "canceled: webhookd was shutting down", which it was not,
	// instead of the receiver's answer.
	ctx = context.WithoutCancel(ctx)
	o := t.Sender.Send(ctx, req)
	l := logFor(o, w.ID, "", deliveryID, eventType, 1)
	rec, err := t.Store.RecordTestAttempt(ctx, store.TestAttempt{TenantID: w.TenantID, OccurredAt: now, Payload: payload, Log: l})
	if err != nil {
		return store.Log{}, fmt.Errorf("delivery: record test attempt: %w", err)
	}
	return rec, nil
}
