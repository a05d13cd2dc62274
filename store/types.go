package store

import "time"

// User is an account that logs in as a member of its tenant, which owns
// the webhooks, API keys and events its members create.
type User struct {
	ID           string
	Email        string
	PasswordHash string
	TenantID     string
	// TokenVersion is carried in every access token; changing the password
	// or disabling the user bumps it, which ends the tokens already issued.
	TokenVersion int
	DisabledAt   *time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// APIKey is a machine credential for publishing events. Only a hash of the
// key is stored; the key itself is shown once, at creation.
type APIKey struct {
	ID string
	// TenantID is the tenant the key acts for; "" for a service key,
	// which acts for any tenant and names it on each request.
	TenantID string
	Service  bool
	// CreatedBy is the member who created the key ("" for a service key,
	// made by the CLI).
	CreatedBy  string
	Name       string
	Prefix     string // the first characters of the key, to tell keys apart
	CreatedAt  time.Time
	LastUsedAt *time.Time
}

// Webhook is a receiver URL subscribed to event patterns.
type Webhook struct {
	ID       string
	TenantID string
	// CreatedBy is the member who created it: a user's id, or the subject
	// of a trusted CRM token.
	CreatedBy   string
	Name        string
	URL         string
	Events      []string
	Secret      string
	Description string
	IsActive    bool
	// PreviousSecret still signs deliveries, beside Secret, until
	// PreviousSecretExpiresAt: receivers switch secrets without losing one.
	PreviousSecret          string
	PreviousSecretExpiresAt *time.Time
	// DisabledReason and DisabledAt say why webhookd set IsActive false.
	DisabledReason string
	DisabledAt     *time.Time
	// Headers are static headers added to every delivery.
	Headers map[string]string
	// RateLimit caps deliveries per second (0: no cap).
	RateLimit int
	// TimeoutSeconds overrides the delivery timeout when set (0: default).
	TimeoutSeconds int
	// Ordering is OrderingNone or OrderingFIFO; OrderingKey, with FIFO, is
	// the dotted path into the envelope whose value orders deliveries ("":
	// one queue for all of them).
	Ordering    string
	OrderingKey string
	// Filter is the payload filter as compact JSON (package filter): only
	// events whose envelope matches it are delivered. nil: every event of
	// the webhook's types.
	Filter    []byte
	CreatedAt time.Time
	UpdatedAt time.Time
}

// SigningPreviousSecret returns the rotated-out secret while it still
// signs beside Secret at now, or "" once its grace has ended.
func (w Webhook) SigningPreviousSecret(now time.Time) string {
	if w.PreviousSecret == "" || w.PreviousSecretExpiresAt == nil || !now.Before(*w.PreviousSecretExpiresAt) {
		return ""
	}
	return w.PreviousSecret
}

// Event is something the CRM published, kept so that each delivery can be
// sent and re-sent with exactly the bytes accepted.
type Event struct {
	ID             string
	TenantID       string
	Type           string
	Payload        []byte // the data, compacted, exactly as it is signed
	OccurredAt     time.Time
	IdempotencyKey string
	DeliveryCount  int
	CreatedAt      time.Time
}

// Delivery statuses.
const (
	DeliveryPending = "pending"
	DeliverySuccess = "success"
	DeliveryFailed  = "failed"
)

// Attempt statuses in webhook_logs.
const (
	AttemptSuccess = "success"
	AttemptFailed  = "failed"
)

// Log is one delivery attempt, as kept in webhook_logs.
type Log struct {
	ID             string
	WebhookID      string
	EventID        string
	DeliveryID     string
	EventType      string
	Attempt        int
	Status         string
	StatusCode     int // 0 when no response arrived
	DurationMs     int64
	Error          string
	RequestHeaders map[string]string
	RequestBody    []byte
	ResponseBody   []byte
	CreatedAt      time.Time
	NextAttemptAt  *time.Time
	Test           bool
}

// Stats summarises a webhook's delivery attempts.
type Stats struct {
	TotalAttempts       int64
	SuccessfulAttempts  int64
	FailedAttempts      int64
	PendingDeliveries   int64
	AverageDurationMs   float64
	P95DurationMs       int64
	LastAttemptAt       *time.Time
	LastSuccessAt       *time.Time
	LastFailureAt       *time.Time
	ConsecutiveFailures int64
}
