package delivery

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// DefaultSchedule is the gap after each failed attempt: eight attempts over
// about 28 hours.
const DefaultSchedule = "5s,5m,30m,2h,5h,10h,10h"

// MaxRetryAfter caps how far a receiver's Retry-After can push an attempt.
const MaxRetryAfter = 24 * time.Hour

// Schedule is the durable retry plan: Gaps[i] is the wait after failed
// attempt i+1, so a delivery gets len(Gaps)+1 attempts in all.
type Schedule struct {
	Gaps []time.Duration
	// Jitter spreads each gap by up to ± this fraction, so that deliveries
	// that failed together do not all retry in the same instant.
	Jitter float64
}

// ParseSchedule reads a comma-separated list of Go durations ("5s,5m,2h").
// An empty list means no retries.
func ParseSchedule(s string) (Schedule, error) {
	sch := Schedule{Jitter: 0.1}
	s = strings.TrimSpace(s)
	if s == "" {
		return sch, nil
	}
	for _, part := range strings.Split(s, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(part))
		if err != nil {
			return Schedule{}, fmt.Errorf("delivery: retry schedule entry %q: %w", part, err)
		}
		if d <= 0 {
			return Schedule{}, fmt.Errorf("delivery: retry schedule entry %q must be positive", part)
		}
		sch.Gaps = append(sch.Gaps, d)
	}
	return sch, nil
}

// MaxAttempts is how many attempts a delivery gets.
func (s Schedule) MaxAttempts() int { return len(s.Gaps) + 1 }

// Next returns the wait before the attempt after failed attempt number
// attempt (from 1), and false when that was the last attempt. A Retry-After
// longer than the gap moves the attempt later, up to MaxRetryAfter.
func (s Schedule) Next(attempt int, retryAfter time.Duration) (time.Duration, bool) {
	if attempt < 1 || attempt > len(s.Gaps) {
		return 0, false
	}
	gap := s.Gaps[attempt-1]
	if s.Jitter > 0 {
		gap += time.Duration((rand.Float64()*2 - 1) * s.Jitter * float64(gap))
	}
	if retryAfter > gap {
		gap = min(retryAfter, MaxRetryAfter)
	}
	return gap, true
}

// parseRetryAfter reads a Retry-After header (seconds or an HTTP date) on a
// 429 or 503 answer; other answers' Retry-After is ignored.
func parseRetryAfter(status int, h http.Header, now time.Time) time.Duration {
	if status != http.StatusTooManyRequests && status != http.StatusServiceUnavailable {
		return 0
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(MaxRetryAfter/time.Second) {
			return MaxRetryAfter
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), MaxRetryAfter)
	}
	return 0
}
