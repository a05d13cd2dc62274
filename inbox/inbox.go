// Package inbox is webhookd's development inbox: a receiver built into the
// binary, so a developer can point a webhook at
// http://localhost:3000/inbox/demo and watch deliveries arrive without a
// second tool. Captures live in memory only, in a bounded ring per inbox,
// and vanish when the process stops.
//
// Anyone may send to an inbox (a receiver cannot authenticate its
// senders), but only signed-in users read one, through the API. A capture
// that names one of this webhookd's deliveries in its webhook-id header is
// shown to that delivery's webhook's owner alone, whether or not its
// signature verifies and however large it is: one user's deliveries, custom
// headers included, never show in another's console. Every other capture
// was made by someone who could have read it anyway, and is shown to every
// signed-in user.
package inbox

import (
	"context"
	"crypto/hmac"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/webhookd/webhookd/delivery"
	"github.com/webhookd/webhookd/internal/wire"
	"github.com/webhookd/webhookd/netguard"
	"github.com/webhookd/webhookd/store"
)

// Defaults for Config's zero values.
const (
	DefaultPerInbox   = 100
	DefaultMaxInboxes = 100
	DefaultMaxBody    = 1 << 20
	DefaultMaxBytes   = 64 << 20
)

// Signature verdicts of a capture.
const (
	// Verified: the capture names one of this webhookd's deliveries, that
	// delivery's webhook targets this inbox, the body arrived whole, and
	// X-Webhook-Signature matches the webhook's secret (or its previous
	// one, within its grace).
	Verified = "verified"
	// Invalid: an X-Webhook-Signature that could not be verified so.
	Invalid = "invalid"
	// Unsigned: no X-Webhook-Signature header.
	Unsigned = "unsigned"
)

// NamePattern is what an inbox may be called: short, URL-safe, no
// slashes. openapi.json gives it as the pattern of every inbox name
// parameter, and the console reads it from there (a test keeps the two
// the same), so it is written in the subset of syntax Go and JavaScript
// read alike.
const NamePattern = `^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`

var validName = regexp.MustCompile(NamePattern)

// ValidName reports whether name is a well-formed inbox name.
func ValidName(name string) bool { return validName.MatchString(name) }

// NameRule describes a valid name, for error messages.
const NameRule = "an inbox name is 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"

// Lookup returns the webhook, of any user, that the delivery with this id
// belongs to, or an error wrapping store.ErrNotFound when there is no such
// delivery; the store's DeliveryWebhook satisfies it.
type Lookup func(ctx context.Context, deliveryID string) (store.Webhook, error)

// Config tunes an Inbox; zero values take the defaults.
type Config struct {
	// PerInbox is how many captures each inbox keeps; older ones drop off.
	PerInbox int
	// MaxInboxes bounds how many inboxes exist; the least recently
	// captured-to inbox is forgotten to make room.
	MaxInboxes int
	// MaxBody is how many body bytes a capture keeps; the rest is dropped
	// and the capture marked truncated.
	MaxBody int64
	// MaxBytes bounds the bodies and headers kept across every inbox: the
	// inbox is public, and its bounds per inbox alone would let anyone
	// fill 100 × 100 × MaxBody of memory. The oldest captures of the least
	// recently used inboxes go first.
	MaxBytes int64
	// Lookup finds the webhook of the delivery a capture names, which
	// decides who sees it and which secrets its signature is checked
	// against; nil knows only the deliveries announced through Expect.
	Lookup Lookup
	// Port is the port this process listens on: only webhooks whose URL
	// is this process's own inbox (see netguard.IsInboxURL) count.
	Port int
	// Logger receives lookup failures; nil uses slog.Default.
	Logger *slog.Logger
	// Now is the clock; nil uses time.Now.
	Now func() time.Time
}

