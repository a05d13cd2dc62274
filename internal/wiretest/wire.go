package wiretest

import "encoding/json"

// Login is POST /api/v1/auth/login's answer.
type Login struct {
	AccessToken string `json:"accessToken"`
	TokenType   string `json:"tokenType"`
	ExpiresIn   int64  `json:"expiresIn"`
	User        struct {
		ID     string `json:"id"`
		Email  string `json:"email"`
		Tenant string `json:"tenant"`
	} `json:"user"`
}

// Webhook is a webhook as the API shows it (its core fields; the
// operational ones are read where tests check them).
type Webhook struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	URL         string   `json:"url"`
	Events      []string `json:"events"`
	Secret      string   `json:"secret"`
	IsActive    bool     `json:"isActive"`
	Description string   `json:"description"`
	// Filter is the payload filter, JSON null for none.
	Filter    json.RawMessage `json:"filter"`
	CreatedAt string          `json:"createdAt"`
	UpdatedAt string          `json:"updatedAt"`
}

// Page is one page of a list.
type Page[T any] struct {
	Data       []T     `json:"data"`
	NextCursor *string `json:"nextCursor"`
}

// Stats is GET /api/v1/webhooks/:id/stats.
type Stats struct {
	TotalDeliveries       int64   `json:"totalDeliveries"`
	SuccessfulDeliveries  int64   `json:"successfulDeliveries"`
	FailedDeliveries      int64   `json:"failedDeliveries"`
	PendingDeliveries     int64   `json:"pendingDeliveries"`
	SuccessRate           float64 `json:"successRate"`
	AverageResponseTimeMs float64 `json:"averageResponseTimeMs"`
	P95ResponseTimeMs     int64   `json:"p95ResponseTimeMs"`
	LastDeliveryAt        *string `json:"lastDeliveryAt"`
	LastSuccessAt         *string `json:"lastSuccessAt"`
	LastFailureAt         *string `json:"lastFailureAt"`
	ConsecutiveFailures   int64   `json:"consecutiveFailures"`
}

// TestResult is POST /api/v1/webhooks/:id/test's answer.
type TestResult struct {
	Success        bool    `json:"success"`
	StatusCode     *int    `json:"statusCode"`
	ResponseTimeMs int64   `json:"responseTimeMs"`
	ResponseBody   *string `json:"responseBody"`
	Error          *string `json:"error"`
	LogID          string  `json:"logId"`
}

// Log is one attempt as the API shows it, in a webhook's log.
type Log struct {
	ID             string            `json:"id"`
	WebhookID      string            `json:"webhookId"`
	EventID        string            `json:"eventId"`
	DeliveryID     string            `json:"deliveryId"`
	EventType      string            `json:"eventType"`
	Attempt        int               `json:"attempt"`
	Status         string            `json:"status"`
	StatusCode     *int              `json:"statusCode"`
	DurationMs     int64             `json:"durationMs"`
	Error          *string           `json:"error"`
	RequestHeaders map[string]string `json:"requestHeaders"`
	RequestBody    *string           `json:"requestBody"`
	ResponseBody   *string           `json:"responseBody"`
	CreatedAt      string            `json:"createdAt"`
	NextAttemptAt  *string           `json:"nextAttemptAt"`
	Test           bool              `json:"test"`
}

// Accepted is POST /api/v1/events's answer: the event and how many
// deliveries it fanned out to.
type Accepted struct {
	ID         string `json:"id"`
	Event      string `json:"event"`
	Deliveries int    `json:"deliveries"`
}

// Event is GET /api/v1/events/:id.
type Event struct {
	ID             string          `json:"id"`
	Event          string          `json:"event"`
	Timestamp      string          `json:"timestamp"`
	Data           json.RawMessage `json:"data"`
	Deliveries     int             `json:"deliveries"`
	IdempotencyKey *string         `json:"idempotencyKey"`
	CreatedAt      string          `json:"createdAt"`
}

// Health is /healthz and /readyz's answer.
type Health struct {
	Status  string            `json:"status"`
	Version string            `json:"version"`
	Checks  map[string]string `json:"checks"`
}

// Error is the body of every failure: {statusCode, error, message, details}.
type Error struct {
	StatusCode int    `json:"statusCode"`
	Error      string `json:"error"`
	Message    string `json:"message"`
	Details    []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"details"`
}

// Detail returns the message of the detail naming field, and whether one
// does.
func (e Error) Detail(field string) (string, bool) {
	for _, d := range e.Details {
		if d.Field == field {
			return d.Message, true
		}
	}
	return "", false
}
