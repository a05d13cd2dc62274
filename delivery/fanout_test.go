package delivery

import (
	"strconv"
	"testing"
	"time"

	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/store/storetest"
)

// TestWakeAfterSendInAFanOut checks when a finished send wakes the loop
// (issue 13, item 6). In a fan-out every webhook has one send in flight,
// always below half its cap: waking on each such send leased the fan-out
// one or two deliveries a transaction. The loop wakes when a batch of
// workers is free past the share a lone owner leaves free, when a
// webhook's in-flight count crosses half its cap, when an owner falls below
// its share, and whenever the pool is at half or less.
func TestWakeAfterSendInAFanOut(t *testing.T) {
	d := NewDispatcher(DispatcherConfig{Workers: 256, PerWebhook: 64}) // PerOwner 64
	for _, c := range []struct {
		inFlight, left, ownerLeft int
		want                      bool
	}{
		{inFlight: 191, left: 0, ownerLeft: 191, want: false},  // a fan-out's send, 65 free: a lease could take 1
		{inFlight: 161, left: 0, ownerLeft: 161, want: false},  // 95 free
		{inFlight: 160, left: 0, ownerLeft: 160, want: true},   // 96 free: 32 past the kept share
		{inFlight: 200, left: 32, ownerLeft: 200, want: true},  // the webhook crossed half its cap
		{inFlight: 200, left: 31, ownerLeft: 200, want: false}, // already below it: woken at the crossing
		{inFlight: 200, left: 10, ownerLeft: 63, want: true},   // the owner fell below its share
		{inFlight: 128, left: 0, ownerLeft: 0, want: true},     // half the pool
		{inFlight: 0, left: 0, ownerLeft: 0, want: true},       // idle: a lone delivery's successor starts at once
	} {
		d.inFlight = c.inFlight
		if got := d.wakeAfterSendLocked(c.left, c.ownerLeft); got != c.want {
			t.Errorf("%d in flight, webhook left %d, owner left %d: wake %v, want %v", c.inFlight, c.left, c.ownerLeft, got, c.want)
		}
	}
	// A small pool wakes with any worker free past the kept share.
	small := NewDispatcher(DispatcherConfig{Workers: 4, PerWebhook: 16}) // PerOwner 1
	small.inFlight = 2
	if !small.wakeAfterSendLocked(0, 2) {
		t.Errorf("4 workers, 2 in flight: no wake, want one")
	}
	one := NewDispatcher(DispatcherConfig{Workers: 1, PerWebhook: 16})
	if !one.wakeAfterSendLocked(0, 0) {
		t.Errorf("1 worker, none in flight: no wake, want one")
	}
}

// TestFanOutDeliveredOnceByWakeUps sends a fan-out to 400 webhooks of one
// owner through a small pool, driven by wake-ups alone (the poll is ten
// minutes): every webhook gets its delivery exactly once, and the fan-out
// never waits for the poll.
func TestFanOutDeliveredOnceByWakeUps(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		const hooks = 400
		rc := newReceiver(t, nil)
		u := newUser(t, st)
		var ws []store.Webhook
		for i := range hooks {
			ws = append(ws, newWebhook(t, st, u.ID, rc.URL+"/"+strconv.Itoa(i), "*"))
		}
		publishMany(t, st, u.ID, 1)
		cfg := testConfig(t, st)
		cfg.Workers, cfg.PerWebhook, cfg.BatchSize = 32, 8, 64
		startDispatcher(t, cfg).Wake()
		waitFor(t, "the fan-out to arrive", func() bool { return rc.count() >= hooks })
		for _, w := range ws {
			settled(t, st, w, 1)
		}
		seen := map[string]int{}
		for _, r := range rc.requests() {
			seen[r.Header.Get("X-Webhook-Id")]++
		}
		if len(seen) != hooks {
			t.Fatalf("%d distinct deliveries arrived, want %d", len(seen), hooks)
		}
		for id, n := range seen {
			if n != 1 {
				t.Fatalf("delivery %s arrived %d times, want once", id, n)
			}
		}
	})
}

// TestCompletionWakesOnlyForDueWork checks which recorded batches wake the
// loop (issue 13, item 6): one with a failed or cut-off attempt, which is
// due again, and not one of successes only. Waking on every batch leased a
// lone owner's 10,000-webhook fan-out one delivery a transaction (73 of
// 229 leases took one), the worker freed past the share it leaves free.
func TestCompletionWakesOnlyForDueWork(t *testing.T) {
	ok := completion{out: Outcome{Success: true, StatusCode: 200}}
	failed := completion{out: Outcome{StatusCode: 500}}
	cut := completion{out: Outcome{Canceled: true}}
	for _, c := range []struct {
		name  string
		batch []completion
		want  bool
	}{
		{"successes", []completion{ok, ok, ok}, false},
		{"a failure among successes", []completion{ok, failed, ok}, true},
		{"a send cut off by shutdown", []completion{cut}, true},
	} {
		if got := makesDue(c.batch); got != c.want {
			t.Errorf("%s: wake %v, want %v", c.name, got, c.want)
		}
	}
}

// TestCompletionBatchLingers checks how the completer fills a batch of
// outcomes (issue 13, item 6): with other sends in flight a small batch
// waits for their outcomes, up to the linger batch; with none in flight,
// or once the channel closes, it goes as it is. Recording each outcome as
// it came gave the writer 149 transactions of one outcome in a
// 10,000-webhook fan-out. The linger here is an hour, so a batch that
// returned early for any other reason fails the test.
func TestCompletionBatchLingers(t *testing.T) {
	d := NewDispatcher(DispatcherConfig{Workers: 16})
	d.linger, d.lingerBatch = time.Hour, 4
	c := completion{out: Outcome{Success: true, StatusCode: 200}}

	// Five sends in flight: the first outcome waits for three more,
	// handed over one at a time, and the fifth stays for the next batch.
	// (When the goroutine has handed all four over before fillBatch looks,
	// they are already waiting and all go, as below: the fifth is sent
	// again for the next check.)
	d.inFlight = 5
	go func() {
		for range 4 {
			d.completed <- c
		}
	}()
	got := d.fillBatch([]completion{c})
	if len(got) != 4 && len(got) != 5 {
		t.Fatalf("batch with sends in flight = %d outcomes, want the linger batch of 4 (5 when all were waiting)", len(got))
	}
	if len(got) == 5 {
		d.completed <- c
	}
	// Four of the five sends have ended since.
	d.inFlight = 1
	if got := d.fillBatch([]completion{<-d.completed}); len(got) != 1 {
		t.Fatalf("the fifth outcome, no other send in flight: batch = %d, want 1", len(got))
	}

	// Outcomes already waiting all go, past the linger batch.
	d.inFlight = 7
	for range 6 {
		d.completed <- c
	}
	if got := d.fillBatch([]completion{c}); len(got) != 7 {
		t.Fatalf("batch with 6 outcomes waiting = %d, want 7", len(got))
	}

	// No other send in flight: at once.
	d.inFlight = 1
	if got := d.fillBatch([]completion{c}); len(got) != 1 {
		t.Fatalf("lone outcome = %d, want 1", len(got))
	}

	// Shutdown closes the channel: the batch goes as it is.
	d.inFlight = 5
	close(d.completed)
	if got := d.fillBatch([]completion{c}); len(got) != 1 {
		t.Fatalf("after close = %d, want 1", len(got))
	}
}
