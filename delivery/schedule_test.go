package delivery

import (
	"net/http"
	"slices"
	"testing"
	"time"
)

func TestParseSchedule(t *testing.T) {
	tests := []struct {
		in      string
		want    []time.Duration
		wantErr bool
	}{
		{in: DefaultSchedule, want: []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute,
			2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour}},
		{in: "50ms,50ms", want: []time.Duration{50 * time.Millisecond, 50 * time.Millisecond}},
		{in: " 1s , 1m30s ", want: []time.Duration{time.Second, 90 * time.Second}},
		{in: "", want: nil},
		{in: "   ", want: nil},
		{in: "5", wantErr: true},
		{in: "5x", wantErr: true},
		{in: "5s,,5m", wantErr: true},
		{in: "5s,", wantErr: true},
		{in: "0s", wantErr: true},
		{in: "-1s", wantErr: true},
		{in: "5s;5m", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSchedule(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParseSchedule(%q) = %v, want an error", tt.in, got.Gaps)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseSchedule(%q): %v", tt.in, err)
			}
			if !slices.Equal(got.Gaps, tt.want) {
				t.Errorf("ParseSchedule(%q).Gaps = %v, want %v", tt.in, got.Gaps, tt.want)
			}
			if got.MaxAttempts() != len(tt.want)+1 {
				t.Errorf("MaxAttempts() = %d, want %d", got.MaxAttempts(), len(tt.want)+1)
			}
			if got.Jitter <= 0 || got.Jitter >= 1 {
				t.Errorf("Jitter = %v, want a fraction in (0, 1) so retries spread", got.Jitter)
			}
		})
	}
}

func TestScheduleNextJitter(t *testing.T) {
	s := Schedule{Gaps: []time.Duration{10 * time.Second, time.Hour}, Jitter: 0.1}
	for attempt, gap := range map[int]time.Duration{1: 10 * time.Second, 2: time.Hour} {
		lo := gap - time.Duration(0.1*float64(gap))
		hi := gap + time.Duration(0.1*float64(gap))
		seen := map[time.Duration]bool{}
		for range 1000 {
			got, ok := s.Next(attempt, 0)
			if !ok {
				t.Fatalf("Next(%d, 0) = _, false, want a retry", attempt)
			}
			if got < lo || got > hi {
				t.Fatalf("Next(%d, 0) = %s, want within [%s, %s]", attempt, got, lo, hi)
			}
			seen[got] = true
		}
		if len(seen) < 2 {
			t.Errorf("Next(%d, 0) gave the same wait 1000 times; jitter does not spread retries", attempt)
		}
	}
}

func TestScheduleNext(t *testing.T) {
	gaps := []time.Duration{5 * time.Second, 5 * time.Minute}
	exact := Schedule{Gaps: gaps}
	jittered := Schedule{Gaps: gaps, Jitter: 0.1}
	tests := []struct {
		name       string
		s          Schedule
		attempt    int
		retryAfter time.Duration
		want       time.Duration
		wantOK     bool
	}{
		{"first gap", exact, 1, 0, 5 * time.Second, true},
		{"second gap", exact, 2, 0, 5 * time.Minute, true},
		{"last attempt", exact, 3, 0, 0, false},
		{"past the last attempt", exact, 4, 0, 0, false},
		{"attempt zero", exact, 0, 0, 0, false},
		{"no retries", Schedule{}, 1, 0, 0, false},
		{"last attempt ignores Retry-After", exact, 3, time.Hour, 0, false},
		{"shorter Retry-After keeps the gap", exact, 2, time.Minute, 5 * time.Minute, true},
		{"longer Retry-After moves later", exact, 1, time.Hour, time.Hour, true},
		{"longer Retry-After beats jitter", jittered, 1, time.Hour, time.Hour, true},
		{"Retry-After capped", exact, 1, 7 * 24 * time.Hour, MaxRetryAfter, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.s.Next(tt.attempt, tt.retryAfter)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("Next(%d, %s) = %s, %v, want %s, %v", tt.attempt, tt.retryAfter, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC)
	date := func(d time.Duration) string { return now.Add(d).Format(http.TimeFormat) }
	tests := []struct {
		name   string
		status int
		value  string
		want   time.Duration
	}{
		{"seconds on 429", 429, "120", 2 * time.Minute},
		{"seconds on 503", 503, "120", 2 * time.Minute},
		{"spaces trimmed", 429, " 30 ", 30 * time.Second},
		{"HTTP date on 429", 429, date(90 * time.Second), 90 * time.Second},
		{"HTTP date on 503", 503, date(time.Hour), time.Hour},
		{"ignored on 500", 500, "120", 0},
		{"ignored on 502", 502, "120", 0},
		{"ignored on 200", 200, "120", 0},
		{"ignored on 301", 301, "120", 0},
		{"missing", 429, "", 0},
		{"zero", 429, "0", 0},
		{"negative", 429, "-5", 0},
		{"garbage", 429, "soon", 0},
		{"fractional seconds", 429, "1.5", 0},
		{"date in the past", 429, date(-time.Hour), 0},
		{"huge seconds capped", 429, "99999999999", MaxRetryAfter},
		{"seconds just over the cap", 503, "86401", MaxRetryAfter},
		{"far date capped", 503, date(30 * 24 * time.Hour), MaxRetryAfter},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.value != "" {
				h.Set("Retry-After", tt.value)
			}
			if got := parseRetryAfter(tt.status, h, now); got != tt.want {
				t.Errorf("parseRetryAfter(%d, %q) = %s, want %s", tt.status, tt.value, got, tt.want)
			}
		})
	}
}