// Capture is one request an inbox received.
type Capture struct {
	ID         int64               `json:"id"`
	Inbox      string              `json:"inbox"`
	Method     string              `json:"method"`
	Path       string              `json:"path"`
	Query      string              `json:"query"`
	Headers    map[string][]string `json:"headers"`
	Body       string              `json:"body"`
	BodyBase64 bool                `json:"bodyBase64"`
	Truncated  bool                `json:"truncated"`
	Size       int64               `json:"size"`
	RemoteAddr string              `json:"remoteAddr"`
	ReceivedAt time.Time           `json:"receivedAt"`
	// Signature is Verified, Invalid or Unsigned.
	Signature string `json:"signature"`
	// WebhookID is the webhook of the delivery the capture names, when it
	// is one of this webhookd's; only its owner sees the capture.
	WebhookID string `json:"webhookId,omitempty"`

	// owner is the tenant of WebhookID: only its members see this
	// capture; "" shows it to every signed-in member of any tenant.
	owner string
}

// nobody owns a capture whose delivery could not be looked up: it may be a
// tenant's, so it is shown to no one rather than to everyone. No tenant
// id is empty or holds a NUL.
const nobody = "\x00nobody"

// MarshalJSON writes receivedAt as the API writes every time: UTC with
// milliseconds.
func (c Capture) MarshalJSON() ([]byte, error) {
	type plain Capture // no methods: no recursion
	return json.Marshal(struct {
		plain
		ReceivedAt string `json:"receivedAt"`
	}{plain(c), wire.Time(c.ReceivedAt)})
}

// captureBytes is about what a capture holds in memory.
func captureBytes(c Capture) int64 {
	n := int64(len(c.Body) + len(c.Path) + len(c.Query) + len(c.RemoteAddr))
	for k, vs := range c.Headers {
		n += int64(len(k))
		for _, v := range vs {
			n += int64(len(v))
		}
	}
	return n
}

// visibleTo reports whether a signed-in member of a tenant may see c.
func (c Capture) visibleTo(tenantID string) bool { return c.owner == "" || c.owner == tenantID }

// Inbox holds every inbox's captures.
type Inbox struct {
	cfg Config

	mu      sync.Mutex
	seq     int64
	boxes   map[string]*box
	useTick int64 // orders boxes by last use for eviction
	bytes   int64 // held by every capture, as captureBytes counts

	expectMu sync.Mutex
	expected map[string]*expectation // by delivery id; see Expect

	// hmacs counts signature checks, so tests can see that a capture
	// naming no delivery costs none.
	hmacs atomic.Int64
}

// expectation is a delivery announced by Expect; n counts the announces
// not yet done, should one id be announced twice.
type expectation struct {
	webhook store.Webhook
	n       int
}

type box struct {
	ring    []Capture // oldest first, at most cfg.PerInbox
	lastUse int64
	subs    map[*subscriber]struct{}
}

// subscriber is one live reader of an inbox.
type subscriber struct {
	tenantID string
	ch       chan Capture
}

