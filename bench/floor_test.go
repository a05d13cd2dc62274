package bench

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
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

// A delivery whose connection is dropped before an answer is sent again,
// as webhookd's schedule would send it, so that one reset does not fail
// the floor; one answered with an error status is not.
func TestFloorDeliverSendsAgainAfterALostConnection(t *testing.T) {
	var calls atomic.Int32
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch calls.Add(1) {
		case 1:
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		case 2:
			w.WriteHeader(http.StatusNoContent)
		default:
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer recv.Close()
	fs, err := startFloorServer(recv.URL, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer fs.close()
	e := floorEvent{Event: "message.new", Data: []byte(`{"seq":1}`)}
	if err := fs.deliver(context.Background(), "floor_1_0", e); err != nil || calls.Load() != 2 {
		t.Errorf("deliver = %v after %d calls; want nil after 2", err, calls.Load())
	}
	if err := fs.deliver(context.Background(), "floor_2_0", e); err == nil || calls.Load() != 3 {
		t.Errorf("deliver to a 500 = %v after %d calls; want an error after 3", err, calls.Load())
	}
}
