package bench

import (
	"context"
	"testing"
)

// TestRunFloor runs the floor for one event a request and for batches,
// over two webhooks: every delivery arrives once and the exchanges are
// counted as the floor promises (a publish per request, a delivery per
// event and webhook).
func TestRunFloor(t *testing.T) {
	for _, c := range []struct {
		name          string
		batch         int
		wantExchanges int
	}{
		{"one event a request", 1, 60 + 120},
		{"batches of 25", 25, 3 + 120},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, err := RunFloor(context.Background(), Config{Events: 60, Webhooks: 2, Concurrency: 4, PayloadSize: 300, Batch: c.batch})
			if err != nil {
				t.Fatal(err)
			}
			if f.Events != 60 || f.Deliveries != 120 || f.Exchanges != c.wantExchanges {
				t.Errorf("floor = %d events, %d deliveries, %d exchanges; want 60, 120, %d", f.Events, f.Deliveries, f.Exchanges, c.wantExchanges)
			}
			if f.Elapsed <= 0 || f.EventsPerSecond <= 0 || f.DeliveriesPerSecond <= 0 {
				t.Errorf("floor = %+v, want positive rates", f)
			}
		})
	}
}

func TestRunFloorRefusesSteadyMode(t *testing.T) {
	if _, err := RunFloor(context.Background(), Config{Webhooks: 1, Concurrency: 1, Duration: 1, Rate: 10}); err == nil {
		t.Error("RunFloor took --duration")
	}
}