// New returns an empty Inbox.
func New(cfg Config) *Inbox {
	if cfg.PerInbox <= 0 {
		cfg.PerInbox = DefaultPerInbox
	}
	if cfg.MaxInboxes <= 0 {
		cfg.MaxInboxes = DefaultMaxInboxes
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Inbox{cfg: cfg, boxes: make(map[string]*box), expected: make(map[string]*expectation)}
}

// Expect tells the inbox of a delivery of webhook w about to be sent under
// deliveryID before the store has it: a test send is stored only after its
// attempt, and its capture must be attributed as a stored delivery's is.
// The returned func forgets it; call it once the attempt is over. Only
// this process sends to its own inbox (inbox URLs are loopback), so
// knowing in memory is enough.
func (in *Inbox) Expect(deliveryID string, w store.Webhook) (done func()) {
	in.expectMu.Lock()
	defer in.expectMu.Unlock()
	e := in.expected[deliveryID]
	if e == nil {
		e = &expectation{}
		in.expected[deliveryID] = e
	}
	e.webhook = w
	e.n++
	var once sync.Once
	return func() {
		once.Do(func() {
			in.expectMu.Lock()
			defer in.expectMu.Unlock()
			if e.n--; e.n == 0 {
				delete(in.expected, deliveryID)
			}
		})
	}
}

// Receive captures r into the named inbox. It is the whole of what the
// public /inbox/:name route does for every method but GET and HEAD.
func (in *Inbox) Receive(ctx context.Context, name string, r *http.Request) (Capture, error) {
	body, err := readLimited(r, in.cfg.MaxBody)
	if err != nil {
		return Capture{}, err
	}
	c := Capture{
		Method:     r.Method,
		Path:       r.URL.Path,
		Query:      r.URL.RawQuery,
		Headers:    r.Header.Clone(),
		Truncated:  body.truncated,
		Size:       body.size,
		RemoteAddr: r.RemoteAddr,
		ReceivedAt: in.cfg.Now().UTC(),
	}
	if utf8.Valid(body.kept) {
		c.Body = string(body.kept)
	} else {
		c.Body, c.BodyBase64 = base64.StdEncoding.EncodeToString(body.kept), true
	}
	in.attribute(ctx, name, r.Header, body, &c)
	return in.add(name, c), nil
}

// limitedBody is a request body cut at a bound.
type limitedBody struct {
	kept      []byte
	size      int64
	truncated bool
}

// readLimited keeps up to limit bytes of r's body and counts the rest
// without holding it.
func readLimited(r *http.Request, limit int64) (limitedBody, error) {
	kept, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return limitedBody{}, err
	}
	out := limitedBody{kept: kept, size: int64(len(kept))}
	if out.size > limit {
		out.kept, out.truncated = kept[:limit], true
		n, err := io.Copy(io.Discard, r.Body)
		out.size += n
		if err != nil {
			return limitedBody{}, err
		}
	}
	return out, nil
}

// maxDeliveryID bounds a webhook-id worth looking up; webhookd's are
// 36-character UUIDs.
const maxDeliveryID = 64

// deliveryID returns the delivery id a request names in its X-Webhook-Id
// and webhook-id headers (webhookd sends both, equal), or "" when it names
// none, or several, or one no delivery could have.
func deliveryID(h http.Header) string {
	id := ""
	for _, v := range append(h.Values("X-Webhook-Id"), h.Values("Webhook-Id")...) {
		if v == "" || len(v) > maxDeliveryID || (id != "" && v != id) {
			return ""
		}
		id = v
	}
	for _, r := range id {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '-' || r == '_') {
			return ""
		}
	}
	return id
}

// attribute decides who may see c and its signature verdict. A capture
// naming one of this webhookd's deliveries belongs to that delivery's
// webhook's owner, verified or not, truncated or not: it may be the real
// delivery, custom headers (an Authorization, say) and all, and a secret
// rotated while it was on its way would fail it. Its signature is checked
// against that one webhook's secrets, only if the webhook targets this
// inbox and the body arrived whole. Any other capture is everyone's, and
// no signature is computed for it: an anonymous POST costs no HMAC.
func (in *Inbox) attribute(ctx context.Context, name string, h http.Header, body limitedBody, c *Capture) {
	got := h.Values("X-Webhook-Signature")
	c.Signature = Unsigned
	if len(got) > 0 {
		c.Signature = Invalid
	}
	id := deliveryID(h)
	if id == "" {
		return
	}
	w, found, err := in.webhookOf(ctx, id)
	if err != nil {
		in.cfg.Logger.Warn("inbox: look up the delivery a capture names; the capture is shown to no one",
			"inbox", name, "delivery_id", id, "err", err)
		c.owner = nobody
		return
	}
	if !found {
		return
	}
	c.WebhookID, c.owner = w.ID, w.TenantID
	if len(got) == 0 || body.truncated || !in.targets(w.URL, name) {
		return
	}
	secrets := []string{w.Secret}
	if old := w.SigningPreviousSecret(in.cfg.Now()); old != "" {
		secrets = append(secrets, old)
	}
	for _, secret := range secrets {
		in.hmacs.Add(1)
		want := []byte(delivery.SignatureHeader(secret, body.kept))
		for _, v := range got {
			for _, sig := range strings.Split(v, ",") {
				if hmac.Equal([]byte(strings.TrimSpace(sig)), want) {
					c.Signature = Verified
					return
				}
			}
		}
	}
}

