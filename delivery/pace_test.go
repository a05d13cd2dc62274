package delivery

import (
	"testing"
	"time"
)

// TestPace pins down the per-webhook rate limit: when a send goes and when
// the one after it may, from the clock's reading alone.
func TestPace(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ms := time.Millisecond
	tests := []struct {
		name      string
		permitted time.Time
		rate      int
		horizon   time.Duration
		wait      time.Duration
		next      time.Time
		ok        bool
	}{
		{name: "no limit", permitted: now.Add(time.Hour), rate: 0, horizon: 20 * ms, ok: true},
		{name: "a negative limit is none", permitted: now.Add(time.Hour), rate: -1, horizon: 20 * ms, ok: true},
		{name: "first send goes at once", rate: 10, horizon: 20 * ms, next: now.Add(100 * ms), ok: true},
		{name: "turn already passed", permitted: now.Add(-time.Second), rate: 10, horizon: 20 * ms, next: now.Add(100 * ms), ok: true},
		{name: "turn is now", permitted: now, rate: 10, horizon: 20 * ms, next: now.Add(100 * ms), ok: true},
		{name: "turn within the horizon waits for it", permitted: now.Add(15 * ms), rate: 10, horizon: 20 * ms, wait: 15 * ms, next: now.Add(115 * ms), ok: true},
		{name: "turn at the horizon waits for it", permitted: now.Add(20 * ms), rate: 20, horizon: 20 * ms, wait: 20 * ms, next: now.Add(70 * ms), ok: true},
		{name: "turn past the horizon is not taken", permitted: now.Add(21 * ms), rate: 20, horizon: 20 * ms, next: now.Add(21 * ms)},
		{name: "no horizon: only a turn now is taken", permitted: now.Add(ms), rate: 20, next: now.Add(ms)},
		{name: "a high rate", rate: 1000, horizon: 20 * ms, next: now.Add(ms), ok: true},
		{name: "an interval that does not divide a second", rate: 3, horizon: 20 * ms, next: now.Add(333333333), ok: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wait, next, ok := pace(now, tt.permitted, tt.rate, tt.horizon)
			if wait != tt.wait || !next.Equal(tt.next) || ok != tt.ok {
				t.Errorf("pace(now, %v, %d, %v) = %v, %v, %v; want %v, %v, %v",
					tt.permitted.Sub(now), tt.rate, tt.horizon, wait, next.Sub(now), ok, tt.wait, tt.next.Sub(now), tt.ok)
			}
		})
	}
}

// TestPaceBurst follows a burst through pace: with a long horizon the sends
// queue one interval apart; with the dispatcher's short one, only the first
// goes and the rest wait for their turn in the database.
func TestPaceBurst(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var permitted time.Time
	for i := range 5 {
		wait, next, ok := pace(now, permitted, 20, time.Second)
		if want := time.Duration(i) * 50 * time.Millisecond; !ok || wait != want {
			t.Fatalf("send %d of a burst at 20/s: wait %v, ok %v; want %v, true", i+1, wait, ok, want)
		}
		permitted = next
	}
	permitted = time.Time{}
	_, permitted, _ = pace(now, permitted, 20, paceHorizon)
	if _, next, ok := pace(now, permitted, 20, paceHorizon); ok || !next.Equal(permitted) {
		t.Errorf("second send of a burst at 20/s within %v: ok %v, next %v; want refused, turn unchanged at +50ms", paceHorizon, ok, next.Sub(now))
	}
	if wait, _, ok := pace(permitted, permitted, 20, paceHorizon); !ok || wait != 0 {
		t.Errorf("second send at its turn: wait %v, ok %v; want 0, true", wait, ok)
	}
}
