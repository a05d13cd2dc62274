package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/webhookd/webhookd/auth"
	"github.com/webhookd/webhookd/store"
)

// Field limits for webhooks.
const (
	maxNameLength        = 255
	maxURLLength         = 2048
	maxDescriptionLength = 2000
	maxEventPatterns     = 100
	minSecretLength      = 8
	maxSecretLength      = 1024
	maxHeaders           = 20
	maxHeaderValue       = 1024
	maxRateLimit         = 10000
	maxTimeoutSeconds    = 30
	maxOrderingKeyLength = 200
)

// validateHeaders checks custom headers: HTTP token names that are not
// webhookd's own, values without line breaks.
func (s *Server) validateHeaders(h map[string]string) []string {
	if len(h) > maxHeaders {
		return []string{fmt.Sprintf("must have at most %d entries", maxHeaders)}
	}
	var msgs []string
	for name, value := range h {
		switch {
		case name == "" || strings.IndexFunc(name, func(r rune) bool { return !isTokenChar(r) }) >= 0:
			msgs = append(msgs, fmt.Sprintf("%q is not a valid header name", name))
		case s.reservedHeader != nil && s.reservedHeader(name):
			msgs = append(msgs, fmt.Sprintf("%q is set by webhookd and cannot be overridden", name))
		case len(value) > maxHeaderValue:
			msgs = append(msgs, fmt.Sprintf("the value of %q must be at most %d bytes", name, maxHeaderValue))
		case strings.IndexFunc(value, func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f }) >= 0:
			msgs = append(msgs, fmt.Sprintf("the value of %q must not contain control characters", name))
		}
	}
	slices.Sort(msgs)
	return msgs
}

// isTokenChar reports whether r may appear in an HTTP header name.
func isTokenChar(r rune) bool {
	return r < 0x7f && r > ' ' && !strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r)
}

type webhookCreateRequest struct {
	Name        *string   `json:"name"`
	URL         *string   `json:"url"`
	Events      *[]string `json:"events"`
	Secret      *string   `json:"secret"`
	Description *string   `json:"description"`
	IsActive    *bool     `json:"isActive"`
	// Headers replaces the whole set of custom headers when given.
	Headers        *map[string]string `json:"headers"`
	RateLimit      *int               `json:"rateLimit"`
	TimeoutSeconds *int               `json:"timeoutSeconds"`
	// Ordering is "none" or "fifo"; OrderingKey, only with "fifo", is a
	// dotted path into the envelope ("data.conversationId").
	Ordering    *string `json:"ordering"`
	OrderingKey *string `json:"orderingKey"`
	// Filter is a payload filter (package filter); null removes it.
	Filter json.RawMessage `json:"filter"`
}

// webhookPatchRequest has the same fields; every one is optional.
type webhookPatchRequest = webhookCreateRequest