// webhookOf finds the webhook of the delivery with this id: announced
// through Expect, or in the store.
func (in *Inbox) webhookOf(ctx context.Context, id string) (w store.Webhook, found bool, err error) {
	in.expectMu.Lock()
	e := in.expected[id]
	if e != nil {
		w = e.webhook
	}
	in.expectMu.Unlock()
	if e != nil {
		return w, true, nil
	}
	if in.cfg.Lookup == nil {
		return store.Webhook{}, false, nil
	}
	w, err = in.cfg.Lookup(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Webhook{}, false, nil
	}
	if err != nil {
		return store.Webhook{}, false, err
	}
	return w, true, nil
}

// targets reports whether a webhook URL is this process's inbox of that
// name: parsed, its path exactly /inbox/NAME (a query does not change
// where it arrives, so it does not count), on a loopback host at this
// process's port.
func (in *Inbox) targets(rawURL, name string) bool {
	u, err := url.Parse(rawURL)
	if err != nil {
		return false
	}
	return u.Path == netguard.InboxPath+name && netguard.IsInboxURL(u, in.cfg.Port)
}

// add stores c in the named inbox, creating it (and evicting the least
// recently used inbox) if needed, and hands it to live readers allowed to
// see it.
func (in *Inbox) add(name string, c Capture) Capture {
	in.mu.Lock()
	defer in.mu.Unlock()
	b := in.boxLocked(name)
	in.seq++
	c.ID = in.seq
	c.Inbox = name
	if len(b.ring) >= in.cfg.PerInbox {
		in.dropOldestLocked(b)
	}
	b.ring = append(b.ring, c)
	in.bytes += captureBytes(c)
	in.trimLocked(b)
	for sub := range b.subs {
		if !c.visibleTo(sub.tenantID) {
			continue
		}
		select {
		case sub.ch <- c:
		default: // a reader this far behind catches up from the list
		}
	}
	return c
}

// dropOldestLocked forgets b's oldest capture; in.mu must be held.
func (in *Inbox) dropOldestLocked(b *box) {
	in.bytes -= captureBytes(b.ring[0])
	b.ring[0] = Capture{} // let the body go
	b.ring = b.ring[1:]
}

// trimLocked drops captures, oldest first from the least recently used
// inboxes, until the total is within MaxBytes; keep's newest capture, the
// one just added, stays. in.mu must be held.
func (in *Inbox) trimLocked(keep *box) {
	for in.bytes > in.cfg.MaxBytes {
		var victim *box
		for _, b := range in.boxes {
			if len(b.ring) == 0 || (b == keep && len(b.ring) == 1) {
				continue
			}
			if victim == nil || b.lastUse < victim.lastUse {
				victim = b
			}
		}
		if victim == nil {
			return // only the new capture is left; MaxBody bounds it
		}
		in.dropOldestLocked(victim)
	}
}

// boxLocked returns the named box, creating it; in.mu must be held.
func (in *Inbox) boxLocked(name string) *box {
	in.useTick++
	if b, ok := in.boxes[name]; ok {
		b.lastUse = in.useTick
		return b
	}
	if len(in.boxes) >= in.cfg.MaxInboxes {
		in.evictLocked()
	}
	b := &box{lastUse: in.useTick, subs: make(map[*subscriber]struct{})}
	in.boxes[name] = b
	return b
}

