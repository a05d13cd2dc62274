package e2e

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/webhookd/webhookd/store/storetest"
)

// TestE2ETwoProcessesShareOnePostgres runs two webhookd processes on one
// PostgreSQL database, publishes through both, and kills one while it holds
// deliveries in flight. Every event must arrive; while both run, nothing is
// sent twice; afterwards, only the deliveries the killed process held may
// arrive a second time, when the survivor takes them over after their
// leases expire.
func TestE2ETwoProcessesShareOnePostgres(t *testing.T) {
	t.Parallel()
	db := storetest.PostgresURL(t)
	const events, passFirst, perWebhook = 40, 10, 3
	rc := newGatedReceiver(t, passFirst)
	// The receiver holds sends until both processes are at their cap and
	// one is killed, which on a loaded machine can take seconds; the
	// delivery timeout must outlast that hold, or the survivor's held sends
	// time out and are rightly retried, which this test would count as
	// duplicates. The lease outlasts the timeout and is short enough for
	// the survivor to take the dead process's deliveries over within the
	// test.
	args := []string{"--max-in-flight-per-webhook", strconv.Itoa(perWebhook), "--delivery-timeout", "30s",
		"--lease-duration", "32s", "--retry-schedule", "200ms,200ms,200ms,200ms,200ms"}
	a := startServe(t, db, adminEnv, args...)
	b := startServe(t, db, adminEnv, args...)
	apiA := api{t: t, base: a.URL, token: login(t, a.URL, adminEmail, adminPassword)}
	apiB := api{t: t, base: b.URL, token: apiA.token} // one database, one JWT secret
	hook := createWebhook(t, apiA, rc.URL)
	for i := range events {
		target := apiA
		if i%2 == 1 {
			target = apiB
		}
		target.json(http.MethodPost, "/api/v1/events", fmt.Sprintf(`{"event":"message.new","data":{"n":%d}}`, i), http.StatusAccepted, nil)
	}

	// Both processes fill their cap of sends, held by the receiver.
	waitFor(t, 30*time.Second, func() (bool, string) {
		n := len(rc.heldIDs())
		return n == 2*perWebhook, fmt.Sprintf("%d deliveries held (both processes at their cap), have %d", 2*perWebhook, n)
	})
	seen := map[string]int{}
	for _, arr := range rc.all() {
		seen[arr.id]++
	}
	for id, n := range seen {
		if n > 1 {
			t.Errorf("delivery %s sent %d times while both processes were healthy", id, n)
		}
	}
	heldBefore := rc.heldIDs()
	b.signal(syscall.SIGKILL)
	b.wait(30 * time.Second)
	// The killed process's held requests see their sender go; the
	// survivor's stay held.
	waitFor(t, 30*time.Second, func() (bool, string) {
		n := len(rc.heldIDs())
		return n == perWebhook, fmt.Sprintf("%d deliveries still held by the survivor, have %d", perWebhook, n)
	})
	heldAfter := rc.heldIDs()
	killedHeld := map[string]bool{}
	for _, id := range heldBefore {
		if !slices.Contains(heldAfter, id) {
			killedHeld[id] = true
		}
	}
	t.Logf("killed one process holding %d deliveries; the survivor held %d", len(killedHeld), len(heldAfter))
	rc.release()

	rc.waitAnsweredWithin(t, events, 90*time.Second)
	waitSettledFor(t, apiA, hook.ID, events, 90*time.Second)
	answered := map[string]int{}
	arrivals := map[string]int{}
	for _, arr := range rc.all() {
		arrivals[arr.id]++
		if arr.answered {
			answered[arr.id]++
		}
	}
	for id, n := range arrivals {
		if n > 1 && !killedHeld[id] {
			t.Errorf("delivery %s arrived %d times but the killed process did not hold it", id, n)
		}
		if answered[id] != 1 {
			t.Errorf("delivery %s answered %d times, want exactly once", id, answered[id])
		}
	}
	rc.checkStableIDs(t)
}

// waitSettledFor is waitSettled with a longer deadline, for waits that
// include a lease expiring.
func waitSettledFor(t testing.TB, a api, hookID string, n int64, timeout time.Duration) statsWire {
	t.Helper()
	var s statsWire
	waitFor(t, timeout, func() (bool, string) {
		s = stats(t, a, hookID)
		return s.PendingDeliveries == 0 && s.SuccessfulDeliveries >= n,
			fmt.Sprintf("0 pending and %d successful deliveries in the stats, have %+v", n, s)
	})
	return s
}