// validateWebhook checks every given field, reports every bad one at once, and
// returns the cleaned values. With create set, name, url and events are
// required.
func (s *Server) validateWebhook(ctx context.Context, req webhookCreateRequest, create bool) (store.WebhookPatch, error) {
	var p store.WebhookPatch
	var bad []FieldError
	fail := func(field, format string, args ...any) {
		bad = append(bad, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	if req.Name != nil {
		name := strings.TrimSpace(*req.Name)
		switch n := utf8.RuneCountInString(name); {
		case n == 0:
			fail("name", "must not be empty")
		case n > maxNameLength:
			fail("name", "must be at most %d characters", maxNameLength)
		case hasControl(name):
			fail("name", "must not contain control characters")
		default:
			p.Name = &name
		}
	} else if create {
		fail("name", "is required")
	}
	if req.URL != nil {
		u := strings.TrimSpace(*req.URL)
		if msg := s.validateURL(ctx, u); msg != "" {
			fail("url", "%s", msg)
		} else {
			p.URL = &u
		}
	} else if create {
		fail("url", "is required")
	}
	if req.Events != nil {
		events, msgs := s.validateEvents(*req.Events)
		for _, m := range msgs {
			fail("events", "%s", m)
		}
		if msgs == nil {
			p.Events = &events
		}
	} else if create {
		fail("events", "is required: a non-empty array of event types, such as [\"message.new\"] or [\"*\"]")
	}
	if req.Secret != nil {
		if msg := validateSecret(*req.Secret); msg != "" {
			fail("secret", "%s", msg)
		} else {
			p.Secret = req.Secret
		}
	}
	if req.Description != nil {
		d := *req.Description
		switch {
		case utf8.RuneCountInString(d) > maxDescriptionLength:
			fail("description", "must be at most %d characters", maxDescriptionLength)
		case strings.ContainsRune(d, 0):
			fail("description", "must not contain NUL characters")
		default:
			p.Description = &d
		}
	}
	p.IsActive = req.IsActive
	if req.Headers != nil {
		for _, m := range s.validateHeaders(*req.Headers) {
			fail("headers", "%s", m)
		}
		p.Headers = req.Headers
	}
	if req.RateLimit != nil {
		if *req.RateLimit < 0 || *req.RateLimit > maxRateLimit {
			fail("rateLimit", "must be a whole number of deliveries per second from 1 to %d, or 0 for no limit", maxRateLimit)
		}
		p.RateLimit = req.RateLimit
	}
	if req.TimeoutSeconds != nil {
		if *req.TimeoutSeconds < 0 || *req.TimeoutSeconds > maxTimeoutSeconds {
			fail("timeoutSeconds", "must be a whole number of seconds from 1 to %d, or 0 for the server's default", maxTimeoutSeconds)
		}
		p.TimeoutSeconds = req.TimeoutSeconds
	}
	if req.Ordering != nil {
		if o := *req.Ordering; o != store.OrderingNone && o != store.OrderingFIFO {
			fail("ordering", "must be \"none\" or \"fifo\"")
		} else {
			p.Ordering = &o
		}
	}
	if req.OrderingKey != nil {
		switch k := *req.OrderingKey; {
		case validateOrderingKey(k) != "":
			fail("orderingKey", "%s", validateOrderingKey(k))
		case k != "" && req.Ordering != nil && *req.Ordering != store.OrderingFIFO:
			fail("orderingKey", "needs ordering \"fifo\": a key orders nothing without it")
		case k != "" && req.Ordering == nil && create:
			fail("orderingKey", "needs ordering \"fifo\" (the default is \"none\"): a key orders nothing without it")
		default:
			p.OrderingKey = &k
		}
	}
	if flt, fe := parseFilterField(req.Filter); fe != nil {
		bad = append(bad, *fe)
	} else {
		p.Filter = flt
	}
	if bad != nil {
		return p, invalid(bad...)
	}
	return p, nil
}

// validateOrderingKey returns what is wrong with an ordering key's path,
// or "": "" (one queue for every delivery), "event", "timestamp", "data"
// or "data." followed by member names (or array indexes) joined by dots.
func validateOrderingKey(k string) string {
	const hint = "must be a dotted path into the envelope: \"event\", \"timestamp\", \"data\" or \"data.\" and a field, such as \"data.conversationId\""
	switch {
	case k == "" || k == "event" || k == "timestamp" || k == "data":
		return ""
	case len(k) > maxOrderingKeyLength:
		return fmt.Sprintf("must be at most %d characters", maxOrderingKeyLength)
	case !utf8.ValidString(k) || hasControl(k):
		return "must not contain control characters"
	}
	rest, ok := strings.CutPrefix(k, "data.")
	if !ok || slices.Contains(strings.Split(rest, "."), "") {
		return hint
	}
	return ""
}

func hasControl(s string) bool {
	return strings.IndexFunc(s, unicode.IsControl) >= 0
}

// validateURL returns what is wrong with a webhook URL, or "".
func (s *Server) validateURL(ctx context.Context, raw string) string {
	if raw == "" {
		return "must not be empty"
	}
	if len(raw) > maxURLLength {
		return fmt.Sprintf("must be at most %d characters", maxURLLength)
	}
	if hasControl(raw) || strings.ContainsAny(raw, " \t") {
		return "must not contain spaces or control characters"
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "is not a valid URL"
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "must be an absolute http:// or https:// URL"
	}
	if u.Hostname() == "" {
		return "must have a host"
	}
	if s.checkURL != nil {
		if err := s.checkURL(ctx, u); err != nil {
			return err.Error()
		}
	}
	return ""
}

// validateEvents checks subscription patterns against the catalogue and
// drops duplicates, keeping order.
func (s *Server) validateEvents(events []string) ([]string, []string) {
	if len(events) == 0 {
		return nil, []string{"must be a non-empty array of event types, such as [\"message.new\"] or [\"*\"]"}
	}
	if len(events) > maxEventPatterns {
		return nil, []string{fmt.Sprintf("must have at most %d entries", maxEventPatterns)}
	}
	var out, msgs []string
	seen := map[string]bool{}
	for _, e := range events {
		if err := s.catalog.ValidatePattern(e); err != nil {
			msgs = append(msgs, err.Error())
			continue
		}
		if !seen[e] {
			seen[e] = true
			out = append(out, e)
		}
	}
	return out, msgs
}

// validateSecret returns what is wrong with a caller-chosen secret, or "".
func validateSecret(secret string) string {
	n := len(secret)
	switch {
	case n < minSecretLength:
		return fmt.Sprintf("must be at least %d characters", minSecretLength)
	case n > maxSecretLength:
		return fmt.Sprintf("must be at most %d characters", maxSecretLength)
	case strings.IndexFunc(secret, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0:
		return "must not contain spaces or control characters"
	}
	if rest, ok := strings.CutPrefix(secret, "whsec_"); ok {
		// Standard Webhooks signs with the decoded bytes, so they must decode.
		if b, err := base64.StdEncoding.DecodeString(rest); err != nil || len(b) < 16 {
			return "a whsec_ secret must be whsec_ followed by base64 of at least 16 bytes"
		}
	}
	return ""
}

func (s *Server) handleWebhookCreate(w http.ResponseWriter, r *http.Request) error {
	var req webhookCreateRequest
	if err := decode(w, r, MaxBodyBytes, &req); err != nil {
		return err
	}
	p, err := s.validateWebhook(r.Context(), req, true)
	if err != nil {
		return err
	}
	params := store.CreateWebhookParams{
		TenantID: tenantOf(r), CreatedBy: currentPrincipal(r).member, Name: *p.Name, URL: *p.URL, Events: *p.Events,
		Secret: auth.NewWebhookSecret(), IsActive: true,
	}
	if p.Secret != nil {
		params.Secret = *p.Secret
	}
	if p.Description != nil {
		params.Description = *p.Description
	}
	if p.IsActive != nil {
		params.IsActive = *p.IsActive
	}
	if p.Headers != nil {
		params.Headers = *p.Headers
	}
	if p.RateLimit != nil {
		params.RateLimit = *p.RateLimit
	}
	if p.TimeoutSeconds != nil {
		params.TimeoutSeconds = *p.TimeoutSeconds
	}
	if p.Ordering != nil {
		params.Ordering = *p.Ordering
	}
	if p.OrderingKey != nil {
		params.OrderingKey = *p.OrderingKey
	}
	if p.Filter != nil {
		params.Filter = *p.Filter
	}
	hook, err := s.store.CreateWebhook(r.Context(), params)
	if limit := (*store.WebhookLimitError)(nil); errors.As(err, &limit) {
		return errorf(http.StatusBadRequest, "limit of %d webhooks per owner reached (--max-webhooks-per-owner): delete a webhook you no longer need, or ask the operator to raise the limit", limit.Limit)
	}
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/webhooks/"+hook.ID)
	return s.json(w, http.StatusCreated, toWebhookJSON(hook, true))
}

func (s *Server) handleWebhookList(w http.ResponseWriter, r *http.Request) error {
	page, err := pageParams(r, 50, 100)
	if err != nil {
		return err
	}
	hooks, next, err := s.store.ListWebhooks(r.Context(), tenantOf(r), page)
	if err != nil {
		return err
	}
	out := make([]webhookJSON, len(hooks))
	for i, h := range hooks {
		out[i] = toWebhookJSON(h, false)
	}
	return s.json(w, http.StatusOK, newList(out, next))
}

// webhookParam loads the route's webhook for the current user; another
// user's webhook and a malformed id are both simply not found.
func (s *Server) webhookParam(r *http.Request) (store.Webhook, error) {
	id := param(r, "id")
	if !validID(id) {
		return store.Webhook{}, notFound("webhook")
	}
	hook, err := s.store.Webhook(r.Context(), tenantOf(r), id)
	if err != nil {
		return store.Webhook{}, asNotFound(err, "webhook")
	}
	return hook, nil
}

func (s *Server) handleWebhookGet(w http.ResponseWriter, r *http.Request) error {
	hook, err := s.webhookParam(r)
	if err != nil {
		return err
	}
	return s.json(w, http.StatusOK, toWebhookJSON(hook, true))
}

func (s *Server) handleWebhookUpdate(w http.ResponseWriter, r *http.Request) error {
	id := param(r, "id")
	if !validID(id) {
		return notFound("webhook")
	}
	var req webhookPatchRequest
	if err := decode(w, r, MaxBodyBytes, &req); err != nil {
		return err
	}
	p, err := s.validateWebhook(r.Context(), req, false)
	if err != nil {
		return err
	}
	if p.OrderingKey != nil && *p.OrderingKey != "" && p.Ordering == nil {
		// A key alone: the webhook must be FIFO already.
		cur, err := s.store.Webhook(r.Context(), tenantOf(r), id)
		if err != nil {
			return asNotFound(err, "webhook")
		}
		if cur.Ordering != store.OrderingFIFO {
			return invalid(FieldError{Field: "orderingKey", Message: "needs ordering \"fifo\": this webhook is not ordered; send \"ordering\": \"fifo\" with it"})
		}
	}
	hook, err := s.store.UpdateWebhook(r.Context(), tenantOf(r), id, p)
	if errors.Is(err, store.ErrOrderingKeyBusy) {
		return errorf(http.StatusConflict, "orderingKey cannot change while ordered deliveries of this webhook are pending: "+
			"they keep the keys they were given, and later events under the new key would overtake them; "+
			"wait until they are sent, or set \"ordering\": \"none\" first, which lets them go at once")
	}
	if err != nil {
		return asNotFound(err, "webhook")
	}
	if hook.IsActive && p.IsActive != nil {
		// Re-activation resumes paused deliveries at once.
		s.waker.Wake()
	}
	return s.json(w, http.StatusOK, toWebhookJSON(hook, true))
}

func (s *Server) handleWebhookDelete(w http.ResponseWriter, r *http.Request) error {
	id := param(r, "id")
	if !validID(id) {
		return notFound("webhook")
	}
	if err := s.store.DeleteWebhook(r.Context(), tenantOf(r), id); err != nil {
		return asNotFound(err, "webhook")
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type rotateRequest struct {
	Secret *string `json:"secret"`
}

type rotateResponse struct {
	webhookJSON
	PreviousSecretExpiresAt *string `json:"previousSecretExpiresAt"`
}

func (s *Server) handleWebhookRotateSecret(w http.ResponseWriter, r *http.Request) error {
	hook, err := s.webhookParam(r)
	if err != nil {
		return err
	}
	var req rotateRequest
	if r.ContentLength != 0 {
		if err := decode(w, r, MaxBodyBytes, &req); err != nil {
			return err
		}
	}
	secret := auth.NewWebhookSecret()
	if req.Secret != nil {
		if msg := validateSecret(*req.Secret); msg != "" {
			return invalid(FieldError{"secret", msg})
		}
		if *req.Secret == hook.Secret {
			return invalid(FieldError{"secret", "must differ from the current secret"})
		}
		secret = *req.Secret
	}
	rotated, err := s.store.RotateSecret(r.Context(), tenantOf(r), hook.ID, secret, s.secretGrace)
	if err != nil {
		return asNotFound(err, "webhook")
	}
	return s.json(w, http.StatusOK, rotateResponse{webhookJSON: toWebhookJSON(rotated, true), PreviousSecretExpiresAt: tsp(rotated.PreviousSecretExpiresAt)})
}

// webhookJSON is a webhook on the wire.
type webhookJSON struct {
	ID          string   `json:"id"`
	Tenant      string   `json:"tenant"`
	Name        string   `json:"name"`
	URL         string   `json:"url"`
	Events      []string `json:"events"`
	Secret      string   `json:"secret"`
	IsActive    bool     `json:"isActive"`
	Description string   `json:"description"`
	// Headers, RateLimit and TimeoutSeconds are per-webhook delivery
	// options; 0 means no rate limit and the server's default timeout.
	Headers        map[string]string `json:"headers"`
	RateLimit      int               `json:"rateLimit"`
	TimeoutSeconds int               `json:"timeoutSeconds"`
	// Ordering is "none" or "fifo"; OrderingKey the path that orders a
	// FIFO webhook's deliveries ("": one queue for all).
	Ordering    string `json:"ordering"`
	OrderingKey string `json:"orderingKey"`
	// Filter is the payload filter, null for none.
	Filter json.RawMessage `json:"filter"`
	// DisabledReason and DisabledAt say why webhookd switched it off.
	DisabledReason *string `json:"disabledReason"`
	DisabledAt     *string `json:"disabledAt"`
	CreatedAt      string  `json:"createdAt"`
	UpdatedAt      string  `json:"updatedAt"`
}

func toWebhookJSON(w store.Webhook, showSecret bool) webhookJSON {
	secret := w.Secret
	if !showSecret {
		secret = maskSecret(secret)
	}
	out := webhookJSON{
		ID: w.ID, Tenant: w.TenantID, Name: w.Name, URL: w.URL, Events: w.Events, Secret: secret, IsActive: w.IsActive,
		Description: w.Description, Headers: w.Headers, RateLimit: w.RateLimit, TimeoutSeconds: w.TimeoutSeconds,
		Ordering: w.Ordering, OrderingKey: w.OrderingKey,
		DisabledAt: tsp(w.DisabledAt), CreatedAt: ts(w.CreatedAt), UpdatedAt: ts(w.UpdatedAt),
	}
	if out.Headers == nil {
		out.Headers = map[string]string{}
	}
	if w.Filter != nil {
		out.Filter = json.RawMessage(w.Filter)
	} else {
		out.Filter = json.RawMessage("null")
	}
	if !showSecret && len(w.Headers) > 0 {
		// Custom headers often carry the receiver's credentials; a list
		// masks them as it masks the secret.
		out.Headers = make(map[string]string, len(w.Headers))
		for k, v := range w.Headers {
			if auth.CredentialHeader(k) {
				v = maskSecret(v)
			}
			out.Headers[k] = v
		}
	}
	if w.DisabledReason != "" {
		r := w.DisabledReason
		out.DisabledReason = &r
	}
	return out
}

// maskSecret keeps a secret's scheme prefix and last four characters, enough
// to tell secrets apart in a list without revealing them.
func maskSecret(secret string) string {
	prefix := ""
	if strings.HasPrefix(secret, "whsec_") {
		prefix = "whsec_"
	}
	if len(secret) < len(prefix)+12 {
		return prefix + "****"
	}
	return prefix + "****" + secret[len(secret)-4:]
}