// evictLocked forgets the least recently used inbox nobody is watching,
// or, if every inbox is watched, the least recently used one.
func (in *Inbox) evictLocked() {
	victim, victimIdle := "", false
	var oldest int64
	for name, b := range in.boxes {
		idle := len(b.subs) == 0
		better := victim == "" || (idle && !victimIdle) || (idle == victimIdle && b.lastUse < oldest)
		if better {
			victim, victimIdle, oldest = name, idle, b.lastUse
		}
	}
	if victim == "" {
		return
	}
	b := in.boxes[victim]
	for sub := range b.subs {
		b.unsubscribeLocked(sub)
	}
	for _, c := range in.boxes[victim].ring {
		in.bytes -= captureBytes(c)
	}
	delete(in.boxes, victim)
}

// List returns the captures of the named inbox that tenantID may see, newest
// first.
func (in *Inbox) List(name, tenantID string) []Capture {
	in.mu.Lock()
	defer in.mu.Unlock()
	out := []Capture{}
	b, ok := in.boxes[name]
	if !ok {
		return out
	}
	for i := len(b.ring) - 1; i >= 0; i-- {
		if b.ring[i].visibleTo(tenantID) {
			out = append(out, b.ring[i])
		}
	}
	return out
}

// Len reports how many inboxes exist.
func (in *Inbox) Len() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.boxes)
}

// Subscribe returns a channel of the named inbox's new captures that
// tenantID may see, and a function that ends the subscription. The channel
// is closed when the subscription ends or the inbox is evicted; a reader
// that falls more than a buffer behind misses captures, which List still
// has.
func (in *Inbox) Subscribe(name, tenantID string) (<-chan Capture, func()) {
	in.mu.Lock()
	defer in.mu.Unlock()
	b := in.boxLocked(name)
	sub := &subscriber{tenantID: tenantID, ch: make(chan Capture, 64)}
	b.subs[sub] = struct{}{}
	return sub.ch, func() {
		in.mu.Lock()
		defer in.mu.Unlock()
		b.unsubscribeLocked(sub)
	}
}

// unsubscribeLocked ends sub's subscription to b if it is still live. It
// is the only place a subscriber's channel is closed, and it takes sub out
// of b.subs as it does, so that eviction and the reader's own
// unsubscribe, in either order, close it once. in.mu must be held.
func (b *box) unsubscribeLocked(sub *subscriber) {
	if _, live := b.subs[sub]; live {
		delete(b.subs, sub)
		close(sub.ch)
	}
}

// Error is a request the inbox refuses, with the status to answer it
// with; the caller writes it in its error shape.
type Error struct {
	Status  int
	Message string
}

// Error implements error: the message the answer carries.
func (e *Error) Error() string { return e.Message }

// Serve answers a request to the public route /inbox/NAME (the name is the
// path's last segment): every method but GET and HEAD is captured and
// answered 200; GET and HEAD say where the captures are read. A request it
// refuses (a bad name, a body that cannot be read) is returned as an
// *Error, unanswered, so that the API server writes it as it writes every
// error.
func (in *Inbox) Serve(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Cache-Control", "no-store")
	name, ok := strings.CutPrefix(r.URL.Path, netguard.InboxPath)
	if !ok || !ValidName(name) {
		return &Error{Status: http.StatusNotFound, Message: NameRule}
	}
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return wire.WriteJSON(w, http.StatusOK, map[string]any{
			"inbox":   name,
			"message": "send any request but GET here to capture it; read the captures in the console at / or from GET /api/v1/inboxes/" + name + " (signed in)",
		})
	}
	c, err := in.Receive(r.Context(), name, r)
	if err != nil {
		return &Error{Status: http.StatusBadRequest, Message: "reading the body: " + err.Error()}
	}
	w.Header().Set("X-Inbox-Capture-Id", strconv.FormatInt(c.ID, 10))
	return wire.WriteJSON(w, http.StatusOK, map[string]any{"ok": true, "id": c.ID})
}

// ServeHTTP serves the inbox on its own, as Serve does, writing a refusal
// in the API's error shape; webhookd's server calls Serve instead.
func (in *Inbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var e *Error
	if err := in.Serve(w, r); errors.As(err, &e) {
		wire.WriteError(w, e.Status, e.Message, nil)
	}
}
